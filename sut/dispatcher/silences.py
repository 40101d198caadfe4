"""Which agents answer their heartbeats, and every time one fell silent (a journal).

emergency-procedures.md scenario 1 ("Complete Agent Failure") names the first symptom
"Agent not responding to heartbeat": the dispatcher is where that shows. Each heartbeat
delivery says whether the agent answered (any HTTP status: a rejected envelope is still an
answer) or not (refused, reset, timed out: dead or hung). The first unanswered one opens a
silence, the next answer closes it; both are journaled, so a restarted dispatcher still
shows the silences it saw, and ``GET /v1/agents`` serves them beside each agent.

Each silence carries the severity the seeds give an unresponsive agent: emergency-procedures.md
"Severity Levels", P1 HIGH, "Agent unresponsive" (the policy's ``severity.agent_unresponsive``,
handed in by the app), while another agent still answers. When every agent the dispatcher
knows is silent at once, that is the table's P0 CRITICAL "All agents down" (and cell0's P0
"Service down"): every open silence is raised to ``severity.agent_down``. With one agent,
its silence is all agents down. The severity is journaled with the silence (and a raise as
a record of its own): a silence keeps the severity it was recorded with, and one journaled
before severities were recorded is read with today's.

The escalation matrix's Level 2, "Father Intervention ... Duration: 5-30 minutes, Escalates
to Level 3 if unresolved": a silence still open ``escalation.father_minutes`` after it began
is escalated to Level 3 (Alexander) once: one line in the dispatcher's EMERGENCY_ALERT.txt
(scenario 1 STEP 4's channel to the grandfather), journaled so that a restarted dispatcher
does not escalate it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sop.alert_file import EMERGENCY_ALERT_FILE, LEVEL_3
from sop.policy import Policy
from sop.timescale import TimeScale
from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal
from sut.runtime.alertfile import AlertFile
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.dispatcher.silences")

#: The incident kind of an agent that stops answering (the policy's severity table).
KIND = "agent_unresponsive"
#: ... and of every agent silent at once ("All agents down").
ALL_DOWN = "agent_down"


@dataclass(frozen=True)
class Level3:
    """Level 2's end: how long a silence may stay open, and where its escalation goes."""

    after: timedelta
    alert: AlertFile


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

    ``severity``: the level a new silence is recorded with (``Policy.severity_of(KIND)``);
    ``all_down``: the level of every silence while all ``known`` agents are silent (None:
    never raised); ``level3``: when and where an open silence is escalated (None: never).
    """

    def __init__(
        self,
        journal: Journal,
        severity: str,
        now: Callable[[], str] = _utc_now,
        *,
        all_down: str | None = None,
        known: Callable[[], Iterable[str]] = tuple,
        level3: Level3 | None = None,
    ) -> None:
        self._journal = journal
        self._severity = severity
        self._all_down = all_down
        self._known = known
        self._level3 = level3
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
        elif record.get("event") == "raised" and agent.open is not None:
            agent.open["severity"] = record.get("severity")
        elif record.get("event") == "escalated" and agent.open is not None:
            agent.open["escalated_at"] = record.get("at")

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
            self._escalate_due(delivery.agent, silence, at)
            return
        everyone_silent = self._everyone_silent(delivery.agent)
        record: dict[str, Any] = {
            "agent": delivery.agent,
            "event": "silent",
            "at": at,
            "error": delivery.error,
            "severity": self._all_down if everyone_silent else self._severity,
        }
        self._journal.append(record)
        self._replay(record)
        if everyone_silent:
            self._raise_all(at)

    def _everyone_silent(self, newly: str) -> bool:
        """Whether ``newly`` falling silent leaves no agent the dispatcher knows answering."""
        if self._all_down is None:
            return False
        names = {*self._known(), *self._agents} - {newly}
        return all(self._agents.get(n, _Agent()).open is not None for n in names)

    def _raise_all(self, at: str) -> None:
        """All agents down: every open silence at ``all_down`` (journaled, once each)."""
        for name, agent in self._agents.items():
            silence = agent.open
            if silence is None or silence["severity"] == self._all_down:
                continue
            record = {"agent": name, "event": "raised", "at": at, "severity": self._all_down}
            self._journal.append(record)
            self._replay(record)

    def _escalate_due(self, name: str, silence: dict[str, Any], at: str) -> None:
        """Level 2 over: a silence open for ``level3.after`` goes to Level 3, once."""
        level3 = self._level3
        if level3 is None or silence.get("escalated_at") is not None:
            return
        since = datetime.fromisoformat(str(silence["since"]))
        if datetime.fromisoformat(at) - since < level3.after:
            return
        what = f"{LEVEL_3}: agent {name} silent since {silence['since']}"
        if not level3.alert.write(str(silence["severity"]), what):
            return  # not on disk: said again at the next heartbeat
        record = {"agent": name, "event": "escalated", "at": at, "level": 3}
        self._journal.append(record)
        self._replay(record)
        log.error("silence escalated to Level 3", extra={"fields": {"agent": name}})

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


def agent_silences(
    state_dir: Path, policy: Policy, scale: TimeScale, known: Callable[[], Iterable[str]]
) -> AgentSilences:
    """The dispatcher's silences, journaled in ``state_dir``: P1 for one agent, P0 for all
    ``known`` agents at once, Level 3 to the EMERGENCY_ALERT.txt beside the journal."""
    after = timedelta(seconds=scale.wall_seconds(policy.escalation.father_minutes))
    return AgentSilences(
        Journal(state_dir / "agent-silences.jsonl"),
        policy.severity_of(KIND),  # emergency-procedures.md "Agent unresponsive": P1
        all_down=policy.severity_of(ALL_DOWN),  # ... "All agents down": P0
        known=known,
        level3=Level3(after, AlertFile(state_dir / EMERGENCY_ALERT_FILE)),
    )
