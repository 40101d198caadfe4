"""Remediation: the pure plan with the policy's numbers; the executor against real things."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st
from supervisor.xmlrpc import Faults

from sop.policy import load_policy
from sut.agent.gate import ActionRequest, HostFacts, ProcessUsage
from sut.agent.inference import InferenceCheck
from sut.agent.remediation import ExecutionError, ExecutionTargets, Executor, plan
from sut.agent.supervisor import Supervisor, SupervisorCallError
from sut.runtime import Settings
from sut.standins.ollama import DEFAULT_MODELS
from sut.standins.ollama import create_app as ollama_app

POLICY = load_policy()
GREEN = POLICY.green_list
DISK_ABOVE = GREEN.rotate_logs.disk_usage_percent_above
SUSTAINED = GREEN.kill_runaway.sustained_minutes
NOW = 1000.0
WAIT_S = 10.0


def facts(
    services: dict[str, str] | None = None,
    disk: float | None = None,
    processes: dict[int, ProcessUsage] | None = None,
    now: float = NOW,
) -> HostFacts:
    return HostFacts(now, services or {}, disk, processes or {})


def hog(pid: int, over_for: float | None, name: str = "burner") -> ProcessUsage:
    since = None if over_for is None else NOW - over_for
    return ProcessUsage(pid, name, 99.0, 1.0, since)


# ---- plan: pure, from facts to requests -----------------------------------------------------


def test_a_quiet_host_needs_nothing():
    assert plan(facts({"nginx": "running"}, disk=DISK_ABOVE - 10, processes={}), POLICY) == []


def test_down_and_degraded_services_are_restarted_in_name_order():
    requests = plan(
        facts({"redis": "down", "nginx": "running", "ollama": "degraded", "api": "down"}),
        POLICY,
    )
    assert [(r.action, r.target) for r in requests] == [
        ("restart_service", "api"),
        ("restart_service", "ollama"),
        ("restart_service", "redis"),
    ]
    assert [r.params["state"] for r in requests] == ["down", "degraded", "down"]
    assert {r.source for r in requests} == {"autonomous"}
    assert set(GREEN.restart_service.when_states) == {"down", "degraded"}


@pytest.mark.parametrize(
    ("disk", "rotates"),
    [
        (None, False),
        (0.0, False),
        (DISK_ABOVE - 0.001, False),
        (DISK_ABOVE, False),  # SOP 4: "exceeds 90 %": the boundary itself does not
        (DISK_ABOVE + 0.001, True),
        (100.0, True),
    ],
)
def test_logs_are_rotated_only_above_the_policy_disk_threshold(disk, rotates):
    requests = plan(facts(disk=disk), POLICY)
    assert [r.action for r in requests] == (["rotate_logs"] if rotates else [])
    if rotates:
        assert requests[0].params == {"disk_usage_percent": disk}


@pytest.mark.parametrize(
    ("over_for", "kills"),
    [
        (None, False),
        (0.0, False),
        (SUSTAINED - 0.01, False),
        (SUSTAINED, False),  # SOP 4: "for >5 minutes": exactly five is not more
        (SUSTAINED + 0.01, True),
        (SUSTAINED * 10, True),
    ],
)
def test_runaways_are_killed_only_after_the_policy_window(over_for, kills):
    requests = plan(facts(processes={4242: hog(4242, over_for)}), POLICY)
    expected = [("kill_runaway", "4242")] if kills else []
    assert [(r.action, r.target) for r in requests] == expected
    if kills:
        assert requests[0].params == {"name": "burner", "cpu_percent": 99.0, "ram_percent": 1.0}


USAGES = st.builds(
    ProcessUsage,
    pid=st.integers(1, 1 << 22),
    name=st.sampled_from(["burner", "nginx", "python3", "sshd"]),
    cpu_percent=st.floats(0, 400),
    ram_percent=st.floats(0, 100),
    over_since=st.none() | st.floats(0, NOW),
)
FACTS = st.builds(
    HostFacts,
    now=st.just(NOW),
    service_states=st.dictionaries(
        st.sampled_from(["nginx", "redis", "ollama", "api"]),
        st.sampled_from(["running", "down", "degraded", "unknown"]),
    ),
    disk_usage_percent=st.none() | st.floats(0, 100),
    processes=st.lists(USAGES, max_size=6).map(lambda us: {u.pid: u for u in us}),
)


@given(host=FACTS)
def test_property_plan_is_deterministic_and_every_request_is_backed_by_a_fact(host):
    requests = plan(host, POLICY)
    assert plan(host, POLICY) == requests
    for request in requests:
        assert request.source == "autonomous"
        assert request.action in POLICY.green_names()
        if request.action == "restart_service":
            assert host.service_states[request.target] in GREEN.restart_service.when_states
        elif request.action == "rotate_logs":
            assert host.disk_usage_percent is not None
            assert host.disk_usage_percent > DISK_ABOVE
        else:
            usage = host.processes[int(request.target)]
            assert usage.over_since is not None
            assert NOW - usage.over_since > SUSTAINED
    wanted = {n for n, s in host.service_states.items() if s in ("down", "degraded")}
    assert {r.target for r in requests if r.action == "restart_service"} == wanted
    assert sum(r.action == "rotate_logs" for r in requests) <= 1
    # Nothing the plan proposes is ever on the red list.
    assert not {r.action for r in requests} & POLICY.red_names()


# ---- Executor against a real supervisord ----------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Supervisord:
    process: subprocess.Popen[bytes]
    url: str
    #: Where the flapper program looks for its ``ready`` file.
    ready_dir: Path

    def rpc(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(self.url)

    def pid_of(self, name: str) -> int:
        with self.rpc() as proxy:
            return int(proxy.supervisor.getProcessInfo(name)["pid"])


def supervisord_binary() -> str:
    return str(Path(sys.executable).with_name("supervisord"))


@pytest.fixture(scope="module")
def running_supervisord(tmp_path_factory) -> Iterator[Supervisord]:
    """A tiny supervisord on 127.0.0.1 with stopped ``sleep`` programs; nothing outlives it."""
    tmp_path = tmp_path_factory.mktemp("supervisord")
    port = free_port()
    user, password = "drill", "pw-9f3c1d"
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        "\n".join(
            [
                "[supervisord]",
                f"logfile={tmp_path / 'supervisord.log'}",
                f"pidfile={tmp_path / 'supervisord.pid'}",
                f"childlogdir={tmp_path}",
                "[inet_http_server]",
                f"port=127.0.0.1:{port}",
                f"username={user}",
                f"password={password}",
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                "[program:sleeper]",
                "command=sleep 1000",
                "autostart=false",
                "autorestart=false",
                "startsecs=0",
                "stopwaitsecs=2",
                "[program:flapper]",
                f"command=sh -c 'test -e {tmp_path}/ready && exec sleep 1000; exit 1'",
                "autostart=false",
                "autorestart=false",
                "startsecs=1",
                "startretries=1000",
                "stopwaitsecs=2",
                "[program:other]",
                "command=sleep 1000",
                "autostart=false",
                "startsecs=0",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [supervisord_binary(), "-n", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Supervisord(process, f"http://{user}:{password}@127.0.0.1:{port}/RPC2", tmp_path)
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                with running.rpc() as proxy:
                    if proxy.supervisor.getState()["statename"] == "RUNNING":
                        break
            except OSError:
                pass
            assert process.poll() is None, "supervisord exited while starting"
            assert time.monotonic() < deadline, "supervisord did not come up"
            time.sleep(0.02)
        yield running
    finally:
        children = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
        process.terminate()  # supervisord stops its programs on SIGTERM
        try:
            process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT_S)
        for pid in children:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
        assert not [pid for pid in children if psutil.pid_exists(pid)]


@pytest.fixture
def supervisord(running_supervisord) -> Iterator[Supervisord]:
    """The module's supervisord with every program stopped again after the test."""
    yield running_supervisord
    started = psutil.Process(running_supervisord.process.pid).children(recursive=True)
    with running_supervisord.rpc() as proxy:
        proxy.supervisor.stopAllProcesses(True)
    # stopAllProcesses(wait=True) returns once supervisord has reaped them: none may be left.
    assert not [p.pid for p in started if p.is_running() and p.status() != "zombie"]


def executor_for(url: str | None, tmp_path: Path) -> Executor:
    supervisor = Supervisor(url) if url else None
    return Executor(ExecutionTargets(supervisor, None, (), tmp_path / "emergency.log"))


def request(action: str, target: str, **params) -> ActionRequest:
    return ActionRequest(action, target, params, "autonomous")


def test_restart_service_starts_a_stopped_program(supervisord, tmp_path):
    client = Supervisor(supervisord.url)
    assert asyncio.run(client.states())["sleeper"] == "down"

    result = asyncio.run(
        executor_for(supervisord.url, tmp_path).execute(
            request("restart_service", "sleeper", state="down"), facts({"sleeper": "down"})
        )
    )

    assert result == {"restarted": "sleeper"}
    states = asyncio.run(client.states())
    # Just restarted: still starting for supervisor.STARTUP_GRACE_S by supervisord's clock.
    assert states == {"sleeper": "starting", "other": "down", "flapper": "down"}
    pid = supervisord.pid_of("sleeper")
    assert psutil.Process(pid).cmdline() == ["sleep", "1000"]


def test_restart_service_replaces_a_degraded_program(supervisord, tmp_path):
    with supervisord.rpc() as proxy:
        proxy.supervisor.startProcess("sleeper", True)
    before = supervisord.pid_of("sleeper")

    asyncio.run(
        executor_for(supervisord.url, tmp_path).execute(
            request("restart_service", "sleeper", state="degraded"), facts({"sleeper": "degraded"})
        )
    )

    after = supervisord.pid_of("sleeper")
    assert after != before
    assert psutil.Process(after).is_running()
    assert not psutil.pid_exists(before) or psutil.Process(before).status() == "zombie"


def test_a_program_supervisord_keeps_retrying_is_started_afresh(supervisord, tmp_path):
    """A service in BACKOFF is down (SOP 4) but supervisord refuses its start with
    ALREADY_STARTED; the restart stops it and starts it, and the start's outcome counts."""
    ready = supervisord.ready_dir / "ready"
    ready.unlink(missing_ok=True)
    deadline = time.monotonic() + WAIT_S
    with supervisord.rpc() as proxy:
        try:
            proxy.supervisor.startProcess("flapper", False)
        except xmlrpc.client.Fault as fault:
            # supervisord reaps at once: a start already failed by then answers SPAWN_ERROR
            # (rpcinterface.startProcess), and backs off all the same (CI met it).
            if fault.faultCode != Faults.SPAWN_ERROR:
                raise
        # No ready file yet: its first start fails and supervisord backs off to retry.
        while proxy.supervisor.getProcessInfo("flapper")["statename"] != "BACKOFF":
            assert time.monotonic() < deadline, "flapper never went into BACKOFF"
            time.sleep(0.02)
    ready.touch()
    try:
        asyncio.run(
            executor_for(supervisord.url, tmp_path).execute(
                request("restart_service", "flapper", state="down"), facts({"flapper": "down"})
            )
        )
    finally:
        ready.unlink()

    pid = supervisord.pid_of("flapper")
    assert psutil.Process(pid).cmdline() == ["sleep", "1000"]


def test_restart_of_an_unknown_program_fails_with_a_line_that_hides_the_url(supervisord, tmp_path):
    with pytest.raises(SupervisorCallError) as caught:
        asyncio.run(
            executor_for(supervisord.url, tmp_path).execute(
                request("restart_service", "nope"), facts({"nope": "down"})
            )
        )
    message = str(caught.value)
    assert "startProcess" in message
    assert "pw-9f3c1d" not in message
    assert supervisord.url not in message


def test_an_unreachable_supervisord_is_a_supervisor_error(tmp_path):
    url = f"http://u:secret-pw@127.0.0.1:{free_port()}/RPC2"
    with pytest.raises(SupervisorCallError) as caught:
        asyncio.run(Supervisor(url).states())
    assert "cannot reach" in str(caught.value)
    assert "secret-pw" not in str(caught.value)


def test_restart_without_a_supervisord_is_an_execution_error(tmp_path):
    with pytest.raises(ExecutionError, match="no supervisord"):
        asyncio.run(
            executor_for(None, tmp_path).execute(
                request("restart_service", "nginx"), facts({"nginx": "down"})
            )
        )


# ---- Executor: a restarted Ollama answers one test inference (cell0 P1, steps 3-4) -----------


class RecordingSupervisor:
    """supervisord's start and restart, only recorded (the tests above use a real one)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def start(self, name: str) -> None:
        self.calls.append(("start", name))

    async def restart(self, name: str) -> None:
        self.calls.append(("restart", name))


def restart_with_inference(
    target: str, state: str, transport: httpx.AsyncBaseTransport, tmp_path: Path
) -> tuple[dict, RecordingSupervisor]:
    """Restart ``target`` with the test inference of the service ``ollama`` over ``transport``."""
    supervisor = RecordingSupervisor()

    async def run() -> dict:
        async with httpx.AsyncClient(transport=transport) as client:
            check = InferenceCheck("ollama", "http://ollama.test", client, 2.0, 0.01)
            targets = ExecutionTargets(
                supervisor,  # type: ignore[arg-type]
                None,
                (),
                tmp_path / "emergency.log",
                inference=check,
            )
            return await Executor(targets).execute(
                request("restart_service", target, state=state), facts({target: state})
            )

    return asyncio.run(run()), supervisor


@pytest.mark.parametrize(("state", "call"), [("down", "start"), ("degraded", "restart")])
def test_a_restarted_ollama_answers_one_test_inference_before_the_restart_is_done(
    tmp_path, state, call
):
    ollama = ollama_app(Settings("ollama", environ={}))

    result, supervisor = restart_with_inference(
        "ollama", state, httpx.ASGITransport(app=ollama), tmp_path
    )

    model = DEFAULT_MODELS.split(",")[0]
    assert supervisor.calls == [(call, "ollama")]
    assert result == {"restarted": "ollama", "test_inference": {"outcome": "ok", "model": model}}
    [generate] = [m.as_json() for m in ollama.state.sink.messages()]
    assert (generate["path"], generate["body"]) == (
        "/api/generate",
        {"model": model, "prompt": "test", "stream": False},
    )


def test_a_restart_of_another_service_runs_no_test_inference(tmp_path):
    ollama = ollama_app(Settings("ollama", environ={}))

    result, _ = restart_with_inference("gitea", "down", httpx.ASGITransport(app=ollama), tmp_path)

    assert result == {"restarted": "gitea"}
    assert ollama.state.sink.messages() == []


def test_a_restarted_ollama_without_a_reply_is_a_failed_restart(tmp_path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tags":
            return httpx.Response(200, json={"models": [{"name": "llama3.1:latest"}]})
        return httpx.Response(503, json={"error": "model loading"})

    with pytest.raises(ExecutionError) as caught:
        restart_with_inference("ollama", "down", httpx.MockTransport(answer), tmp_path)

    assert str(caught.value) == (
        "ollama restarted, but its test inference failed: POST /api/generate: HTTP 503"
    )


# ---- Executor: kill, rotate, patch, unknown ---------------------------------------------------


def test_kill_runaway_sends_sigkill_to_a_real_process(tmp_path):
    # The child ignores SIGTERM: only SIGKILL can end it, which proves what was sent.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)",
        ]
    )
    try:
        result = asyncio.run(
            executor_for(None, tmp_path).execute(
                request("kill_runaway", str(child.pid), name="python3"), facts()
            )
        )
        assert child.wait(WAIT_S) == -signal.SIGKILL
        assert result == {"killed": child.pid, "name": "python3"}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(WAIT_S)


def test_kill_runaway_of_a_process_already_gone_says_so(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait(WAIT_S)
    result = asyncio.run(
        executor_for(None, tmp_path).execute(request("kill_runaway", str(child.pid)), facts())
    )
    assert result == {"killed": child.pid, "note": "already gone"}


def test_rotate_logs_runs_on_the_configured_log_dir_only(tmp_path):
    logs, data = tmp_path / "logs", tmp_path / "logs" / "data"
    data.mkdir(parents=True)
    (logs / "app.log.1").write_text("old")
    (logs / "app.log").write_text("live")
    (data / "db.log.1").write_text("data")
    executor = Executor(ExecutionTargets(None, logs, (data,), logs / "emergency.log"))

    result = asyncio.run(executor.execute(request("rotate_logs", "log_dir"), facts(disk=95.0)))

    assert result == {
        "removed": [str((logs / "app.log.1").resolve())],
        "truncated": [str((logs / "app.log").resolve())],
        "freed_bytes": 7,
    }
    assert (data / "db.log.1").read_text() == "data"
    with pytest.raises(ExecutionError, match="SOPDRILL_LOG_DIR"):
        asyncio.run(
            executor_for(None, tmp_path).execute(request("rotate_logs", "log_dir"), facts())
        )


def test_security_patch_is_recorded_in_the_marker_file(tmp_path):
    marker = tmp_path / "patched"
    executor = Executor(ExecutionTargets(None, None, (), tmp_path / "e.log", marker))
    asyncio.run(executor.execute(request("security_patch", "CVE-2026-0001"), facts()))
    asyncio.run(executor.execute(request("security_patch", "CVE-2026-0002"), facts()))
    assert marker.read_text().splitlines() == ["CVE-2026-0001", "CVE-2026-0002"]


@pytest.mark.parametrize("action", ["delete_data", "deploy_code", "reboot", ""])
def test_the_executor_has_no_hands_for_anything_off_the_green_list(tmp_path, action):
    with pytest.raises(ExecutionError, match="no executor"):
        asyncio.run(executor_for(None, tmp_path).execute(request(action, "x"), facts()))
