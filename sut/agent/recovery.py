"""A restart that did not bring its service back: the child's distress signal to its father.

emergency-procedures.md scenario 2 STEP 4 (``recover-ollama.sh``): check Ollama, restart it,
verify; when the verify fails, "Ollama recovery FAILED" goes to the log and the father is
notified: ``echo "EMERGENCY: Ollama recovery failed at $(date)" > /father-messages/DISTRESS.txt``.
Here the restart is SOP 4's ``restart_service`` (green list, through the gate), the verify is
supervisord's start plus Ollama's test inference (sut/agent/inference.py), and a failure is
the gate's ``failed`` decision. :class:`RecoveryWatch` turns those decisions into one failed
recovery per outage (the remediation loop retries the restart every round; the father hears
of it once), over again once the service has been seen running. The incident desk logs it
first, then raises the distress signal (sut/agent/incident_desk.py): to the Dispatcher when
it can hear it, and always as the seed's line in the father's spool (:class:`DistressFile`),
a file on the agent's own host, so a father unreachable while the agent is OFFLINE finds it
there and in the emergency log the re-sync uploads (SOP 5.2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

#: The seed's spool file, below the father-messages directory.
DISTRESS_FILE: Final = "DISTRESS.txt"
#: ``date``'s default format (C locale), as the seed's ``$(date)`` prints it.
DATE_FORMAT: Final = "%a %b %e %H:%M:%S UTC %Y"
#: The names the seed's lines give the services (others go by their program's name).
_NAMES: Final[Mapping[str, str]] = {"ollama": "Ollama", "gitea": "Gitea"}


def display_name(service: str) -> str:
    """``Ollama`` for ``ollama``: the seed's spelling."""
    return _NAMES.get(service, service)


def distress_line(service: str, at: datetime) -> str:
    """The seed's line: ``EMERGENCY: Ollama recovery failed at Fri Dec  4 05:43:50 UTC 2026``."""
    date = at.astimezone(UTC).strftime(DATE_FORMAT)
    return f"EMERGENCY: {display_name(service)} recovery failed at {date}"


@dataclass(frozen=True)
class FailedRecovery:
    """A restart of ``service`` the gate allowed that did not bring it back, and why."""

    service: str
    error: str
    source: str

    def message(self) -> str:
        """The incident's reason: the seed's words, then supervisord's or the check's."""
        return f"{display_name(self.service)} recovery FAILED: {self.error}"

    def tried(self) -> str:
        """What was tried, in words (the escalation and the Gitea issue say it)."""
        return f"restart_service {self.service} ({self.source}) failed"


@dataclass
class RecoveryWatch:
    """Failed restarts, from the gate's decisions, one per outage of a service."""

    #: How many of the decisions were looked at already.
    _seen: int = 0
    #: The services whose failed recovery is raised and not yet over.
    _raised: set[str] = field(default_factory=set)

    def news(self, decisions: Sequence[Mapping[str, Any]]) -> list[FailedRecovery]:
        """The failed restarts among the decisions made since the last look, each service
        once until :meth:`resolve` sees it running (its retries are the same outage)."""
        fresh = decisions[self._seen :]
        self._seen = len(decisions)
        found: list[FailedRecovery] = []
        for decision in fresh:
            service = str(decision.get("target"))
            if (
                decision.get("action") != "restart_service"
                or decision.get("decision") != "failed"
                or service in self._raised
            ):
                continue
            self._raised.add(service)
            error = str(decision.get("error") or "no reason given")
            found.append(FailedRecovery(service, error, str(decision.get("source"))))
        return found

    def resolve(self, states: Mapping[str, str]) -> None:
        """Every service seen running again: its outage is over, the next failure is news."""
        self._raised -= {name for name, state in states.items() if state == "running"}


@dataclass(frozen=True)
class DistressFile:
    """The father's spool on this host: ``father-messages/DISTRESS.txt``, one line a signal.

    Appended, not overwritten as the seed's ``>`` does: a second signal must not erase a
    first one the father has not read yet. Each line is on disk (fsynced) before it counts.
    """

    directory: Path

    @property
    def path(self) -> Path:
        """The spool file itself."""
        return self.directory / DISTRESS_FILE

    def write(self, line: str) -> None:
        """Append ``line``; raises OSError when the host cannot keep it (a full disk)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{line}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = [
    "DATE_FORMAT",
    "DISTRESS_FILE",
    "DistressFile",
    "FailedRecovery",
    "RecoveryWatch",
    "display_name",
    "distress_line",
]
