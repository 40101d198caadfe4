"""The chaos lifecycle every drill follows, and the SOP-window arithmetic drills share.

Steady state is checked before the fault and after its revert (Chaos Toolkit's
hypothesis); detection is asserted as a window around the reference model's instant
(sop.oracle), never before the SOP's threshold and never after threshold + one probe
interval + ``DETECTION_TOLERANCE_MINUTES``. Every bound is read from the policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures.clock import DrillClock
from fixtures.evidence import EvidenceRecorder
from fixtures.faults import Fault, FaultFactory, StandinFault
from fixtures.probes import ModeChange, ModeWatch, Probes
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.topology import SERVICE_NAMES
from fixtures.waiting import wait_until
from sop.observations import ApiProbe, Heartbeat, Observation, ProcessCheck
from sop.oracle import Verdict, detection_window, first_offline
from sop.policy import Policy

#: How often (wall seconds) the harness looks at the dispatcher's heartbeat counter.
HEARTBEAT_POLL_S = 0.01


def steady_state(phase: str, probes: Probes, policy: Policy, evidence: EvidenceRecorder) -> None:
    """The SOP's steady state holds: agent online with heartbeats flowing, all services
    healthy, the emergency log's chain intact. Waits up to the agent's RTO (Appendix B)."""
    rto_minutes = policy.rto.agent_operations_minutes
    seen: dict[str, Any] = {}

    def look() -> dict[str, Any]:
        state = probes.agent_state()
        seen.update(
            mode=state.get("mode"),
            heartbeat=state.get("last_heartbeat_at"),
            # Every service of the topology is checked healthy in the steady state.
            unhealthy=[s for s in SERVICE_NAMES if not probes.healthy(s)],
        )
        return dict(seen)

    try:
        wait_until(
            look,
            lambda s: s["mode"] == "online" and s["heartbeat"] and not s["unhealthy"],
            timeout_s=probes.clock.wall_seconds(rto_minutes),
            interval_s=probes.poll_interval_s * 5,
            describe=f"steady state {phase} the fault",
            ignore=(Exception,),
        )
        entries = len(probes.emergency_log())
        ok, why = True, f"agent online, services healthy, emergency log intact ({entries})"
    except Exception as exc:
        ok, why = False, f"{type(exc).__name__}: {exc}"
    evidence.steady_state(phase, ok, why, **{k: v for k, v in seen.items() if k != "heartbeat"})
    assert ok, f"steady state {phase} the fault does not hold: {why}"


def mark_heartbeat(probes: Probes, policy: Policy) -> tuple[float, float]:
    """Wait for the dispatcher to deliver a heartbeat; (last poll before it, first poll after).

    The agent's last valid heartbeat lies between the two monotonic instants returned, so
    a fault injected at once has a silence origin known to a few milliseconds.
    """
    before = probes.heartbeats_delivered()
    previous = time.monotonic()
    deadline = time.monotonic() + 2 * probes.clock.wall_seconds(
        policy.deployment.heartbeat_interval_minutes
    )
    while time.monotonic() < deadline:
        now_count = probes.heartbeats_delivered()
        now = time.monotonic()
        if now_count > before:
            return previous, now
        previous = now
        time.sleep(HEARTBEAT_POLL_S)  # a poll interval, bounded by the deadline above
    pytest.fail(f"no heartbeat delivered by the dispatcher in two intervals (count {before})")


@dataclass(frozen=True)
class Silence:
    """A fault injected just after a heartbeat was delivered, timed from that heartbeat.

    The heartbeat lies in the ``gap_minutes`` (SOP) before ``origin_mono``, the first poll
    that saw it; the fault took effect ``began_minutes`` (SOP) after ``origin_mono``.
    """

    origin_mono: float
    gap_minutes: float
    began_minutes: float


@contextmanager
def injected_after_heartbeat(fault: Fault, probes: Probes, policy: Policy) -> Iterator[Silence]:
    """Wait for a heartbeat, inject ``fault`` at once and hold it for the block; the
    revert runs in a ``finally`` (the fault's own context manager)."""
    lower, upper = mark_heartbeat(probes, policy)
    with fault:
        injected = fault.injected_at_mono
        assert injected is not None, f"{fault.name}: injected without an instant"
        clock = probes.clock
        yield Silence(upper, clock.sop_minutes(upper - lower), clock.sop_minutes(injected - upper))


def scenario_a_timeline(policy: Policy, heartbeat_at: float, killed_at: float) -> list[Observation]:
    """What the agent can observe after a kill: the last heartbeat, then failures and death."""
    rule = policy.scenario_a
    probes = [
        ApiProbe(killed_at + n * rule.api_probe_interval_minutes, "unreachable")
        for n in range(1, rule.api_failures + 1)
    ]
    return [Heartbeat(heartbeat_at), *probes, ProcessCheck(killed_at, "dead")]


def outage_timeline(
    policy: Policy, heartbeat_at: float, began_at: float, outcome: str, process: str, until: float
) -> list[Observation]:
    """What the agent can observe of a dispatcher that stopped answering at ``began_at``:
    the last heartbeat, a failed probe (``outcome``) every interval up to ``until``, and
    the dispatcher's process in ``process`` state (it only counts when co-located)."""
    rule = policy.scenario_a
    count = int((until - began_at) / rule.api_probe_interval_minutes) + 1
    probes = [
        ApiProbe(began_at + n * rule.api_probe_interval_minutes, outcome)
        for n in range(1, count + 1)
    ]
    return [Heartbeat(heartbeat_at), *probes, ProcessCheck(began_at, process)]


def sop_since(clock: DrillClock, origin_mono: float, at_mono: float) -> float:
    """SOP minutes from ``origin_mono`` to ``at_mono``."""
    return clock.sop_minutes(at_mono - origin_mono)


@dataclass(frozen=True)
class Window:
    """The oracle's verdicts for the earliest and the latest timeline the harness's
    observations allow (the origin, the last heartbeat, is known to a poll interval)."""

    earliest: Verdict
    latest: Verdict


def oracle_window(
    timeline_at: Callable[[float], list[Observation]],
    gap: float,
    policy: Policy,
    *,
    co_located: bool,
) -> Window:
    """The oracle's window for the outage ``timeline_at(heartbeat_at)`` describes, the last
    heartbeat lying somewhere in the ``gap`` SOP minutes before the origin."""
    return Window(
        earliest=first_offline(timeline_at(-gap), policy, co_located=co_located),
        latest=first_offline(timeline_at(0.0), policy, co_located=co_located),
    )


@dataclass(frozen=True)
class DetectionJudge:
    """Judges when the agent declared OFFLINE against the oracle's window, as evidence."""

    watch: ModeWatch
    policy: Policy
    clock: DrillClock
    evidence: EvidenceRecorder

    def assert_within(
        self,
        what: str,
        change: ModeChange,
        origin_mono: float,
        window: Window,
        expected_trigger: str,
        *,
        extra_minutes: float = 0.0,
    ) -> float:
        """OFFLINE was first seen inside the SOP window; return when (SOP-min from the origin).

        ``extra_minutes`` is SOP behaviour a fault adds (a probe timeout), stated by the drill.
        """
        start, _ = detection_window(window.earliest, self.policy, DETECTION_TOLERANCE_MINUTES)
        _, end = detection_window(
            window.latest, self.policy, DETECTION_TOLERANCE_MINUTES + extra_minutes
        )
        declared = sop_since(self.clock, origin_mono, change.at_mono)
        self.evidence.record_detection(
            trigger=change.state.get("trigger"),
            declared_sop_minutes=round(declared, 4),
            window_sop_minutes=(round(start, 4), round(end, 4)),
            what=what,
            oracle=window.latest.reason,
        )
        assert declared >= start, (
            f"drill {what}: offline declared after {declared:.2f} SOP-min, before the "
            f"{start:.2f} min threshold (false alarm)"
        )
        assert declared <= end, (
            f"drill {what}: offline declared after {declared:.2f} SOP-min, later than "
            f"{end:.2f} (threshold + probe interval + tolerance)"
        )
        assert change.state.get("trigger") == expected_trigger, (
            f"drill {what}: trigger {change.state.get('trigger')!r}, expected {expected_trigger!r}"
        )
        return declared

    def await_offline(
        self,
        what: str,
        origin_mono: float,
        window: Window,
        expected_trigger: str,
        *,
        extra_minutes: float = 0.0,
        wait_minutes: float | None = None,
    ) -> float:
        """Wait for OFFLINE until the window closes (or ``wait_minutes``), then judge it."""
        if wait_minutes is None:
            _, wait_minutes = detection_window(
                window.latest, self.policy, DETECTION_TOLERANCE_MINUTES + extra_minutes
            )
        change = self.watch.wait_for(
            "offline", timeout_s=self.clock.wall_seconds(wait_minutes), after_mono=origin_mono
        )
        return self.assert_within(
            what, change, origin_mono, window, expected_trigger, extra_minutes=extra_minutes
        )


def delivered_alerts(probes: Probes, policy: Policy, clock: DrillClock) -> list[dict[str, Any]]:
    """The SOP 3.1 alert(s) in the Discord stand-in's inbox, waited for up to the agent RTO."""
    messages: list[dict[str, Any]] = wait_until(
        lambda: probes.sink_messages("discord"),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the SOP 3.1 alert in the Discord stand-in's inbox",
    )
    return messages


def assert_never_offline(
    what: str, watch: ModeWatch, evidence: EvidenceRecorder, oracle_says_never: bool
) -> None:
    """The oracle says OFFLINE must not be declared, and the agent was never seen offline."""
    assert oracle_says_never, f"drill {what}: the oracle would declare OFFLINE; drill is wrong"
    offline = watch.first("offline")
    evidence.record_detection(
        trigger=None if offline is None else offline.state.get("trigger"),
        declared_sop_minutes=None if offline is None else 0.0,
        window_sop_minutes=None,
        what=what,
    )
    trigger = None if offline is None else offline.state.get("trigger")
    assert offline is None, (
        f"drill {what}: the agent declared OFFLINE ({trigger}; reason in its emergency log) "
        "although the SOP threshold was never met (false alarm)"
    )


def storm_offline_within(policy: Policy) -> float:
    """SOP minutes a provider storm may take to be declared: the dispatcher's next call
    (one heartbeat interval), SOP 2B's threshold, one probe interval, the tolerance."""
    return (
        policy.deployment.heartbeat_interval_minutes
        + policy.scenario_b.rate_limited_minutes
        + policy.scenario_a.api_probe_interval_minutes
        + DETECTION_TOLERANCE_MINUTES
    )


@contextmanager
def offline_by_storm(
    faults: FaultFactory, watch: ModeWatch, policy: Policy, clock: DrillClock
) -> Iterator[StandinFault]:
    """OFFLINE the quickest way the SOP allows (Scenario B), held until the block ends.

    The drills of SOP 4 ("while offline") need the offline state, not a particular cause;
    a provider storm keeps the dispatcher alive, so nothing it sends ends the state early.
    The storm is reverted in a ``finally``, whatever the block does.
    """
    with faults.provider_storm() as storm:
        watch.wait_for(
            "offline",
            timeout_s=clock.wall_seconds(storm_offline_within(policy)),
            after_mono=storm.injected_at_mono or 0.0,
        )
        yield storm


@contextmanager
def offline_by_kill(
    faults: FaultFactory, probes: Probes, watch: ModeWatch, policy: Policy, clock: DrillClock
) -> Iterator[ModeChange]:
    """OFFLINE by Scenario A: the dispatcher killed just after a heartbeat, until the block ends.

    Yields the OFFLINE sighting; the block's end restarts the dispatcher (the kill's
    revert, in a ``finally``), which is where the SOP 5 drills begin.
    """
    rule = policy.scenario_a
    _, origin = mark_heartbeat(probes, policy)
    with faults.kill("dispatcher"):
        yield watch.wait_for(
            "offline",
            # SOP 2A: the silence, then the probes that confirm it, one interval of slack.
            timeout_s=clock.wall_seconds(
                rule.silence_minutes + 2 * rule.api_probe_interval_minutes
            ),
            after_mono=origin,
        )


def marker_entries(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SOP 3.3 markers of an emergency log."""
    return [entry for entry in entries if entry.get("kind") == "marker"]


def decisions(entries: Sequence[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """The action-gate decisions about ``action`` in an emergency log."""
    return [e for e in entries if e.get("kind") == "decision" and e.get("action") == action]
