"""``python -m sut.dispatcher`` as a process: pidfile, JSON logs, heartbeats, no leaked key."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from sop.chain import chain_entry
from sop.wire import verify_envelope
from sut.dispatcher.app import create_app

REPO = Path(__file__).resolve().parents[3]
KEY = "process-test-key-7b3f0c51"
OPERATOR = "process-test-operator-2a9d"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_service_writes_its_pidfile_beats_and_logs_json_without_the_key(
    serve, tmp_path, wait_for, fake_agent, fake_provider, callers
):
    agent, provider = fake_agent, fake_provider
    port = free_port()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOPDRILL_")},
        "SOPDRILL_PORT": str(port),
        "SOPDRILL_HMAC_KEY": KEY,
        "SOPDRILL_OPERATOR_TOKEN": OPERATOR,
        "SOPDRILL_PROVIDER_URL": serve(provider.app()),
        "SOPDRILL_STATE_DIR": str(tmp_path / "state"),
        "SOPDRILL_TIME_SCALE": "600",
        "SOPDRILL_AGENTS": f"ops={serve(agent.app())}",
        "SOPDRILL_DISPATCHER_ID": "control-1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sut.dispatcher"],
        cwd=REPO,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or healthy(url), "the dispatcher's /healthz")
        assert process.poll() is None
        pid = int((tmp_path / "state" / "dispatcher.pid").read_text())
        assert pid == process.pid
        beat = wait_for(lambda: agent.envelopes("heartbeat")[:1], "a heartbeat")[0]
        assert verify_envelope(KEY.encode(), beat).dispatcher_id == "control-1"
        # Exercise the paths that log: a task, an upload, an incident, a refused request.
        auth = callers(KEY, OPERATOR)
        task = {"agent": "ops", "action": "a", "target": "t"}
        httpx.post(f"{url}/v1/tasks", json=task, auth=auth)
        entry = chain_entry(None, {"kind": "marker"})
        httpx.post(f"{url}/v1/emergency-log", json={"agent": "ops", "entries": [entry]}, auth=auth)
        httpx.post(f"{url}/v1/agents", json={"name": KEY, "url": "x"}, auth=auth)
        # And one refused for want of credentials: logged without any.
        httpx.post(f"{url}/v1/tasks", json=task)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit says what stopped it.
    assert process.returncode in (0, -signal.SIGTERM), err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = [line["msg"] for line in lines]
    assert "dispatcher starting" in messages
    assert "task sent" in messages
    assert "emergency log uploaded" in messages
    assert "Application shutdown complete." in messages
    assert {line["service"] for line in lines} == {"dispatcher"}
    assert KEY not in out
    assert KEY not in err


def test_a_bad_environment_exits_2_with_one_line_naming_the_variable(tmp_path):
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOPDRILL_")},
        "SOPDRILL_PORT": str(free_port()),
        "SOPDRILL_PROVIDER_URL": "http://127.0.0.1:9",
        "SOPDRILL_STATE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sut.dispatcher"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "dispatcher: SOPDRILL_HMAC_KEY is not set; it is required"
    ]
    assert not (tmp_path / "dispatcher.pid").exists()


def test_no_log_record_ever_carries_the_hmac_key(
    serve, tmp_path, wait_for, caplog, fake_agent, fake_provider, make_config, callers
):
    # Raw records, before any redaction: the key must never be handed to a logger at all.
    caplog.set_level(logging.DEBUG)
    config = make_config(
        tmp_path,
        serve(fake_provider.app()),
        SOPDRILL_AGENTS=f"ops={serve(fake_agent.app())}",
    )
    key = config.hmac_key.decode()
    client = httpx.Client(base_url=serve(create_app(config)), trust_env=False, auth=callers())
    wait_for(lambda: fake_agent.envelopes("heartbeat"), "a heartbeat")
    fake_provider.mode = "rate_limit"
    wait_for(lambda: client.get("/v1/status").status_code == 429, "rate limiting")
    fake_provider.mode = "ok"
    fake_agent.status = 401
    client.post("/v1/tasks", json={"agent": "ops", "action": "a", "target": "t"})
    client.post("/v1/agents", json={"name": "dead", "url": "http://127.0.0.1:9"})
    wait_for(
        lambda: any(getattr(r, "fields", {}).get("agent") == "dead" for r in caplog.records),
        "the dead agent's delivery failure to be logged",
    )
    client.close()
    messages = {r.getMessage() for r in caplog.records}
    assert {"heartbeat loop started", "provider status changed", "task sent"} <= messages
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in repr(vars(record))
