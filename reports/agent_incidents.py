"""The incidents the agent logged in each drill, with their severity, for the drill's card.

Issue 13: "every incident the agent reports carries the severity the seeds assign to its
kind, and the report shows it". The agent writes each incident to its emergency log first,
with its ``category`` (the kind: ``data_corruption``, ``risk_controls_failed``, an
escalation's ``escalation`` with the ``incident`` it escalates) and its ``severity``
(sut/agent/incident_desk.py). The harness records that log from disk in the drill's
history (``LogEntry`` records, sop/history.py), written as OUT/history/<drill>.json; this
module reads it back and renders the incident entries as a small table. A drill without a
history (no deployment), or whose agent logged no incident, shows a one-line note.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from sop.errors import EvidenceError
from sop.history import History, LogEntry

#: Where the harness writes each drill's history (fixtures/history_check.py, HISTORY_DIR).
HISTORY_DIR = "history"
# The file-safe node id of fixtures/history_check.py's history_path: reports imports only
# sop, so the rule is repeated here (tests/reports/test_agent_incidents.py writes through
# the harness's own function, so the two cannot drift unnoticed).
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class LoggedIncident:
    """One ``incident`` entry of the agent's emergency log, as the report shows it."""

    kind: str  # the incident kind: the entry's category (an escalation adds what it escalates)
    severity: str
    at_wall: str  # the entry's own timestamp (the agent's clock, UTC)
    at_minutes: float  # SOP minutes since the drill's start (the harness's clock)
    reason: str


def history_file(out_dir: Path, nodeid: str) -> Path:
    """OUT/history/<file-safe node id>.json, where the harness wrote ``nodeid``'s history."""
    return Path(out_dir) / HISTORY_DIR / f"{_UNSAFE.sub('_', nodeid).strip('_')}.json"


def _incident(record: LogEntry) -> LoggedIncident:
    entry = record.entry
    kind = str(entry.get("category") or "incident")
    if entry.get("incident"):
        kind = f"{kind}: {entry['incident']}"
    return LoggedIncident(
        kind=kind,
        severity=str(entry.get("severity") or "none"),
        at_wall=str(entry.get("at") or ""),
        at_minutes=record.at,
        reason=str(entry.get("reason") or ""),
    )


def logged_incidents(history: History) -> tuple[LoggedIncident, ...]:
    """The incident entries of the history's emergency log, each once, in time order.

    The harness reads the log from disk more than once; an entry is known by its hash
    (its seq where it has none) and its epoch (``sealed_in``)."""
    seen: set[tuple[object, str | None]] = set()
    found = []
    for record in history.of(LogEntry):
        if record.entry.get("kind") != "incident":
            continue
        key = (record.entry.get("hash", record.entry.get("seq")), record.sealed_in)
        if key not in seen:
            seen.add(key)
            found.append(_incident(record))
    return tuple(found)


def read_incidents(out_dir: Path, nodeid: str) -> tuple[LoggedIncident, ...] | None:
    """The incidents the agent logged in drill ``nodeid``; None when no history was written
    or it cannot be read (the report says so rather than failing)."""
    path = history_file(out_dir, nodeid)
    try:
        return logged_incidents(History.from_dict(json.loads(path.read_text("utf-8"))))
    except (OSError, ValueError, EvidenceError):
        return None


def render_incidents(incidents: Sequence[LoggedIncident] | None) -> str:
    """The card's section: a table of kind, severity and when, or a one-line note."""
    if incidents is None:
        return "<p class='muted'>Agent incidents: no history recorded for this drill.</p>"
    if not incidents:
        return "<p class='muted'>Agent incidents: none logged in its emergency log.</p>"
    rows = "".join(
        f"<tr><td>{escape(i.kind)}</td><td><span class='badge {escape(i.severity)}'>"
        f"{escape(i.severity)}</span></td><td class='num'>{i.at_minutes:.2f}</td>"
        f"<td><code>{escape(i.at_wall)}</code></td><td>{escape(i.reason)}</td></tr>"
        for i in incidents
    )
    return (
        f"<div class='incidents'><b>Incidents the agent logged ({len(incidents)}), with the "
        "severity the seeds give their kind</b><table><tr><th>kind</th><th>severity</th>"
        "<th>SOP min</th><th>at (UTC)</th><th>reason</th></tr>"
        f"{rows}</table></div>"
    )


def incidents_section(out_dir: Path, nodeid: str) -> str:
    """The rendered incidents of drill ``nodeid`` from OUT's history."""
    return render_incidents(read_incidents(out_dir, nodeid))


__all__ = [
    "HISTORY_DIR",
    "LoggedIncident",
    "history_file",
    "incidents_section",
    "logged_incidents",
    "read_incidents",
    "render_incidents",
]
