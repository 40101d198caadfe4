"""The emergency alert file: the line a host writes for a person when an incident is unresolved.

emergency-procedures.md scenario 1, STEP 4 "Notify Grandfather (Immediate if unresolved)"::

    echo "P0: Agent failure at $(date)" > /root/allegro/EMERGENCY_ALERT.txt

The SUT writes such lines (the agent's watchdog for an agent it cannot bring back, the
dispatcher for a distress signal still unresolved at the end of Level 2) and the harness
reads them from the host's disk. One line per alert, appended rather than overwritten
(the seed's ``>``): a second alert is a second line an auditor can count, not an overwrite
that hides the first. The time is ISO-8601 (the seed's ``$(date)``, in a form a reader
parses without a locale). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sop.severity import SEVERITY_LEVELS

#: The file's name on every host (the seed's /root/allegro/EMERGENCY_ALERT.txt).
EMERGENCY_ALERT_FILE = "EMERGENCY_ALERT.txt"
#: What the watchdog says of an agent it cannot bring back (scenario 1 STEP 4's words).
AGENT_FAILURE = "Agent failure"
#: What the dispatcher says of an incident still unresolved after Level 2 (escalation
#: matrix: "Level 2: Father Intervention ... Escalates to Level 3 if unresolved").
LEVEL_3 = "Level 3 escalation"

_LINE = re.compile(r"^(P[0-3]): (.+) at (\S+)$")


@dataclass(frozen=True)
class AlertLine:
    """One line of the file: ``SEVERITY: WHAT at WHEN``."""

    severity: str
    what: str
    at: datetime

    def render(self) -> str:
        """The line as written, newline included."""
        return f"{self.severity}: {self.what} at {self.at.isoformat(timespec='seconds')}\n"


def alert_line(severity: str, what: str, at: datetime) -> str:
    """The line for one alert; ValueError for an unknown level, a line break or no zone."""
    if severity not in SEVERITY_LEVELS:
        raise ValueError(f"alert line: severity {severity!r} is none of {SEVERITY_LEVELS}")
    if "\n" in what or "\r" in what or not what.strip():
        raise ValueError(f"alert line: {what!r} must be one non-empty line")
    if at.tzinfo is None:
        raise ValueError("alert line: the time must carry its zone")
    return AlertLine(severity, what, at).render()


def alert_beside(path: str) -> PurePosixPath:
    """The host's EMERGENCY_ALERT.txt in the directory of ``path``, a state file of the host
    (the agent's emergency log)."""
    return PurePosixPath(path).parent / EMERGENCY_ALERT_FILE


def read_alerts(text: str) -> list[AlertLine]:
    """Every alert line of the file's ``text``, oldest first; other lines are skipped."""
    found = []
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if match is None:
            continue
        try:
            at = datetime.fromisoformat(match[3])
        except ValueError:
            continue
        found.append(AlertLine(match[1], match[2], at))
    return found


__all__ = [
    "AGENT_FAILURE",
    "EMERGENCY_ALERT_FILE",
    "LEVEL_3",
    "AlertLine",
    "alert_beside",
    "alert_line",
    "read_alerts",
]
