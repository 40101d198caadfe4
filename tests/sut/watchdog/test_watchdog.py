"""The watchdog kills a hung agent (accepted, never answered) and nothing else."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from sop.policy import load_policy
from sop.timescale import TimeScale
from sut.watchdog import MIN_TIMEOUT_S, Rule, Verdicts, Watchdog, look_at

POLICY = load_policy()
#: Short enough for a test, long enough for 127.0.0.1 on a loaded machine.
RULE = Rule(interval_s=0.01, timeout_s=0.3, misses=POLICY.scenario_a.api_failures)


def test_the_rule_is_sop_2a2s_cadence_with_a_floor_on_the_wait():
    rule = Rule.of(POLICY, TimeScale(1))
    assert rule.interval_s == POLICY.scenario_a.api_probe_interval_minutes * 60
    assert rule.timeout_s == POLICY.deployment.api_probe_timeout_minutes * 60
    assert rule.misses == POLICY.scenario_a.api_failures
    assert Rule.of(POLICY, TimeScale(600)).timeout_s == MIN_TIMEOUT_S


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

    def process_info(self, name: str) -> dict[str, object]:
        return {"name": name, "pid": self.pid, "statename": self.statename}

    def send_signal(self, name: str, signal_name: str) -> None:
        self.signals.append((name, signal_name))


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
