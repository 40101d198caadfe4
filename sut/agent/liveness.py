"""Whether the agent's detection loops still run, so that ``/healthz`` tells the truth (issue 14).

The probe, tick and remediation loops are meant to run as long as the agent does: one that
ended, by an exception or by returning, leaves an agent that answers HTTP but no longer
detects an outage or acts on one. :class:`Loops` remembers which ended and why; the first
one to end is the :class:`LoopStopped` that ``/healthz`` serves with a 503, in the shape of
the fail-closed view (sut/agent/failclosed.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from sop.observations import Mode
from sut.agent.backchannel import describe
from sut.runtime.jsonlog import get_logger

# The agent's own logger: its log lines read the same whichever part of it writes them.
log = get_logger("sut.agent")


@dataclass(frozen=True)
class LoopStopped:
    """A long-lived loop of the agent that ended; ``error`` says how."""

    loop: str
    error: str

    @property
    def reason(self) -> str:
        """One line: which loop, and how it ended."""
        return f"{self.loop} stopped: {self.error}"

    def health_view(self, mode: Mode) -> dict[str, Any]:
        """``GET /healthz`` while a loop is down (served with 503): what is wrong."""
        return {"status": "degraded", "mode": mode, "reason": self.reason}


class Loops:
    """The agent's long-lived loops by name; the first that ended is why it is degraded."""

    def __init__(self) -> None:
        self._stopped: list[LoopStopped] = []

    def watch(self, name: str, task: asyncio.Task[Any]) -> None:
        """Follow ``task``, the loop called ``name``: its end, whatever the cause, is kept."""
        task.add_done_callback(partial(self._ended, name))

    @property
    def stopped(self) -> LoopStopped | None:
        """The first loop that ended, None while every one runs."""
        return self._stopped[0] if self._stopped else None

    def _ended(self, name: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            error = "cancelled"  # the agent stopping, or someone else: not running either way
        else:
            exc = task.exception()
            error = describe(exc) if exc is not None else "returned"
            log.error("detection loop stopped", extra={"fields": {"loop": name, "error": error}})
        self._stopped.append(LoopStopped(name, error))
