"""A re-sync the dispatcher refuses is escalated once past the Agent Operations RTO (issue 14).

Resync runs against a scripted dispatcher (an httpx MockTransport) on a fake clock: every
retry's sleep moves SOP time on by the retry interval, so a re-sync of an hour takes no wall time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sop.policy import load_policy
from sop.timescale import TimeScale
from sut.agent.clock import SopClock
from sut.agent.emlog import EmergencyLog
from sut.agent.resync import Resync
from sut.agent.resync_watch import Escalation, ResyncWatch, is_refusal
from sut.dispatcher.incidents import validate_distress_signal

POLICY = load_policy()
RTO_MINUTES = POLICY.rto.agent_operations_minutes
RETRY_MINUTES = POLICY.deployment.upload_retry_interval_minutes
DISPATCHER = "http://dispatcher.test"
CONFLICT = "epoch 7: seq 0 is stored with another hash"


class FakeClock(SopClock):
    """SOP minutes that move only when the re-sync sleeps (one SOP second per wall second)."""

    def __init__(self) -> None:
        super().__init__(TimeScale(1))
        self.minutes = 0.0

    def now(self) -> float:
        return self.minutes

    async def sleep(self, seconds: float) -> None:
        self.minutes += seconds / 60


#: What an upload gets at a SOP minute: an answer, an exception raised, or None (accepted).
Script = Callable[[float], httpx.Response | Exception | None]


class Dispatcher:
    """Answers the re-sync's routes; ``script`` says what an upload gets at a given minute."""

    def __init__(self, clock: FakeClock, script: Script) -> None:
        self.clock = clock
        self.script = script
        self.calls: list[tuple[float, str, int | None]] = []  # (minute, path, status)
        self.acknowledged_through = -1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        answer = self.script(self.clock.minutes) if path == "/v1/emergency-log" else None
        if isinstance(answer, Exception):
            self.calls.append((self.clock.minutes, path, None))
            raise answer
        if answer is None:
            answer = self.accept(request)
        self.calls.append((self.clock.minutes, path, answer.status_code))
        return answer

    def accept(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/integrity-check":
            return httpx.Response(200, json={"status": "ok", "entries": 1, "head": "ab"})
        upload = json.loads(request.content)
        self.acknowledged_through = upload["entries"][-1]["seq"]
        answer = {"epoch": upload["epoch"], "acknowledged_through": self.acknowledged_through}
        return httpx.Response(200, json=answer)


def conflict() -> httpx.Response:
    return httpx.Response(409, json={"error": CONFLICT})


def refused_until(minute: float) -> Script:
    """Uploads refused with a 409 before ``minute``, accepted from then on."""
    return lambda now: conflict() if now < minute else None


class Bench:
    """The agent's SOP 5 with its watch, against a scripted dispatcher, on a fake clock."""

    def __init__(self, tmp_path: Path, script: Script) -> None:
        self.clock = FakeClock()
        self.dispatcher = Dispatcher(self.clock, script)
        self.escalations: list[tuple[float, Escalation]] = []  # (SOP minute, escalation)
        self.watch = ResyncWatch(RTO_MINUTES, self.clock, self._escalated)
        self.log = EmergencyLog(tmp_path / "emergency.log")
        self.log.append("decision", action="rotate_logs", decision="executed")
        self.runs = 0

    def resync(self) -> int:
        """One whole re-sync; the seq its upload had acknowledged."""
        self.runs += 1
        return asyncio.run(self._run())

    async def _run(self) -> int:
        transport = httpx.MockTransport(self.dispatcher)
        async with httpx.AsyncClient(transport=transport) as client:
            resync = Resync(
                client,
                DISPATCHER,
                "ops",
                self.log,
                retry_s=RETRY_MINUTES * 60,
                timeout_s=1.0,
                sleep=self.clock.sleep,
                watch=self.watch,
            )
            return await resync.run(self.log.append)

    def _escalated(self, escalation: Escalation) -> None:
        self.escalations.append((self.clock.minutes, escalation))

    def completed(self) -> bool:
        """Whether the re-sync ended as SOP 5 asks: every step, the whole log acknowledged."""
        steps = [e["step"] for e in self.log.entries() if e["kind"] == "resync"]
        return (
            steps[-3:] == list(POLICY.recovery_steps)
            and self.dispatcher.acknowledged_through == self.log.entries()[-1]["seq"]
        )


def test_a_resync_refused_past_the_rto_is_escalated_once_with_the_reason(tmp_path):
    bench = Bench(tmp_path, refused_until(3 * RTO_MINUTES))

    bench.resync()

    [(at, escalation)] = bench.escalations  # a hundred refusals after the RTO: one escalation
    # Not before the RTO: at the first refusal after it.
    assert RTO_MINUTES <= at < RTO_MINUTES + RETRY_MINUTES
    assert (escalation.refusal.route, escalation.refusal.status) == ("/v1/emergency-log", 409)
    assert CONFLICT in escalation.refusal.error
    assert "POST /v1/emergency-log refused: HTTP 409" in escalation.reason
    assert CONFLICT in escalation.reason
    assert escalation.began == bench.clock.iso(0.0) == escalation.refused_since
    assert escalation.attempts == len([c for c in bench.dispatcher.calls if c[0] <= at])
    assert dict(escalation.tried) == {"/v1/emergency-log": escalation.attempts}
    # Retried on afterwards (SOP 5.2 "until acknowledged"): the re-sync ends once accepted.
    refused = [minute for minute, _, status in bench.dispatcher.calls if status == 409]
    assert refused[-1] >= 3 * RTO_MINUTES - RETRY_MINUTES
    assert bench.completed()


def test_a_refusal_that_clears_before_the_rto_is_not_escalated(tmp_path):
    bench = Bench(tmp_path, refused_until(RTO_MINUTES - 2 * RETRY_MINUTES))

    bench.resync()

    assert bench.escalations == []
    assert any(status == 409 for _, _, status in bench.dispatcher.calls)
    assert bench.completed()


@pytest.mark.parametrize(
    "away",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("no answer"),
        httpx.Response(503, json={"error": "unavailable"}),
        httpx.Response(429, json={"error": "rate limited"}),
    ],
    ids=["unreachable", "timeout", "5xx", "429"],
)
def test_a_dispatcher_away_or_restricted_past_the_rto_is_not_escalated(tmp_path, away):
    # SOP 2A.2 and 2B: the detector's to judge (OFFLINE again if it lasts); retried as before.
    bench = Bench(tmp_path, lambda now: away if now < 2 * RTO_MINUTES else None)

    bench.resync()

    assert bench.escalations == []
    assert bench.clock.minutes >= 2 * RTO_MINUTES
    assert bench.completed()


def test_a_refusal_after_the_rto_spent_away_is_escalated_at_once(tmp_path):
    def script(now: float) -> httpx.Response | Exception | None:
        if now < RTO_MINUTES + 1:
            return httpx.ConnectError("connection refused")
        return httpx.Response(403, json={"error": "signature: stale"}) if now < 30 else None

    bench = Bench(tmp_path, script)
    bench.resync()

    [(at, escalation)] = bench.escalations
    assert RTO_MINUTES + 1 <= at < RTO_MINUTES + 1 + RETRY_MINUTES
    assert escalation.refusal.status == 403
    assert escalation.refused_since == bench.clock.iso(at)
    assert escalation.began == bench.clock.iso(0.0)
    assert bench.completed()


def test_each_resync_escalates_once_afresh(tmp_path):
    # Each re-sync is refused until it has escalated, then accepted.
    bench: Bench = Bench(
        tmp_path, lambda now: conflict() if len(bench.escalations) < bench.runs else None
    )

    bench.resync()
    second_began = bench.clock.minutes
    bench.resync()

    assert len(bench.escalations) == 2
    assert bench.escalations[1][0] - second_began >= RTO_MINUTES
    assert bench.completed()


def test_the_registration_at_start_is_not_a_resync(tmp_path):
    bench = Bench(tmp_path, lambda now: None)
    refusals = httpx.Response(403, json={"error": "signature: stale"})
    for minute in (0.0, 2 * RTO_MINUTES):
        bench.clock.minutes = minute
        bench.watch.answered("/v1/agents", refusals)
    assert bench.escalations == []


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        (400, True),
        (401, True),
        (403, True),
        (409, True),
        (413, True),
        (422, True),
        (408, False),
        (429, False),
        (200, False),
        (500, False),
        (503, False),
    ],
)
def test_a_refusal_is_a_4xx_other_than_a_timeout_or_a_rate_limit(status, refusal):
    assert is_refusal(status) is refusal


def test_the_escalation_s_distress_signal_is_the_format_the_dispatcher_validates(tmp_path):
    bench = Bench(tmp_path, refused_until(RTO_MINUTES + 1))
    bench.resync()
    [(_, escalation)] = bench.escalations

    severity = load_policy().severity_of("resync_refused")  # P1: past the Agent Ops RTO
    signal = escalation.signal("ops", escalation_wall_s=900.0, severity=severity)

    validate_distress_signal(signal)  # raises RequestRejected on any deviation
    assert signal["category"] == "resync_refused"
    assert signal["severity"] == "P1"
    assert signal["requested_action"] == "father_intervention"
    assert signal["context"]["route"] == "/v1/emergency-log"
    assert signal["context"]["status"] == 409
    assert CONFLICT in signal["context"]["error"]
    text = escalation.alert_text("ops-1", severity)
    assert text.startswith("ESCALATION (P1)")
    assert escalation.began is not None
    for said in ("ops-1", "POST /v1/emergency-log", "409", CONFLICT, escalation.began):
        assert said in text
