"""The escalation matrix (emergency-procedures.md): what Level 1 leaves unresolved goes up, once.

Level 1 is the agent's own self-healing: "Duration: 0-5 minutes ... Escalates to Level 2 if
unresolved". Every distress signal the agent sends carries its ``escalation_timeout``, its
timestamp plus that time (sop/offline-emergency.yaml ``escalation.self_healing_minutes``).
:class:`EscalationWatch` holds each signal until what it reported is resolved (the service
runs again, the policy reads back, the data verifies); one still open at its timeout is
handed out once, as an :class:`Overdue` that says what failed, since when and what was tried.
The agent logs it and tells 0x01 (sut/agent/incident_desk.py). It is never repeated: the
signal stays escalated until resolved, and a new outage is a new signal with its own timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The ``category`` of an escalation's log entry and the ``about`` of its notifications.
CATEGORY = "escalation"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def attempts(decisions: Sequence[Mapping[str, Any]], target: str) -> tuple[str, ...]:
    """The gate's decisions about ``target``, counted: ``restart_service executed 2x``."""
    counts: dict[str, int] = {}
    for decision in decisions:
        if decision.get("target") == target:
            what = f"{decision.get('action')} {decision.get('decision')}"
            counts[what] = counts.get(what, 0) + 1
    return tuple(f"{what} {count}x" for what, count in counts.items())


@dataclass(frozen=True)
class Overdue:
    """A distress signal still unresolved at its escalation timeout: what, since, what tried."""

    signal: Mapping[str, Any]
    #: The incident kind (the severity table's key) the signal reported.
    kind: str
    #: What was tried, in words: the report itself, then the agent's own actions.
    tried: tuple[str, ...]

    @property
    def severity(self) -> str:
        """The severity the signal carried (the seeds' table, via the policy)."""
        return str(self.signal["severity"])

    @property
    def since(self) -> str:
        """When the failure was first reported (the signal's timestamp)."""
        return str(self.signal["timestamp"])

    @property
    def failed(self) -> str:
        """What failed, in the signal's own words."""
        error = self.signal.get("context", {}).get("error")
        message = str(self.signal["message"])
        return f"{message} ({error})" if error else message

    def log_fields(self) -> dict[str, Any]:
        """The emergency log's ``incident`` entry (besides its kind), written before 0x01 hears."""
        return {
            "category": CATEGORY,
            "incident": self.kind,
            "severity": self.severity,
            "component": self.signal["component"],
            "reason": f"{self.kind} unresolved at its escalation timeout: {self.failed}",
            "since": self.since,
            "escalation_timeout": self.signal["escalation_timeout"],
            "tried": list(self.tried),
        }

    def alert_text(self, host: str) -> str:
        """The message to 0x01: what failed, since when, what was tried."""
        return (
            f"ESCALATION ({self.severity}): {self.kind} unresolved past its escalation timeout "
            f"({self.signal['escalation_timeout']}). Host: {host}. Failed: {self.failed}. "
            f"Since: {self.since}. Tried: {'; '.join(self.tried)}. Level 1 self-healing is "
            "over; Level 2 is needed (emergency-procedures.md escalation matrix)."
        )


@dataclass
class _Open:
    signal: Mapping[str, Any]
    kind: str
    deadline: datetime
    #: How many of the agent's decisions came before the signal: the later ones were tried.
    decisions_before: int
    escalated: bool = False


@dataclass
class EscalationWatch:
    """Open distress signals by what they are about; each escalated once, at its timeout."""

    now: Callable[[], datetime] = field(default=_utc_now)
    _open: dict[str, _Open] = field(default_factory=dict)

    def open(self, key: str, kind: str, signal: Mapping[str, Any], decisions_before: int) -> None:
        """Watch ``signal`` about ``key``; one already open about ``key`` stays the one."""
        if key in self._open:
            return
        deadline = datetime.fromisoformat(str(signal["escalation_timeout"]))
        self._open[key] = _Open(signal, kind, deadline, decisions_before)

    def resolve(self, key: str) -> None:
        """What ``key`` reported is over: nothing more to escalate about it."""
        self._open.pop(key, None)

    def is_open(self, key: str) -> bool:
        """Whether a signal about ``key`` is open (escalated or not)."""
        return key in self._open

    def due(self, decisions: Sequence[Mapping[str, Any]]) -> list[Overdue]:
        """The open signals at or past their timeout not yet escalated; each handed out once.

        ``decisions`` are every decision of the agent's gate so far, oldest first: the ones
        about the signal's component since it was sent are what was tried besides it.
        """
        now = self.now()
        overdue = []
        for entry in self._open.values():
            if entry.escalated or now < entry.deadline:
                continue
            entry.escalated = True
            signal = entry.signal
            report = (
                f"distress signal to the Dispatcher at {signal['timestamp']} "
                f"({signal['requested_action']})"
            )
            done = attempts(decisions[entry.decisions_before :], str(signal["component"]))
            overdue.append(Overdue(signal, entry.kind, (report, *(done or ("no action",)))))
        return overdue


__all__ = ["CATEGORY", "EscalationWatch", "Overdue", "attempts"]
