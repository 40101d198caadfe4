"""Which agents answer their heartbeats, and every time one fell silent (a journal).

emergency-procedures.md scenario 1 ("Complete Agent Failure") names the first symptom
"Agent not responding to heartbeat": the dispatcher is where that shows. Each heartbeat
delivery says whether the agent answered (any HTTP status: a rejected envelope is still an
answer) or not (refused, reset, timed out: dead or hung). The first unanswered one opens a
silence, the next answer closes it; both are journaled, so a restarted dispatcher still
shows the silences it saw, and ``GET /v1/agents`` serves them beside each agent.

Each silence carries the severity the seeds give an unresponsive agent: emergency-procedures.md
"Severity Levels", P1 HIGH, "Agent unresponsive" (the policy's ``severity.agent_unresponsive``,
handed in by the app). It is journaled with the silence: a silence keeps the severity it was
recorded with, and one journaled before severities were recorded is read with today's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal

#: The incident kind of an agent that stops answering (the policy's severity table).
KIND = "agent_unresponsive"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class _Agent:
    """One agent's record: its last answer and its silences, the open one last."""

    last_answer_at: str | None = None
    silences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> dict[str, Any] | None:
        last = self.silences[-1] if self.silences else None
        return last if last is not None and last["until"] is None else None


class AgentSilences:
    """Answering or silent per agent, from the heartbeat deliveries; silences journaled.

    ``severity``: the level every new silence is recorded with (``Policy.severity_of(KIND)``).
    """

    def __init__(self, journal: Journal, severity: str, now: Callable[[], str] = _utc_now) -> None:
        self._journal = journal
        self._severity = severity
        self._now = now
        self._agents: dict[str, _Agent] = {}
        for record in journal.records():
            self._replay(record)

    def _replay(self, record: dict[str, Any]) -> None:
        agent = self._agents.setdefault(str(record.get("agent")), _Agent())
        if record.get("event") == "silent" and agent.open is None:
            agent.silences.append(
                {
                    "since": record.get("at"),
                    "until": None,
                    "missed": 1,
                    "error": record.get("error"),
                    "severity": record.get("severity") or self._severity,
                }
            )
        elif record.get("event") == "answering" and agent.open is not None:
            agent.open.update(until=record.get("at"), missed=record.get("missed"))

    def note(self, delivery: Delivery) -> None:
        """Fold one delivery in; the edges (silent, answering again) go to the journal."""
        agent = self._agents.setdefault(delivery.agent, _Agent())
        at = self._now()
        silence = agent.open
        if delivery.status is not None:  # the agent answered, whatever it said
            agent.last_answer_at = at
            if silence is not None:
                answered = {"agent": delivery.agent, "event": "answering", "at": at}
                self._journal.append({**answered, "missed": silence["missed"]})
                silence["until"] = at
            return
        if silence is not None:
            silence["missed"] += 1
            return
        record: dict[str, Any] = {
            "agent": delivery.agent,
            "event": "silent",
            "at": at,
            "error": delivery.error,
            "severity": self._severity,
        }
        self._journal.append(record)
        self._replay(record)

    def view(self, name: str) -> dict[str, Any]:
        """What ``GET /v1/agents`` shows of agent ``name`` beside its name and URL."""
        agent = self._agents.get(name)
        if agent is None:
            return {
                "status": "unknown",
                "last_answer_at": None,
                "silent_since": None,
                "silences": [],
            }
        silence = agent.open
        return {
            "status": "answering" if silence is None else "silent",
            "last_answer_at": agent.last_answer_at,
            "silent_since": None if silence is None else silence["since"],
            "silences": [dict(s) for s in agent.silences],
        }
