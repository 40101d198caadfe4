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

import httpx
import pytest

TOKEN = "entrypoint-bot-token-5f2c9e"
STARTUP_TIMEOUT_S = 10.0
ENVIRONS = {
    "ollama": {},
    "discord": {"SOPDRILL_DISCORD_TOKEN": TOKEN},
    "signal": {"SOPDRILL_SIGNAL_NUMBER": "+15550100001"},
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


# discord is started by the token test below, which checks the same things.
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


@pytest.mark.parametrize(
    ("service", "extra", "line"),
    [
        ("discord", {}, "discord: SOPDRILL_DISCORD_TOKEN is not set; it is required"),
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
