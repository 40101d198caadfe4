"""``python -m sut.agent`` as a process: a bad environment is one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
KEY = "main-test-key-3e91b2"
START_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(tmp_path: Path, **env: str | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPDRILL_")}
    merged = {
        **base,
        "SOPDRILL_PORT": str(free_port()),
        "SOPDRILL_HMAC_KEY": KEY,
        "SOPDRILL_DISPATCHER_URL": f"http://127.0.0.1:{free_port()}",
        "SOPDRILL_EMERGENCY_LOG": str(tmp_path / "emergency.log"),
        **env,
    }
    return {k: v for k, v in merged.items() if v is not None}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SOPDRILL_HMAC_KEY": None}, "SOPDRILL_HMAC_KEY"),
        ({"SOPDRILL_PORT": "http"}, "SOPDRILL_PORT"),
        ({"SOPDRILL_TIME_SCALE": "fast"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_DISPATCHER_URL": "dispatcher:8701"}, "SOPDRILL_DISPATCHER_URL"),
    ],
)
def test_a_bad_environment_exits_2_with_one_line_and_no_traceback(tmp_path, env, variable):
    done = subprocess.run(
        [sys.executable, "-m", "sut.agent"],
        cwd=REPO,
        env=environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("agent: ")
    assert not lines[0].startswith("agent: agent: "), "the service is named once"
    assert variable in lines[0]
    assert "Traceback" not in done.stderr
    assert KEY not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "emergency.log").exists()


def test_a_good_environment_serves_the_state_contract_and_stops_on_sigterm(tmp_path):
    env = environment(tmp_path)
    url = f"http://127.0.0.1:{env['SOPDRILL_PORT']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "sut.agent"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        state = None
        while state is None:
            assert process.poll() is None, "the agent exited while starting"
            assert time.monotonic() < deadline, "the agent never answered /v1/state"
            try:
                state = httpx.get(f"{url}/v1/state", timeout=0.5, trust_env=False).json()
            except httpx.HTTPError:
                time.sleep(0.02)
        # docs/architecture.md: GET /v1/state answers at least these keys.
        assert {"mode", "since", "trigger", "detected_at", "policy_valid"} <= set(state)
        assert state["mode"] in ("online", "suspect")
        assert state["policy_valid"] is True
        assert httpx.get(f"{url}/healthz", trust_env=False).json()["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode in (0, -signal.SIGTERM), err
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert records
    assert {r["service"] for r in records} == {"agent"}
    assert KEY not in out
    assert KEY not in err
