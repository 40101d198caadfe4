"""The watchdog kills a hung agent (accepted, never answered) and nothing else; an agent it
cannot bring back is launched again and, once past the RTO, alerted P0 once (STEP 3, 4)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from sop.alert_file import AGENT_FAILURE, read_alerts
from sop.policy import load_policy
from sop.timescale import TimeScale
from sut.runtime.alertfile import AlertFile
from sut.watchdog import MIN_TIMEOUT_S, Rule, Unresolved, Verdicts, Watchdog, look_at

POLICY = load_policy()
#: Short enough for a test, long enough for 127.0.0.1 on a loaded machine.
RULE = Rule(
    interval_s=0.01,
    timeout_s=0.3,
    misses=POLICY.scenario_a.api_failures,
    unresolved_s=5.0,
    severity=POLICY.severity_of("agent_down"),
)


def test_the_rule_is_sop_2a2s_cadence_with_a_floor_on_the_wait():
    rule = Rule.of(POLICY, TimeScale(1))
    assert rule.interval_s == POLICY.scenario_a.api_probe_interval_minutes * 60
    assert rule.timeout_s == POLICY.deployment.api_probe_timeout_minutes * 60
    assert rule.misses == POLICY.scenario_a.api_failures
    assert Rule.of(POLICY, TimeScale(600)).timeout_s == MIN_TIMEOUT_S
    # Appendix B's Agent Operations RTO, then scenario 1 STEP 4 at the seeds' P0.
    assert rule.unresolved_s == POLICY.rto.agent_operations_minutes * 60
    assert rule.severity == "P0"


def test_only_a_run_of_silences_of_one_process_is_a_hang():
    verdicts = Verdicts(3)
    assert [verdicts.observe(7, "silent") for _ in range(2)] == [False, False]
    assert verdicts.observe(7, "answered") is False  # any answer: alive
    assert [verdicts.observe(7, "silent") for _ in range(3)] == [False, False, True]
    assert verdicts.silent == 0, "once per run"
    verdicts.observe(7, "silent")
    verdicts.observe(7, "silent")
    assert verdicts.observe(8, "silent") is False, "a restarted process counts afresh"
    assert verdicts.observe(8, "refused") is False  # starting: supervisord's business
    assert verdicts.observe(None, "silent") is False


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A socket that accepts connections (the kernel's backlog) and never answers: SIGSTOP."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/healthz"


@pytest.fixture
def failing_url(serve) -> str:
    """An agent that answers 503 (failing closed): alive."""

    async def healthz(_):
        return JSONResponse({"status": "failing_closed"}, status_code=503)

    return f"{serve(Starlette(routes=[Route('/healthz', healthz)]))}/healthz"


def closed_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/healthz"


@dataclass
class FakeSupervisor:
    """supervisord's word on the agent, and the signals it was asked to send."""

    pid: int = 4242
    statename: str = "RUNNING"
    signals: list[tuple[str, str]] = field(default_factory=list)
    launches: int = 0

    def process_info(self, name: str) -> dict[str, object]:
        return {"name": name, "pid": self.pid, "statename": self.statename}

    def send_signal(self, name: str, signal_name: str) -> None:
        self.signals.append((name, signal_name))

    def launch(self, name: str) -> None:
        self.launches += 1


def rounds(url: str, manager: FakeSupervisor, count: int) -> None:
    Watchdog("agent", url, manager, RULE, sleep=lambda _s: None).run(rounds=count)


def test_a_hung_agent_is_killed_through_supervisord_after_the_misses(silent_url):
    manager = FakeSupervisor()
    with httpx.Client(trust_env=False) as client:
        assert look_at(client, silent_url, RULE.timeout_s) == "silent"
    rounds(silent_url, manager, RULE.misses - 1)
    assert manager.signals == []
    rounds(silent_url, manager, RULE.misses)
    assert manager.signals == [("agent", "KILL")]


def test_an_agent_that_answers_even_503_or_is_not_running_is_left_alone(failing_url, silent_url):
    for url in (failing_url, closed_url()):
        manager = FakeSupervisor()
        rounds(url, manager, RULE.misses + 1)
        assert manager.signals == [], url
    starting = FakeSupervisor(statename="STARTING")
    rounds(silent_url, starting, RULE.misses)
    assert starting.signals == []


def test_a_round_longer_than_the_interval_is_not_made_up_and_never_sleeps_backwards(silent_url):
    # A silent look waits out its timeout, far longer than the interval (the drills' case).
    slept: list[float] = []
    watchdog = Watchdog("agent", silent_url, FakeSupervisor(), RULE, sleep=slept.append)
    watchdog.run(rounds=2)
    assert len(slept) == 2
    assert min(slept) >= 0.0


def test_a_failure_is_unresolved_once_past_its_bound_and_alerted_once_per_failure():
    unresolved = Unresolved(10.0)
    assert unresolved.observe(0.0, True) is False
    assert unresolved.observe(9.9, True) is False, "never before the bound"
    assert unresolved.observe(10.0, True) is True
    assert [unresolved.observe(t, True) for t in (11.0, 50.0)] == [False, False], "once"
    assert unresolved.observe(51.0, None) is False  # no news keeps the failure open
    assert unresolved.failed_since == 0.0
    assert unresolved.observe(52.0, False) is False  # back: over
    assert unresolved.failed_since is None
    assert unresolved.observe(60.0, True) is False
    assert unresolved.observe(70.0, True) is True, "a new failure, a new alert"
    unresolved.retry()
    assert unresolved.observe(71.0, True) is True, "an alert not written is said again"


class Ticks:
    """A clock the test moves: one tick per call, ``step`` seconds apart."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def watch(url: str, manager: FakeSupervisor, path, step: float) -> Watchdog:
    return Watchdog(
        "agent", url, manager, RULE, sleep=lambda _s: None, alert=AlertFile(path), clock=Ticks(step)
    )


def test_an_agent_supervisord_gave_up_on_is_launched_each_round_and_alerted_p0_once(tmp_path):
    path = tmp_path / "EMERGENCY_ALERT.txt"
    manager = FakeSupervisor(pid=0, statename="FATAL")
    # Each round one second later: the alert is due at the fifth failed round after the first.
    watch(closed_url(), manager, path, 1.0).run(rounds=4)
    assert manager.launches == 4, "STEP 3: launched again each round it is FATAL"
    assert not path.exists(), "never before the RTO"
    watch_all = watch(closed_url(), manager, path, 1.0)
    watch_all.run(rounds=12)
    alerts = read_alerts(path.read_text(encoding="utf-8"))
    assert [(a.severity, a.what) for a in alerts] == [("P0", AGENT_FAILURE)], "once"
    assert manager.signals == [], "nothing to kill: no process"


def test_a_crash_looping_agent_is_alerted_but_one_stopped_on_purpose_or_answering_is_not(
    tmp_path, failing_url
):
    looping = tmp_path / "looping.txt"
    watch(closed_url(), FakeSupervisor(statename="BACKOFF"), looping, 1.0).run(rounds=8)
    assert len(read_alerts(looping.read_text(encoding="utf-8"))) == 1
    for name, url, state in (("stopped", closed_url(), "STOPPED"), ("up", failing_url, "RUNNING")):
        path = tmp_path / f"{name}.txt"
        manager = FakeSupervisor(statename=state)
        watch(url, manager, path, 1.0).run(rounds=8)
        assert not path.exists(), name
        assert manager.launches == 0, name


def test_an_alert_that_cannot_be_written_is_tried_again_next_round(tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the alert's directory should be", encoding="utf-8")
    path = blocked / "EMERGENCY_ALERT.txt"
    watchdog = watch(closed_url(), FakeSupervisor(statename="FATAL"), path, 1.0)
    verdicts, unresolved = Verdicts(RULE.misses), Unresolved(RULE.unresolved_s)
    with httpx.Client(trust_env=False) as client:
        for _ in range(8):
            watchdog.round(client, verdicts, unresolved)
        assert not blocked.is_dir()
        blocked.unlink()  # the disk is writable again
        watchdog.round(client, verdicts, unresolved)
    assert [a.severity for a in read_alerts(path.read_text(encoding="utf-8"))] == ["P0"]
