"""What the evidence of one failed drill says as an incident: its facts, for the two drafts.

The post-incident review (reports/review.py) and the on-call handoff (reports/handoff.py)
are two templates over the same facts: when the drill ran, what was injected and
reverted, what the agent declared, whom it alerted, what it did, how it ended, and the
correlation ids that tie each line to evidence.json. Gathered once, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from reports.audit import sop_clauses
from reports.measures import DrillMeasures, sop_duration
from reports.results import DrillResult
from sop.events import Event
from sop.evidence import Detection
from sop.timescale import TimeScale

#: Sub-directories of the run's output that hold the drafts.
PIR_DIR = "pir"
HANDOFF_DIR = "handoff"


@dataclass(frozen=True)
class TimelineLine:
    """One line of an incident timeline: UTC time and what happened."""

    at: str
    text: str


@dataclass(frozen=True)
class Incident:
    """A failed drill as an incident, with every fact the templates ask for."""

    incident_id: str
    drill: DrillResult
    measures: DrillMeasures
    started: datetime
    ended: datetime
    severity: str  # P0..P3 (emergency-procedures.md classification)
    components: tuple[str, ...]
    timeline: tuple[TimelineLine, ...]
    correlation_ids: tuple[str, ...]
    red_list_executed: tuple[str, ...]
    steady_after: bool | None

    @property
    def duration_s(self) -> float:
        """Wall seconds the drill ran."""
        return self.drill.duration_s


def slug(nodeid: str) -> str:
    """A file name for a drill: its module and test name, safe on every filesystem."""
    module, _, name = nodeid.rpartition("::")
    stem = module.rsplit("/", 1)[-1].removesuffix(".py")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}.{name}").strip("_")[:150]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _hhmmss(event: Event) -> str:
    return _utc(event.at_wall).strftime("%H:%M:%S.%f")[:-3] + "Z"


def _line(event: Event) -> str | None:
    data = event.data
    if event.kind == "fault_injected":
        return f"Fault injected: {data.get('fault')} [{event.correlation_id}]"
    if event.kind == "fault_reverted":
        return f"Fault reverted: {data.get('fault')} [{event.correlation_id}]"
    detection = Detection.of_event(event.kind, data)
    if detection is not None:
        return f"Detection measured: {detection.describe()}"
    if event.kind == "state_change" and event.source == "probes":
        trigger = f" ({data['trigger']})" if data.get("trigger") else ""
        return f"Agent seen {data.get('mode')}{trigger} by the harness's poll"
    if event.kind == "notification" and event.source in ("discord", "signal"):
        # An alert, an escalation or a resolution: the sink keeps no kind, the text says.
        return f"Message received by 0x01's {event.source} inbox"
    if event.kind == "notification" and data.get("log_kind") == "notification":
        return f"Alert sent to 0x01 via {data.get('channel')}: {data.get('outcome')}"
    if event.kind == "notification" and data.get("log_kind") == "marker":
        return f"SOP 3.3 marker written: {data.get('trigger')}: {data.get('reason')}"
    if event.kind == "action":
        return (
            f"Action {data.get('action')} on {data.get('target')}: {data.get('decision')} "
            f"({data.get('reason')})"
        )
    if event.kind == "resync":
        return f"Re-sync {data.get('step')}: {data.get('outcome')}"
    if event.source == "steady_state":
        held = "held" if data.get("ok") else "DID NOT hold"
        return f"Steady state {data.get('steady_state')} the fault {held}: {data.get('describe')}"
    return None


def _severity(drill: DrillResult) -> str:
    # emergency-procedures.md: P1 "Agent unresponsive" class: detection, alerting and
    # recovery controls; P2 a partial degradation: the other SOP controls.
    sections = {c[0] for c in sop_clauses(drill) if not c.startswith("6.")}
    return "P1" if sections & {"2", "3", "5"} else "P2"


def incident_of(drill: DrillResult, measures: DrillMeasures, red_list: frozenset[str]) -> Incident:
    """The incident a failed drill stands for."""
    events = sorted(drill.events, key=lambda e: e.at_mono)
    lines = tuple(
        TimelineLine(_hhmmss(event), text) for event in events if (text := _line(event)) is not None
    )
    components = sorted(
        {
            str(e.data.get("service") or e.data.get("fault"))
            for e in events
            if e.kind == "fault_injected"
        }
    )
    executed = tuple(
        str(e.data.get("action"))
        for e in events
        if e.kind == "action"
        and e.data.get("decision") == "executed"
        and e.data.get("action") in red_list
    )
    after = [
        e for e in events if e.source == "steady_state" and e.data.get("steady_state") == "after"
    ]
    ids = [drill.correlation_id] if drill.correlation_id else []
    ids += sorted({e.correlation_id for e in events})
    return Incident(
        incident_id=f"DRILL-{drill.correlation_id or slug(drill.nodeid)}",
        drill=drill,
        measures=measures,
        started=_utc(drill.started_at),
        ended=_utc(drill.ended_at),
        severity=_severity(drill),
        components=tuple(components) or ("(no fault recorded)",),
        timeline=lines,
        correlation_ids=tuple(dict.fromkeys(ids)),
        red_list_executed=executed,
        steady_after=bool(after[-1].data.get("ok")) if after else None,
    )


def checkpoint(incident: Incident, hours: float) -> datetime:
    """The next decision checkpoint: ``hours`` after the drill ended."""
    return incident.ended + timedelta(hours=hours)


def measured_lines(incident: Incident, scale: TimeScale) -> list[str]:
    """The drill's figures against the SOP targets, one line each."""
    lines = []
    figures = incident.measures
    for label, figure in (
        ("Detection", figures.detection),
        ("Notification latency", figures.notification),
        ("Time to recovery", figures.recovery),
    ):
        if figure is not None:
            lines.append(f"{label}: {figure.measured} (target {figure.target}; SOP time)")
    lines.append(
        f"Drill duration: {incident.duration_s:.1f} s wall = "
        f"{sop_duration(scale.sop_minutes(incident.duration_s))} SOP time"
    )
    return lines


__all__ = [
    "HANDOFF_DIR",
    "PIR_DIR",
    "Incident",
    "TimelineLine",
    "checkpoint",
    "incident_of",
    "measured_lines",
    "slug",
]
