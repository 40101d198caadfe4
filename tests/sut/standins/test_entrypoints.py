"""``python -m sut.standins.<name>`` as supervisord runs it: env config, JSON logs, no secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

TOKEN = "entrypoint-bot-token-5f2c9e"
STARTUP_TIMEOUT_S = 10.0
ENVIRONS = {
    "ollama": {},
    "discord": {"SOPDRILL_DISCORD_TOKEN": TOKEN},
    "signal": {"SOPDRILL_SIGNAL_NUMBER": "+15550100001"},
    "gitea": {"SOPDRILL_GITEA_TOKEN": TOKEN},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environ(extra: dict[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SOPDRILL_")}
    return {**inherited, **extra}


@contextmanager
def _running(service: str, extra: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Start the stand-in, wait for /healthz, yield its URL and (after exit) its stdout lines."""
    port = _free_port()
    environ = _environ({**extra, "SOPDRILL_PORT": str(port)})
    process = subprocess.Popen(
        [sys.executable, "-m", f"sut.standins.{service}"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    stdout: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                out, err = process.communicate(timeout=5)
                pytest.fail(f"{service} did not answer /healthz on {url}; stderr: {err[-2000:]}")
            time.sleep(0.02)
        yield url, stdout
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        stdout.extend(out.splitlines())


# discord and gitea are started by their token tests below, which check the same things.
@pytest.mark.parametrize("service", ["ollama", "signal"])
def test_module_starts_from_the_environment_and_logs_json_lines(service: str) -> None:
    with _running(service, ENVIRONS[service]) as (url, stdout):
        assert httpx.get(f"{url}/_fault", timeout=5).json()["mode"] == "ok"
    records = [json.loads(line) for line in stdout]
    assert records, "the service logged nothing to stdout"
    assert all(record["service"] == service for record in records)
    assert any(record["msg"] == "starting" for record in records)


def test_discord_never_prints_its_bot_token() -> None:
    with (
        _running("discord", ENVIRONS["discord"]) as (url, stdout),
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        auth = {"Authorization": f"Bot {TOKEN}"}
        channel = client.post(
            "/api/v10/users/@me/channels", json={"recipient_id": "42"}, headers=auth
        ).json()
        posted = client.post(
            f"/api/v10/channels/{channel['id']}/messages",
            json={"content": f"the token is {TOKEN}"},
            headers=auth,
        )
        assert posted.status_code == 200
        refused = client.post(
            "/api/v10/users/@me/channels",
            json={"recipient_id": "42"},
            headers={"Authorization": f"Bot {TOKEN}-forged"},
        )
        assert refused.status_code == 401
    records = [json.loads(line) for line in stdout]
    assert all(record["service"] == "discord" for record in records)
    assert any(record["msg"] == "starting" for record in records)
    assert any(record["msg"] == "message posted" for record in records)
    assert TOKEN not in "\n".join(stdout)


def test_gitea_keeps_its_issues_across_a_restart_and_never_prints_its_token(
    tmp_path: Path,
) -> None:
    # emergency-procedures.md scenario 3, STEP 2 and 3: Gitea restarted, its data intact.
    environ = {**ENVIRONS["gitea"], "SOPDRILL_GITEA_DATA": str(tmp_path / "gitea")}
    issues = "/api/v1/repos/ops/incidents/issues"
    auth = {"Authorization": f"token {TOKEN}"}
    with (
        _running("gitea", environ) as (url, before),
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        filed = client.post(issues, json={"title": "Gitea down", "body": "P1"}, headers=auth)
        assert filed.status_code == 201, filed.text
        assert client.get(issues, params={"token": TOKEN}).json()[0]["title"] == "Gitea down"
        refused = client.get(issues, headers={"Authorization": f"token {TOKEN}-forged"})
        assert refused.status_code == 401
    with (
        _running("gitea", environ) as (url, after),
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        kept = client.get(f"{issues}/{filed.json()['number']}", headers=auth).json()
    fields = ("id", "number", "title", "body", "state", "created_at")
    assert {k: kept[k] for k in fields} == {k: filed.json()[k] for k in fields}
    records = [json.loads(line) for line in before + after]
    assert all(record["service"] == "gitea" for record in records)
    assert [record["msg"] for record in records].count("starting") == 2
    assert any(record["msg"] == "issue created" for record in records)
    assert TOKEN not in "\n".join(before + after)


@pytest.mark.parametrize(
    ("service", "extra", "line"),
    [
        ("discord", {}, "discord: SOPDRILL_DISCORD_TOKEN is not set; it is required"),
        ("gitea", {}, "gitea: SOPDRILL_GITEA_TOKEN is not set; it is required"),
        (
            "signal",
            {**ENVIRONS["signal"], "SOPDRILL_TIME_SCALE": "fast"},
            "SOPDRILL_TIME_SCALE: expected a positive number, got 'fast'",
        ),
    ],
)
def test_bad_setting_exits_2_with_one_line_naming_it(
    service: str, extra: dict[str, str], line: str
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", f"sut.standins.{service}"],
        env=_environ({**extra, "SOPDRILL_PORT": str(_free_port())}),
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [line]
