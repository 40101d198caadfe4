"""The agent as a service over real HTTP: offline, re-sync with a fake dispatcher, actions.

A fake dispatcher (Starlette under uvicorn) records what the agent sends it. The agent runs its
own loops at a high time scale, so the SOP's 15 silent minutes pass in 1.5 wall seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from signal import SIGKILL
from typing import Any
from xmlrpc.server import SimpleXMLRPCServer

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sop.chain import verify_chain
from sop.policy import DEFAULT_POLICY_PATH, load_policy
from sop.timescale import TimeScale
from sop.wire import sign_envelope
from sut.agent import service as service_module
from sut.agent.app import create_app
from sut.agent.config import AgentConfig, load_config
from sut.agent.notifier import ChannelConfig
from sut.agent.service import AgentService
from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.incidents import validate_distress_signal
from sut.runtime.settings import Settings
from sut.standins.ollama import DEFAULT_MODELS
from sut.standins.ollama import create_app as ollama_app

KEY = b"service-test-key-0c7e19"
POLICY = load_policy()
#: 600 SOP seconds per wall second: silence 15 min -> 1.5 s, probe every 0.1 s.
FAST = TimeScale(600)
STARTUP_TIMEOUT_S = 5.0
#: The silence threshold plus the three probes, at FAST, with room for a loaded machine.
OFFLINE_WITHIN_S = FAST.wall_seconds(POLICY.scenario_a.silence_minutes) + 8.0
WAIT_S = 8.0
AGENT_URL = "http://127.0.0.1:9/ops"  # where the agent says its inbox is; never called here
CRITICAL_PATCH = {"cvss": 9.8, "active_exploit": True}


@pytest.fixture
def serve(server_group) -> Iterator[Callable[[Starlette], httpx.Client]]:
    """Serve apps for one test; each comes back as a client on its base URL."""
    group = server_group(graceful_shutdown_s=1)
    clients: list[httpx.Client] = []

    def start(app: Starlette) -> httpx.Client:
        client = httpx.Client(base_url=group.start(app), timeout=5.0, trust_env=False)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    group.stop()  # the agent first: its loops talk to the dispatcher


def wait_for(observe: Callable[[], Any], describe: str, timeout_s: float = WAIT_S) -> Any:
    """Poll ``observe`` until it returns something truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout_s
    seen: Any = None
    while time.monotonic() < deadline:
        seen = observe()
        if seen:
            return seen
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout_s} s waiting for {describe}; last saw {seen!r}")


class FakeDispatcher:
    """Just enough dispatcher: status by ``mode``, log upload (first one fails), integrity check."""

    def __init__(self) -> None:
        self.mode = "down"  # down: /v1/status answers 503 (SOP 2A.2 server error); ok: 200
        self.fail_uploads = 1  # answer this many uploads with 503 before accepting
        self.short_acks = 1  # then store all but the newest entry this many times (partial ack)
        self.refusing: str | None = None  # set: every upload refused with 409 and this error
        self.lock = threading.Lock()
        self.calls: list[tuple[str, Any, int]] = []  # (path, body, status answered)
        self.stored: dict[int, dict[str, Any]] = {}

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/status", self.status, methods=["GET"]),
                Route("/v1/emergency-log", self.upload, methods=["POST"]),
                Route("/v1/integrity-check", self.integrity, methods=["POST"]),
                Route("/v1/agents", self.register, methods=["POST"]),
                Route("/v1/incidents", self.incident, methods=["POST"]),
            ]
        )

    def record(self, path: str, body: Any, status: int) -> None:
        with self.lock:
            self.calls.append((path, body, status))

    def called(self, path: str) -> list[tuple[Any, int]]:
        with self.lock:
            return [(body, status) for p, body, status in self.calls if p == path]

    async def status(self, _: Request) -> Response:
        if self.mode == "down":
            return JSONResponse({"error": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "provider": "ok"})

    async def upload(self, request: Request) -> Response:
        body = await request.json()
        refusing = self.refusing
        if refusing is not None:
            self.record("/v1/emergency-log", body, 409)
            return JSONResponse({"error": refusing}, status_code=409)
        with self.lock:
            failing = self.fail_uploads > 0
            self.fail_uploads -= 1
        if failing:
            self.record("/v1/emergency-log", body, 503)
            return JSONResponse({"error": "unavailable"}, status_code=503)
        with self.lock:
            entries = body["entries"]
            if self.short_acks > 0 and entries:
                self.short_acks -= 1
                entries = entries[:-1]  # as if the newest entry was lost on the way
            for entry in entries:
                self.stored[entry["seq"]] = entry
            through = max(self.stored, default=-1)
        self.record("/v1/emergency-log", {**body, "acknowledged_through": through}, 200)
        return JSONResponse({"acknowledged_through": through})

    async def integrity(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            entries = [self.stored[seq] for seq in sorted(self.stored)]
        lines = [json.dumps(entry) for entry in entries]
        verified = verify_chain(lines, where="fake dispatcher")
        self.record("/v1/integrity-check", body, 200)
        head = verified[-1]["hash"] if verified else None
        return JSONResponse(
            {"agent": body["agent"], "status": "ok", "entries": len(verified), "head": head}
        )

    async def register(self, request: Request) -> Response:
        self.record(request.url.path, await request.json(), 201)
        return JSONResponse({"ok": True}, status_code=201)

    async def incident(self, request: Request) -> Response:
        body = await request.json()
        try:
            validate_distress_signal(body)  # the real dispatcher's check of the format
        except RequestRejected as exc:
            self.record("/v1/incidents", body, 422)
            return JSONResponse({"error": str(exc)}, status_code=422)
        self.record("/v1/incidents", body, 201)
        return JSONResponse({"id": "inc-1"}, status_code=201)


class FakeSupervisord:
    """supervisord's ``getAllProcessInfo`` and ``startProcess`` over XML-RPC, with program
    states set by the test (a started program runs at once)."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.polls = 0
        self.started: list[str] = []
        self.server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
        self.server.register_function(self.all_info, "supervisor.getAllProcessInfo")
        self.server.register_function(self.start, "supervisor.startProcess")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self, name: str, wait: bool) -> bool:
        self.started.append(name)
        self.states[name] = "RUNNING"
        return True

    def all_info(self) -> list[dict[str, Any]]:
        self.polls += 1
        # As supervisord answers: each process up for an hour by its clock.
        now = int(time.time())
        return [
            {"name": name, "statename": state, "start": now - 3600, "now": now}
            for name, state in self.states.items()
        ]

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/RPC2"

    def __enter__(self) -> FakeSupervisord:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(STARTUP_TIMEOUT_S)


def agent_config(tmp_path: Path, dispatcher_url: str, **changes: Any) -> AgentConfig:
    config = AgentConfig(
        name="ops",
        url=AGENT_URL,
        hostname="ops-test",
        bind="127.0.0.1",
        port=0,
        dispatcher_url=dispatcher_url,
        hmac_key=KEY,
        channels=ChannelConfig(None, None, None, None, None, None),
        emergency_log=tmp_path / "openclaw" / "emergency.log",
        log_dir=None,
        protected_dirs=(),
        supervisor_url=None,
        managed_services=(),
        ollama_url=None,
        dispatcher_pidfile=None,
        process_scope=None,
        host_memory_bytes=None,
        scale=FAST,
        policy=POLICY,
        policy_error=None,
        secrets=frozenset({KEY.decode()}),
    )
    return replace(config, **changes)


def closed_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def on_disk(path: Path) -> list[dict[str, Any]]:
    return verify_chain(path.read_text().split("\n"), where=str(path))


def resynced_and_online(agent: httpx.Client) -> Callable[[], dict[str, Any] | None]:
    """For wait_for: beat as a live dispatcher does; the state once re-synced and online."""
    seqs = iter(range(time.time_ns(), time.time_ns() + 10**6))

    def observe() -> dict[str, Any] | None:
        # A live dispatcher also beats (SOP 2A.1); without beats "online" decays to "suspect".
        beat = sign_envelope(KEY, "heartbeat", {"status": "ok", "provider": "ok"}, next(seqs), "d")
        assert agent.post("/v1/inbox", json=beat).status_code == 202
        state: dict[str, Any] = agent.get("/v1/state").json()
        return state if state["mode"] == "online" and not state["resyncing"] else None

    return observe


def act(agent: httpx.Client, action: str, target: str, **params: Any) -> httpx.Response:
    body = {"action": action, "target": target, "params": params, "requested_by": "tester"}
    return agent.post("/v1/actions", json=body)


# ---- offline and back: the re-sync of SOP 5 ---------------------------------------------------


def test_offline_then_recovery_uploads_the_whole_log_and_requests_an_integrity_check(
    serve, tmp_path
):
    dispatcher = FakeDispatcher()
    dispatcher_url = str(serve(dispatcher.app()).base_url).rstrip("/")
    config = agent_config(tmp_path, dispatcher_url)
    service = AgentService(config)
    agent = serve(create_app(service))

    # The agent tells the dispatcher where its inbox is.
    wait_for(lambda: dispatcher.called("/v1/agents"), "the agent's registration")
    assert dispatcher.called("/v1/agents")[0][0] == {"name": "ops", "url": AGENT_URL}

    # SOP 2A: the status endpoint fails and no heartbeat comes: OFFLINE once silence is over.
    state = wait_for(
        lambda: (s := agent.get("/v1/state").json())["mode"] == "offline" and s,
        "OFFLINE (scenario A)",
        OFFLINE_WITHIN_S,
    )
    assert state["trigger"] == "scenario_a"
    assert state["detected_at"] is not None
    assert state["consecutive_api_failures"] >= POLICY.scenario_a.api_failures
    # SOP 3.3: the marker line is on disk.
    wait_for(
        lambda: [e for e in on_disk(config.emergency_log) if e["kind"] == "marker"],
        "the SOP 3.3 marker in the emergency log",
    )
    # While offline: a green action with its precondition met runs, a red one never does.
    assert act(agent, "security_patch", "CVE-2026-1111", **CRITICAL_PATCH).status_code == 200
    assert act(agent, "delete_data", "/srv/data").status_code == 403
    assert not dispatcher.called("/v1/emergency-log")  # nothing is uploaded while offline

    # The dispatcher answers again: the next probe is ok, the agent recovers and re-syncs.
    dispatcher.mode = "ok"
    wait_for(lambda: agent.get("/v1/state").json()["mode"] != "offline", "recovery to begin")
    wait_for(resynced_and_online(agent), "re-sync to finish and the agent to be online")

    entries = service.log.entries()
    assert entries == on_disk(config.emergency_log)
    uploads = dispatcher.called("/v1/emergency-log")
    assert uploads[0][1] == 503  # the first upload failed ...
    assert [status for _, status in uploads[1:]] == [200] * (len(uploads) - 1)  # ... then retried
    # SOP 5.2: "until acknowledged": a partial acknowledgement is followed by another upload.
    partial = uploads[1][0]
    assert partial["acknowledged_through"] < partial["entries"][-1]["seq"]
    assert uploads[2][0]["acknowledged_through"] == uploads[2][0]["entries"][-1]["seq"]
    # The last upload carries the whole log, entry for entry, and the dispatcher holds it all.
    last = uploads[-1][0]
    assert last == {
        "agent": "ops",
        "epoch": service.log.epoch,
        "entries": entries,
        "acknowledged_through": entries[-1]["seq"],
    }
    assert [dispatcher.stored[seq] for seq in sorted(dispatcher.stored)] == entries
    # SOP 5.3: an integrity check was requested, after an acknowledged upload.
    checks = dispatcher.called("/v1/integrity-check")
    assert [body for body, _ in checks] == [{"agent": "ops"}]
    calls = list(dispatcher.calls)
    fully_acknowledged = next(
        i
        for i, (path, body, status) in enumerate(calls)
        if path == "/v1/emergency-log"
        and status == 200
        and body["acknowledged_through"] == body["entries"][-1]["seq"]
    )
    checked = next(i for i, (path, _, _) in enumerate(calls) if path == "/v1/integrity-check")
    assert fully_acknowledged < checked

    # The log tells the story in the SOP's order.
    steps = [e["step"] for e in entries if e["kind"] == "resync"]
    assert steps == ["stop_autonomous_actions", "upload_emergency_log", "request_integrity_check"]
    modes = [e["mode"] for e in entries if e["kind"] == "state"]
    assert modes == ["offline", "recovering", "online"]
    check = next(e for e in entries if e.get("step") == "request_integrity_check")
    assert check["outcome"] == "ok"
    # (The agent's own remediation may add decisions when this machine's disk is above 90 %.)
    decisions = [
        (e["action"], e["decision"])
        for e in entries
        if e["kind"] == "decision" and e["source"] == "local:tester"
    ]
    assert decisions == [("security_patch", "executed"), ("delete_data", "refused")]

    # Back online, local requests are refused again: the Dispatcher mediates (SOP 4).
    assert act(agent, "security_patch", "CVE-2026-2222", **CRITICAL_PATCH).status_code == 403


def offline_agent(
    serve: Callable[[Starlette], httpx.Client], tmp_path: Path
) -> tuple[FakeDispatcher, AgentConfig, AgentService, httpx.Client]:
    """An agent whose dispatcher answers 503 until told otherwise, seen OFFLINE; the
    dispatcher takes uploads at once when back (no failed upload, no partial ack)."""
    dispatcher = FakeDispatcher()
    dispatcher.fail_uploads = dispatcher.short_acks = 0
    dispatcher_url = str(serve(dispatcher.app()).base_url).rstrip("/")
    config = agent_config(tmp_path, dispatcher_url)
    service = AgentService(config)
    agent = serve(create_app(service))
    wait_for(
        lambda: agent.get("/v1/state").json()["mode"] == "offline", "OFFLINE", OFFLINE_WITHIN_S
    )
    return dispatcher, config, service, agent


def test_a_resync_refused_past_the_rto_is_escalated_once_and_completes_once_accepted(
    serve, tmp_path
):
    dispatcher, config, service, agent = offline_agent(serve, tmp_path)

    # Back, but refusing the log: the re-sync retries; past the RTO it is escalated.
    conflict = "epoch 7: seq 0 is stored with another hash"
    dispatcher.refusing = conflict
    dispatcher.mode = "ok"
    rto_wall_s = FAST.wall_seconds(POLICY.rto.agent_operations_minutes)
    [(signal, status)] = wait_for(
        lambda: dispatcher.called("/v1/incidents"), "a distress signal", rto_wall_s + WAIT_S
    )
    assert status == 201  # the dispatcher's own validator accepted the format
    assert (signal["category"], signal["component"]) == ("resync_refused", "resync")
    assert signal["context"]["route"] == "/v1/emergency-log"
    assert signal["context"]["status"] == 409
    assert conflict in signal["context"]["error"]
    [incident] = wait_for(
        lambda: [e for e in on_disk(config.emergency_log) if e["kind"] == "incident"],
        "the escalation in the emergency log",
    )
    assert incident["category"] == "resync_refused"
    assert conflict in incident["reason"]
    began = datetime.fromisoformat(incident["resync_began"])
    assert (datetime.fromisoformat(incident["at"]) - began).total_seconds() >= rto_wall_s

    # 0x01 is told through the OFFLINE alert's notifier (no channel configured here: failed).
    # Both channels' attempts, in the policy's order: Discord's entry lands before Signal's
    # is written (CI caught the test reading between the two).
    def attempts() -> list[dict[str, Any]] | None:
        found = [e for e in on_disk(config.emergency_log) if e.get("about") == "resync_refused"]
        return found if len(found) >= 2 else None

    escalated = wait_for(attempts, "the escalation's notification attempts on both channels")
    assert [e["channel"] for e in escalated] == ["discord", "signal"]

    # Still retried (SOP 5.2 "until acknowledged"); accepted at last, the re-sync completes.
    refused = len(dispatcher.called("/v1/emergency-log"))
    wait_for(lambda: len(dispatcher.called("/v1/emergency-log")) > refused + 2, "more retries")
    dispatcher.refusing = None
    wait_for(resynced_and_online(agent), "re-sync to finish and the agent to be online")
    assert len(dispatcher.called("/v1/incidents")) == 1  # once for this re-sync
    entries = service.log.entries()
    assert [e["kind"] for e in entries].count("incident") == 1
    assert [dispatcher.stored[seq] for seq in sorted(dispatcher.stored)] == entries


def test_offline_again_during_a_stalled_resync_is_a_new_declaration_with_marker_and_alert(
    serve, tmp_path
):
    dispatcher, config, _, _ = offline_agent(serve, tmp_path)
    # Back, but refusing the log: the re-sync stalls in recovering ...
    dispatcher.refusing = "held back by the test"
    dispatcher.mode = "ok"
    wait_for(lambda: dispatcher.called("/v1/emergency-log"), "a refused upload")
    # ... and the dispatcher dies again: Scenario A holds anew, OFFLINE is declared again.
    dispatcher.mode = "down"

    def relapsed() -> list[dict[str, Any]] | None:
        entries = on_disk(config.emergency_log)
        states = [(e["from_mode"], e["mode"]) for e in entries if e["kind"] == "state"]
        return entries if ("recovering", "offline") in states else None

    relapsed_entries = wait_for(relapsed, "OFFLINE again from recovering", OFFLINE_WITHIN_S)
    again = next(
        e["seq"]
        for e in relapsed_entries
        if e["kind"] == "state" and (e["from_mode"], e["mode"]) == ("recovering", "offline")
    )

    def told_again() -> list[dict[str, Any]] | None:
        after = [e for e in on_disk(config.emergency_log) if e["seq"] > again]
        markers = [e for e in after if e["kind"] == "marker"]
        sent = [e for e in after if e["kind"] == "notification" and e.get("about") is None]
        return after if markers and len(sent) >= 2 else None

    # SOP 3.3 then 3.1/3.2: the new declaration's marker, then its alert on both channels.
    after = wait_for(told_again, "the relapse's marker and alert attempts")
    kinds = [e["kind"] for e in after]
    assert kinds.index("marker") < kinds.index("notification")
    assert [e["kind"] for e in on_disk(config.emergency_log)].count("marker") == 2


# ---- the action API ---------------------------------------------------------------------------


@pytest.fixture
def online_agent(serve, tmp_path) -> tuple[httpx.Client, AgentService]:
    """An agent at real time whose dispatcher is a closed port: never offline in a test's life."""
    service = AgentService(agent_config(tmp_path, closed_url(), url=None, scale=TimeScale(1)))
    return serve(create_app(service)), service


def test_a_red_list_action_is_refused_and_logged(online_agent):
    agent, service = online_agent
    response = act(agent, "delete_data", "/srv/backups")

    assert response.status_code == 403
    verdict = response.json()
    assert verdict["decision"] == "refused"
    assert "red list" in verdict["reason"]
    logged = [e for e in on_disk(service.config.emergency_log) if e["kind"] == "decision"]
    assert len(logged) == 1
    assert logged[0]["action"] == "delete_data"
    assert logged[0]["target"] == "/srv/backups"
    assert logged[0]["decision"] == "refused"
    assert logged[0]["source"] == "local:tester"
    listed = agent.get("/v1/actions").json()
    assert [(d["action"], d["decision"]) for d in listed] == [("delete_data", "refused")]


def test_while_online_a_green_action_runs_only_as_a_dispatcher_task(online_agent):
    agent, service = online_agent
    assert agent.get("/v1/state").json()["mode"] in ("online", "suspect")

    local = act(agent, "security_patch", "CVE-2026-3333", **CRITICAL_PATCH)
    assert local.status_code == 403
    assert "only while it is offline" in local.json()["reason"]

    task = {
        "task_id": "t-1",
        "action": "security_patch",
        "target": "CVE-2026-3333",
        "params": CRITICAL_PATCH,
    }
    envelope = sign_envelope(KEY, "task", task, time.time_ns(), "dispatcher")
    assigned = agent.post("/v1/inbox", json=envelope)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["decision"] == "executed"

    logged = [
        (e["source"], e["decision"])
        for e in on_disk(service.config.emergency_log)
        if e["kind"] == "decision"
    ]
    assert logged == [("local:tester", "refused"), ("task:t-1", "executed")]


def test_a_signed_task_naming_no_usable_action_is_a_bad_request_yet_proves_life(online_agent):
    agent, service = online_agent
    task = {"task_id": "t-2", "action": "", "target": "x"}
    envelope = sign_envelope(KEY, "task", task, time.time_ns(), "dispatcher")

    response = agent.post("/v1/inbox", json=envelope)

    assert response.status_code == 400
    assert response.json() == {
        "error": "task: task_id, action and target must be strings, params an object"
    }
    assert service.decisions == []
    # SOP 2A.1: a valid task assignment is a sign of life, whatever it asks for.
    assert service.detector.state.last_heartbeat_at is not None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "rotate_logs"},
        {"action": "", "target": "x"},
        {"action": 7, "target": "x"},
        {"action": "rotate_logs", "target": "x", "params": []},
        [],
    ],
)
def test_a_malformed_action_request_is_a_bad_request_and_nothing_is_logged(online_agent, body):
    agent, service = online_agent
    assert agent.post("/v1/actions", json=body).status_code == 400
    assert agent.post("/v1/actions", content=b"{not json").status_code == 400
    assert service.decisions == []


# ---- health tells the truth -------------------------------------------------------------------


def break_probe(monkeypatch, service: AgentService, broken: threading.Event) -> None:
    probe = service_module.probe_api

    async def probe_api(*args: Any) -> Any:
        if broken.is_set():
            raise RuntimeError("probe exploded")
        return await probe(*args)

    monkeypatch.setattr(service_module, "probe_api", probe_api)


def break_tick(monkeypatch, service: AgentService, broken: threading.Event) -> None:
    tick = service.detector.tick

    def broken_tick(now: float) -> Any:
        if broken.is_set():
            raise RuntimeError("tick exploded")
        return tick(now)

    monkeypatch.setattr(service.detector, "tick", broken_tick)


def break_remediation(monkeypatch, service: AgentService, broken: threading.Event) -> None:
    facts = service.facts

    async def broken_facts() -> Any:
        if broken.is_set():
            raise RuntimeError("facts exploded")
        return await facts()

    monkeypatch.setattr(service, "facts", broken_facts)


@pytest.mark.parametrize(
    ("loop", "break_loop", "error"),
    [
        ("probe_loop", break_probe, "RuntimeError: probe exploded"),
        ("tick_loop", break_tick, "RuntimeError: tick exploded"),
        ("remediation_loop", break_remediation, "RuntimeError: facts exploded"),
    ],
)
def test_healthz_is_degraded_once_a_detection_loop_has_stopped(
    serve, tmp_path, monkeypatch, loop, break_loop, error
):
    dispatcher = FakeDispatcher()
    dispatcher.mode = "ok"
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    service = AgentService(agent_config(tmp_path, url, url=None))
    broken = threading.Event()
    break_loop(monkeypatch, service, broken)
    agent = serve(create_app(service))
    healthy = agent.get("/healthz")
    assert (healthy.status_code, healthy.json()["status"]) == (200, "ok")

    broken.set()

    health = wait_for(
        lambda: (h := agent.get("/healthz")).status_code == 503 and h, f"{loop} to stop"
    )
    degraded = health.json()
    assert (degraded["status"], degraded["reason"]) == ("degraded", f"{loop} stopped: {error}")
    assert degraded["mode"] in ("online", "suspect")
    assert agent.get("/v1/state").status_code == 200  # alive; only unfit to watch


# ---- an invalid policy: fail closed -----------------------------------------------------------


def test_an_invalid_policy_fails_closed(serve, tmp_path):
    broken = tmp_path / "broken-policy.yaml"
    broken.write_text("scenario_a:\n  silence_minutes: -3\n")
    environ = {
        "SOPDRILL_PORT": "0",
        "SOPDRILL_HMAC_KEY": KEY.decode(),
        "SOPDRILL_DISPATCHER_URL": closed_url(),
        "SOPDRILL_EMERGENCY_LOG": str(tmp_path / "emergency.log"),
        "SOPDRILL_POLICY": str(broken),
        "SOPDRILL_TIME_SCALE": "600",
    }
    config = load_config(Settings("agent", environ))
    assert config.policy is None
    assert str(broken) in config.policy_error
    service = AgentService(config)
    agent = serve(create_app(service))

    state = agent.get("/v1/state").json()
    assert state["policy_valid"] is False
    assert str(broken) in state["policy_error"]
    requests = [
        ("security_patch", "CVE-1", CRITICAL_PATCH),
        ("rotate_logs", "log_dir", {}),
        ("restart_service", "nginx", {}),
        ("kill_runaway", "1", {}),
        ("delete_data", "/srv", {}),
    ]
    for action, target, params in requests:
        response = act(agent, action, target, **params)
        assert response.status_code == 403, action
        assert "policy invalid" in response.json()["reason"], action
    # The inbox takes nothing from anyone, not even a correctly signed heartbeat.
    heartbeat = sign_envelope(KEY, "heartbeat", {"status": "ok"}, time.time_ns(), "dispatcher")
    assert agent.post("/v1/inbox", json=heartbeat).status_code == 503

    entries = on_disk(config.emergency_log)
    assert entries[0]["kind"] == "note"
    refused = [e for e in entries if e["kind"] == "decision"]
    assert [e["action"] for e in refused] == [a for a, _, _ in requests]
    assert {e["decision"] for e in refused} == {"refused"}
    # Alive but unfit to watch anything: its health check says so, with the reason.
    health = agent.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "failing_closed"
    assert str(broken) in health.json()["policy_error"]


def test_metrics_expose_the_mode_and_counters(online_agent):
    agent, _ = online_agent
    act(agent, "delete_data", "/srv")
    text = agent.get("/metrics").text
    modes = [line for line in text.splitlines() if line.startswith("sopdrill_agent_mode{")]
    assert len(modes) == 4
    assert sum(int(line.rsplit(" ", 1)[1]) for line in modes) == 1
    assert 'sopdrill_agent_events_total{event="action_refused"} 1' in text


# ---- while online: report, do not heal -----------------------------------------------------


def test_while_online_a_down_service_is_reported_once_per_outage_and_not_touched(serve, tmp_path):
    dispatcher = FakeDispatcher()
    dispatcher.mode = "ok"
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    with FakeSupervisord({"ollama": "STOPPED", "nginx": "RUNNING"}) as supervisord:
        config = agent_config(
            tmp_path,
            url,
            supervisor_url=supervisord.url,
            managed_services=("ollama", "nginx"),
        )
        service = AgentService(config)
        agent = serve(create_app(service))

        first = wait_for(lambda: dispatcher.called("/v1/incidents"), "a distress signal")
        signal, status = first[0]
        assert status == 201  # the dispatcher's own validator accepted the format
        assert signal["agent"] == "ops"
        assert signal["component"] == "ollama"
        assert signal["severity"] == "P1"  # emergency-procedures.md: Ollama down is P1
        assert signal["requested_action"] == "father_intervention"
        assert signal["context"]["auto_recovery_attempted"] is False

        # More rounds of the loop while the outage lasts: still one report.
        polls = supervisord.polls
        wait_for(lambda: supervisord.polls >= polls + 3, "three more looks at the services")
        assert len(dispatcher.called("/v1/incidents")) == 1

        # Back up, then down again: a new outage, a new report.
        supervisord.states["ollama"] = "RUNNING"
        polls = supervisord.polls
        wait_for(lambda: supervisord.polls >= polls + 2, "the agent to see ollama running")
        supervisord.states["ollama"] = "FATAL"
        wait_for(lambda: len(dispatcher.called("/v1/incidents")) == 2, "a second distress signal")

        assert [i["component"] for i in agent.get("/v1/incidents").json()] == ["ollama"] * 2
        # SOP 4 applies only while offline: online, the agent never restarted anything itself.
        assert agent.get("/v1/state").json()["mode"] in ("online", "suspect")
        assert service.decisions == []


# ---- risk controls failing while running (gate4 guardrail 3) ---------------------------------


def test_a_policy_broken_while_running_blocks_every_action_yet_the_alert_goes_out(serve, tmp_path):
    dispatcher = FakeDispatcher()  # down: the agent declares OFFLINE after the silence
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    policy_file = tmp_path / "policy.yaml"
    shipped = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy_file.write_text(shipped, encoding="utf-8")
    config = agent_config(tmp_path, url, url=None, policy_path=policy_file)
    agent = serve(create_app(AgentService(config)))
    assert agent.get("/healthz").status_code == 200

    policy_file.write_text(shipped.replace("cvss_above: 9.0", "cvss_above: eleven"))

    health = wait_for(
        lambda: (h := agent.get("/healthz")).status_code == 503 and h, "healthz degraded"
    )
    assert health.json()["status"] == "degraded"
    assert health.json()["reason"].startswith("risk controls failed: policy invalid")
    wait_for(
        lambda: agent.get("/v1/state").json()["mode"] == "offline", "OFFLINE", OFFLINE_WITHIN_S
    )
    patch = act(agent, "security_patch", "CVE-1", **CRITICAL_PATCH)
    assert patch.status_code == 403
    assert "risk controls failed" in patch.json()["reason"]
    entries = on_disk(config.emergency_log)
    assert [e["trigger"] for e in entries if e["kind"] == "marker"] == ["scenario_a"]
    alerts = [e for e in entries if e["kind"] == "notification" and "about" not in e]
    assert [e["channel"] for e in alerts] == ["discord", "signal"]  # tried: none configured
    [refused] = [e for e in entries if e["kind"] == "decision"]
    assert "gate4 guardrail 3" in refused["reason"]
    incident, *escalated = [e for e in entries if e["kind"] == "incident"]
    assert (incident["category"], incident["severity"]) == ("risk_controls_failed", "P1")
    # Unresolved past Level 1 (half a wall second at this scale): escalated once.
    assert [(e["category"], e["incident"]) for e in escalated] == [
        ("escalation", "risk_controls_failed")
    ]

    policy_file.write_text(shipped, encoding="utf-8")
    wait_for(lambda: agent.get("/healthz").status_code == 200, "the controls restored")
    assert act(agent, "security_patch", "CVE-1", **CRITICAL_PATCH).status_code == 200


# ---- a memory runaway killed while OFFLINE (cell0 "P1 - High Memory Usage") -----------------


def test_a_memory_runaway_killed_while_offline_is_one_p1_logged_before_the_kill(serve, tmp_path):
    scope = ("SOPDRILL_HOST_ID", f"test-{uuid.uuid4().hex}")
    # Idle, so never over the CPU bar: over the RAM bar only, against a 1 MiB "host".
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(1000)"],
        env={**os.environ, scope[0]: scope[1]},
    )
    try:
        dispatcher = FakeDispatcher()  # down: the agent declares OFFLINE after the silence
        url = str(serve(dispatcher.app()).base_url).rstrip("/")
        config = agent_config(
            tmp_path, url, process_scope=f"env:{scope[0]}={scope[1]}", host_memory_bytes=1 << 20
        )
        serve(create_app(AgentService(config)))
        assert child.wait(OFFLINE_WITHIN_S + WAIT_S) == -SIGKILL

        def killed() -> list[dict[str, Any]] | None:
            entries = on_disk(config.emergency_log)
            found = [e for e in entries if e.get("action") == "kill_runaway"]
            return entries if found else None

        entries = wait_for(killed, "the kill_runaway decision in the emergency log")
        [incident] = [e for e in entries if e["kind"] == "incident"]
        [decision] = [e for e in entries if e["kind"] == "decision"]
        assert (incident["category"], incident["severity"]) == ("high_memory", "P1")
        assert incident["component"] == decision["target"] == str(child.pid)
        assert decision["decision"] == "executed"
        assert incident["seq"] < decision["seq"], "the P1 is on disk before the kill"
        modes = [e["mode"] for e in entries if e["kind"] == "state" and e["seq"] < incident["seq"]]
        assert modes[-1:] == ["offline"], "SOP 4: the agent kills only while OFFLINE"
        assert dispatcher.called("/v1/incidents") == [], "offline: no distress signal heard"
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(WAIT_S)


# ---- a restarted Ollama's test inference (cell0 "P1 - Ollama Connection Lost", step 4) -------


def test_ollama_restarted_while_offline_answers_one_test_inference_logged_on_its_restart(
    serve, tmp_path
):
    ollama = ollama_app(Settings("ollama", environ={}))
    ollama_url = str(serve(ollama).base_url).rstrip("/")
    dispatcher = FakeDispatcher()  # down: the agent declares OFFLINE after the silence
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    with FakeSupervisord({"ollama": "STOPPED"}) as supervisord:
        config = agent_config(
            tmp_path,
            url,
            supervisor_url=supervisord.url,
            managed_services=("ollama",),
            ollama_url=ollama_url,
        )
        serve(create_app(AgentService(config)))

        def restarts() -> list[dict[str, Any]]:
            entries = on_disk(config.emergency_log)
            return [e for e in entries if e.get("action") == "restart_service"]

        [decision] = wait_for(restarts, "the restart's decision", OFFLINE_WITHIN_S + WAIT_S)
        model = DEFAULT_MODELS.split(",")[0]
        assert decision["decision"] == "executed"
        assert decision["result"] == {
            "restarted": "ollama",
            "test_inference": {"outcome": "ok", "model": model},
        }
        assert supervisord.started == ["ollama"]
        # Ollama's own inbox: the runbook's `ollama run <model> "test"`, once, not streamed.
        calls = [m.as_json() for m in ollama.state.sink.messages()]
        assert [(c["path"], c["body"]) for c in calls] == [
            ("/api/generate", {"model": model, "prompt": "test", "stream": False})
        ]


class HeldSupervisord(FakeSupervisord):
    """A ``startProcess`` that holds until the test lets it go (a restart under way)."""

    def __init__(self, states: dict[str, str]) -> None:
        super().__init__(states)
        self.entered = threading.Event()
        self.release = threading.Event()

    def start(self, name: str, wait: bool) -> bool:
        self.entered.set()
        self.release.wait(WAIT_S)
        return super().start(name, wait)


def test_a_resync_begins_only_once_the_action_under_way_is_done_and_logged(serve, tmp_path):
    """SOP 5.1, CI's nightly: Ollama's restart (and its test inference) outlasted the
    dispatcher's return; its entry came after "stop_autonomous_actions: done"."""
    dispatcher = FakeDispatcher()
    dispatcher.fail_uploads = dispatcher.short_acks = 0
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    with HeldSupervisord({"ollama": "STOPPED"}) as supervisord:
        config = agent_config(
            tmp_path, url, supervisor_url=supervisord.url, managed_services=("ollama",)
        )
        agent = serve(create_app(AgentService(config)))
        assert supervisord.entered.wait(OFFLINE_WITHIN_S + WAIT_S), "no restart began"
        dispatcher.mode = "ok"
        wait_for(lambda: agent.get("/v1/state").json()["mode"] == "recovering", "recovering")
        supervisord.release.set()
        wait_for(resynced_and_online(agent), "re-sync to finish and the agent to be online")
    entries = on_disk(config.emergency_log)
    [restart] = [e for e in entries if e.get("action") == "restart_service"]
    assert restart["decision"] == "executed"
    assert restart["facts_age_minutes"] > 0  # the host was read before the restart began
    stopped = next(e for e in entries if e.get("step") == "stop_autonomous_actions")
    assert restart["seq"] < stopped["seq"], "an action logged after the re-sync began"


# ---- the Dispatcher's API slow but answering (emergency-procedures.md P2) ------------------------


def test_the_dispatcher_answering_past_the_p2_bound_is_one_network_latency_p2_logged(
    serve, tmp_path, monkeypatch
):
    """P2 "network latency": probes answered past the bound, within the probe's timeout: one
    incident logged, nothing else (no distress signal, no alert, no action)."""
    dispatcher = FakeDispatcher()
    dispatcher.mode = "ok"
    url = str(serve(dispatcher.app()).base_url).rstrip("/")
    service = AgentService(agent_config(tmp_path, url))
    bound = POLICY.latency.network_latency_seconds / 60
    delay_s = FAST.wall_seconds((bound + POLICY.deployment.api_probe_timeout_minutes) / 2)
    probe = service_module.probe_api

    async def slow_probe(*args: Any) -> Any:
        await asyncio.sleep(delay_s)
        return await probe(*args)

    monkeypatch.setattr(service_module, "probe_api", slow_probe)
    serve(create_app(service))
    enough = POLICY.latency.slow_checks_in_a_row + 3
    wait_for(lambda: service.metrics.counters.get("probe_ok", 0) >= enough, f"{enough} probes")
    logged = [e for e in service.log.entries() if e["kind"] == "incident"]
    assert [(e["category"], e["severity"], e["component"]) for e in logged] == [
        ("network_latency", "P2", "dispatcher")
    ], logged
    assert logged[0]["bound_sop_seconds"] == POLICY.latency.network_latency_seconds
    assert dispatcher.called("/v1/incidents") == [], "P2: log and continue"
    assert service.notifications == []
    assert service.decisions == []
