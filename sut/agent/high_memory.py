"""A process killed for holding memory over SOP 4's bar: a P1 incident, logged once an episode.

cell0-incident-runbook.md "P1 - High Memory Usage" ("Memory usage > 90%", "Identify memory
hogs"); the policy's ``severity.high_memory`` gives it P1. SOP 4 lets the agent kill a
runaway while OFFLINE (">80% CPU/RAM for >5 minutes", sut/agent/remediation.py); when the
gate allows the kill of one over the RAM bar, the agent logs the P1 first, then kills (the
incident is on disk before the action, as the SOP 3.3 marker is before any network).
Only memory makes it a high-memory incident: a process over the CPU bar alone is a
runaway the seeds give no severity of its own, and a kill the gate refuses (an
allowlisted process, one not past the window) or a Dispatcher's task is not this one.

:class:`MemoryWatch` is the pure part. An episode is one process (its pid) over the RAM
bar since one instant (its ``over_since``): the kill retried next round after a failure
is the same episode, so the incident is news once. The episode ends when the process is
gone or no longer over the RAM bar: that resolves the P1 (sut/agent/incident_desk.py closes
its escalation watch), so a kill that worked is never escalated and one that failed is,
at its escalation timeout, as every P1 still open is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sop.policy import KillRunaway
from sut.agent.gate import AUTONOMOUS, ActionRequest, HostFacts, ProcessUsage

#: The incident kind (the policy's severity table: cell0 "P1 - High Memory Usage").
KIND = "high_memory"
#: The action whose allowed execution on a memory runaway is the incident's occasion.
KILL = "kill_runaway"


@dataclass(frozen=True)
class Runaway:
    """One in-scope process over SOP 4's RAM bar, about to be killed for it."""

    pid: int
    name: str
    ram_percent: float
    cpu_percent: float
    over_since: float  # the SOP minute since which it has been over a bar
    ram_bar_percent: float
    now: float  # the SOP minute of the facts the kill is decided on

    @property
    def component(self) -> str:
        """What the incident is about: the pid, as the kill's decision names its target (so
        an escalation lists the kills tried, sut/agent/escalation.py ``attempts``)."""
        return str(self.pid)

    @property
    def watch_key(self) -> str:
        """What its escalation watch is keyed by: one per process."""
        return watch_key(self.pid)

    def reason(self) -> str:
        """The incident's reason, in words."""
        return (
            f"{self.name} (pid {self.pid}) holds {self.ram_percent:.1f}% of the host's memory, "
            f"over SOP 4's {self.ram_bar_percent:g}% for {self.now - self.over_since:.1f} "
            'SOP min (cell0 "P1 - High Memory Usage"); SOP 4 kills it'
        )

    def details(self) -> dict[str, Any]:
        """The numbers that go into the incident's log entry."""
        return {
            "process": self.name,
            "pid": self.pid,
            "ram_percent": round(self.ram_percent, 1),
            "cpu_percent": round(self.cpu_percent, 1),
            "ram_bar_percent": self.ram_bar_percent,
            "over_sop_minutes": round(self.now - self.over_since, 3),
        }

    def tried(self) -> str:
        """What the agent does about it, for the P1's Gitea issue (owed before the kill)."""
        return f"SOP 4 kill_runaway of pid {self.pid} (SIGKILL), decided with this incident"


def watch_key(pid: int) -> str:
    """The escalation watch's key of a memory runaway's P1."""
    return f"{KIND}:{pid}"


def over_memory(rule: KillRunaway, usage: ProcessUsage | None) -> bool:
    """Whether a sampled process holds more than SOP 4's RAM bar (">80%")."""
    return usage is not None and usage.ram_percent > rule.ram_percent_above


def runaway(rule: KillRunaway, request: ActionRequest, facts: HostFacts) -> Runaway | None:
    """The memory runaway an allowed request kills; None unless it is the agent's own
    kill_runaway (SOP 4, while OFFLINE) of a process over the RAM bar."""
    if request.action != KILL or request.source != AUTONOMOUS:
        return None
    if not (request.target.isascii() and request.target.isdigit()):
        return None
    usage = facts.processes.get(int(request.target))
    if usage is None or usage.over_since is None or not over_memory(rule, usage):
        return None  # over the CPU bar alone: a runaway, but no high-memory incident
    return Runaway(
        usage.pid,
        usage.name,
        usage.ram_percent,
        usage.cpu_percent,
        usage.over_since,
        rule.ram_percent_above,
        facts.now,
    )


@dataclass(eq=False)
class MemoryWatch:
    """Which memory runaways were reported, each once an episode, until the episode ends."""

    rule: KillRunaway
    #: pid -> the ``over_since`` of its reported episode.
    _reported: dict[int, float] = field(default_factory=dict, repr=False)

    def news(self, found: Runaway) -> bool:
        """Whether ``found`` is a new episode (and now a reported one)."""
        if self._reported.get(found.pid) == found.over_since:
            return False  # the kill retried: the same episode, already an incident
        self._reported[found.pid] = found.over_since
        return True

    def ended(self, processes: Mapping[int, ProcessUsage]) -> list[int]:
        """The reported episodes over with these facts (the process gone, under the RAM
        bar, or over again since another instant); each handed out once."""
        over = [
            pid
            for pid, since in self._reported.items()
            if (usage := processes.get(pid)) is None
            or usage.over_since != since
            or not over_memory(self.rule, usage)
        ]
        for pid in over:
            del self._reported[pid]
        return over


__all__ = ["KILL", "KIND", "MemoryWatch", "Runaway", "over_memory", "runaway", "watch_key"]
