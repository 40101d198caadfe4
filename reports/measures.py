"""What each drill measured, side by side with the SOP's target, read from its timeline.

Three figures the SOP and its companions set a target for:

* detection: when OFFLINE was declared against the reference model's window (SOP 2,
  "Trigger Verification" of SOP 6.2: within 15 minutes);
* notification latency: from OFFLINE to the first alert a person received (SOP 3:
  "immediately"; the SOP sets no number, so the figure is shown, not judged);
* time to recovery: from the end of the outage (the fault reverted) to the agent back
  online, against the RTO of emergency-procedures.md Appendix B.

And for a drill that did not pass, the first place it diverged from the reference
model (sop/oracle.py's window as the drill recorded it), or the first check that failed.
All durations are SOP minutes at the run's time scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.results import DrillResult, RunResults
from sop.errors import PolicyError
from sop.events import Event
from sop.evidence import Detection
from sop.policy import load_policy
from sop.timescale import TimeScale

#: Sources whose state_change events are the harness's own polls of the agent.
PROBE_SOURCE = "probes"
#: Sources of the SUT's own records (fixtures/aftermath.py): the log and the inboxes.
LOG_SOURCE = "emergency_log"
INBOX_SOURCES = ("discord", "signal")
#: SOP 3's target, in words: the SOP gives no number.
NOTIFICATION_TARGET = "immediately (SOP 3)"


@dataclass(frozen=True)
class Figure:
    """One measured value against its target; ``met`` None when the SOP gives no bound."""

    measured: str
    target: str
    met: bool | None


@dataclass(frozen=True)
class DrillMeasures:
    """A drill's detection, notification latency and recovery, and its first divergence."""

    detection: Figure | None
    notification: Figure | None
    recovery: Figure | None
    offline_at_mono: float | None
    online_again_mono: float | None
    divergence: str | None


def sop_duration(minutes: float) -> str:
    """A SOP duration for people: seconds below a minute, minutes above."""
    return f"{minutes * 60:.1f} s" if abs(minutes) < 1 else f"{minutes:.2f} min"


def rto_minutes(run: Mapping[str, Any]) -> float | None:
    """The agent's RTO the run was held to: its policy snapshot, else today's policy."""
    snapshot = run.get("policy_snapshot")
    if isinstance(snapshot, Mapping):
        value = (snapshot.get("rto") or {}).get("agent_operations_minutes")
        if isinstance(value, int | float):
            return float(value)
    try:
        return load_policy().rto.agent_operations_minutes
    except PolicyError:
        return None


def run_scale(run: Mapping[str, Any]) -> TimeScale:
    """The run's time scale (1 when the evidence does not say)."""
    factor = run.get("time_scale")
    return (
        TimeScale(float(factor))
        if isinstance(factor, int | float) and factor > 0
        else (TimeScale(1.0))
    )


def _first(events: Sequence[Event], after: float, test: Any) -> Event | None:
    return next((e for e in events if e.at_mono >= after and test(e)), None)


def _mode(event: Event, mode: str) -> bool:
    return (
        event.kind == "state_change"
        and event.data.get("mode") == mode
        and (event.source in (PROBE_SOURCE, LOG_SOURCE))
    )


def _offline(events: Sequence[Event]) -> Event | None:
    """The harness's first sighting of OFFLINE (the agent's own log entry if none)."""
    seen = _first(events, float("-inf"), lambda e: _mode(e, "offline") and e.source == PROBE_SOURCE)
    return seen or _first(events, float("-inf"), lambda e: _mode(e, "offline"))


def _declared(events: Sequence[Event]) -> Event | None:
    """The earliest record of OFFLINE: the agent's log entry, or the harness's sighting."""
    return _first(events, float("-inf"), lambda e: _mode(e, "offline"))


def _received(event: Event) -> bool:
    if event.kind != "notification":
        return False
    if event.source in INBOX_SOURCES:
        return True
    return event.source == LOG_SOURCE and event.data.get("outcome") == "delivered"


def _detection(drill: DrillResult) -> Figure | None:
    found = drill.detection
    if found is None:
        return None
    if found.window_start_sop_minutes is None:
        measured = (
            "not declared"
            if found.declared_sop_minutes is None
            else f"declared ({found.trigger or 'no trigger'})"
        )
        return Figure(measured, "must not be declared", found.within_window)
    measured = (
        "never declared"
        if found.declared_sop_minutes is None
        else f"{found.declared_sop_minutes:.2f} min"
    )
    window_end = found.window_end_sop_minutes or 0.0
    target = f"{found.window_start_sop_minutes:.2f}–{window_end:.2f} min"
    return Figure(measured, target, found.within_window)


#: SOP section 6 step 5, "Restoration": the drills that promise a recovery.
RESTORATION_STEP = 5


def _recovery(
    events: Sequence[Event], offline: Event, scale: TimeScale, rto: float | None, *, judged: bool
) -> tuple[Figure | None, float | None]:
    """From the outage's end to the agent online again, against the RTO (Appendix B)."""
    # The outage ends when the dispatcher is back: the harness's revert, or the agent's
    # own "recovering" entry when that came first (a revert is recorded once complete).
    ends = [
        e
        for e in (
            _first(events, offline.at_mono, lambda e: e.kind == "fault_reverted"),
            _first(events, offline.at_mono, lambda e: _mode(e, "recovering")),
        )
        if e is not None
    ]
    if not ends:
        return None, None
    start = min(ends, key=lambda e: e.at_mono)
    target = "RTO not known" if rto is None else f"RTO {rto:g} min"
    back = _first(events, offline.at_mono, lambda e: _mode(e, "online"))
    if back is None:
        # Only a drill of SOP 6.5 (restoration) promises to see the agent back online; the
        # others end with their fault and are not judged on a recovery they never waited for.
        if judged:
            return Figure("not back online", target, False), None
        return Figure("not awaited by this drill", target, None), None
    took = max(0.0, scale.sop_minutes(back.at_mono - start.at_mono))
    return Figure(sop_duration(took), target, None if rto is None else took <= rto), back.at_mono


def measure(drill: DrillResult, scale: TimeScale, rto: float | None) -> DrillMeasures:
    """The figures of one drill from its events."""
    # The SUT's own records are appended after the drill, at the instants they happened.
    events = sorted(drill.events, key=lambda e: e.at_mono)
    offline = _offline(events)
    notification = recovery = None
    online_again: float | None = None
    declared = _declared(events)
    if offline is not None and declared is not None:
        # SOP 3 "upon confirming": the clock starts at the agent's own declaration.
        alert = _first(events, declared.at_mono, _received)
        if alert is not None:
            latency = scale.sop_minutes(alert.at_mono - declared.at_mono)
            via = alert.data.get("channel") or alert.source
            notification = Figure(f"{sop_duration(latency)} via {via}", NOTIFICATION_TARGET, None)
        else:
            notification = Figure("no alert received", NOTIFICATION_TARGET, None)
        recovery, online_again = _recovery(
            events, offline, scale, rto, judged=RESTORATION_STEP in drill.test_plan
        )
    return DrillMeasures(
        detection=_detection(drill),
        notification=notification,
        recovery=recovery,
        offline_at_mono=None if offline is None else offline.at_mono,
        online_again_mono=online_again,
        divergence=None if drill.verdict == "PASS" else first_divergence(drill),
    )


def first_divergence(drill: DrillResult) -> str:
    """Where a drill that did not pass first departed from the SOP's reference model."""
    found = drill.detection
    if found is not None and not found.within_window:
        oracle = next(
            (
                e.data.get("oracle")
                for e in reversed(drill.events)
                if Detection.of_event(e.kind, e.data) is not None
            ),
            None,
        )
        because = f" (reference model: {oracle})" if oracle else ""
        if found.window_start_sop_minutes is None:
            return (
                "The reference model says OFFLINE must not be declared (the SOP threshold was "
                f"never met); the agent declared it ({found.trigger or 'no trigger'}){because}."
            )
        start, end = found.window_start_sop_minutes, found.window_end_sop_minutes or 0.0
        if found.declared_sop_minutes is None:
            return (
                f"The reference model declares OFFLINE by {end:.2f} SOP-min; the agent never "
                f"did{because}."
            )
        if found.declared_sop_minutes < start:
            return (
                f"The agent declared OFFLINE at {found.declared_sop_minutes:.2f} SOP-min, before "
                f"the reference model's {start:.2f} (a false alarm){because}."
            )
        return (
            f"The agent declared OFFLINE at {found.declared_sop_minutes:.2f} SOP-min, after the "
            f"window closed at {end:.2f}{because}."
        )
    broken = next(
        (e for e in drill.events if e.source == "steady_state" and not e.data.get("ok")), None
    )
    if broken is not None:
        return (
            f"The steady state {broken.data.get('steady_state')} the fault did not hold: "
            f"{broken.data.get('describe')}."
        )
    if drill.verdict in ("SKIPPED", "ABORTED"):
        return f"The drill did not run its method: {drill.reason or 'no reason recorded'}."
    if drill.verdict == "INTERRUPTED":
        return "The run stopped during the drill; nothing after that instant was observed."
    reason = drill.reason or (drill.junit.message if drill.junit else None)
    return (
        "Detection agreed with the reference model; the drill failed on a later check: "
        f"{reason or 'no reason recorded'}."
    )


def measure_run(results: RunResults) -> dict[str, DrillMeasures]:
    """Every drill's measures, by node id."""
    scale, rto = run_scale(results.run), rto_minutes(results.run)
    return {drill.nodeid: measure(drill, scale, rto) for drill in results.drills}


__all__ = [
    "NOTIFICATION_TARGET",
    "DrillMeasures",
    "Figure",
    "first_divergence",
    "measure",
    "measure_run",
    "rto_minutes",
    "run_scale",
    "sop_duration",
]
