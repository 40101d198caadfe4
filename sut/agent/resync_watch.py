"""Re-sync supervision: a re-sync the Dispatcher keeps refusing is escalated, once (issue 14).

SOP 5.2 says "upload ... until acknowledged", so every call of a re-sync is retried for as long
as it takes (sut/agent/resync.py). Retrying alone would hang in silence when the Dispatcher is
up and refuses what it is sent: an epoch or log it will not store (409), a signature it does
not accept (401, 403), a body it cannot take (400, 413, 422). :class:`ResyncWatch` is told
every answer of a re-sync; once the re-sync has run longer than the Agent Operations RTO
(emergency-procedures.md Appendix B) while the Dispatcher's latest answer is a refusal, it
hands one :class:`Escalation` to the agent, which records an ``incident`` entry, sends a
distress signal to the Dispatcher and alerts 0x01 (sut/agent/service.py). The retries go on:
nothing is dropped. A Dispatcher that does not answer, or answers 5xx, is not escalated here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sut.agent.backchannel import answer_error
from sut.agent.clock import SopClock
from sut.agent.incidents import distress_signal

#: The distress signal's category and the ``about`` of the escalation's notifications.
CATEGORY = "resync_refused"

# A refusal is a 4xx: the Dispatcher is up, answered, and judged the request itself wrong.
# The same request will not change its mind, so only a person can end it: the escalation
# matrix's Level 1 (self-healing) "escalates to Level 2 if unresolved", and the agent's
# recovery has the Agent Operations RTO (Appendix B: 15 minutes) to be resolved in. A 5xx,
# a timeout or no answer is the Dispatcher being away, exactly what SOP 2A.2 counts ("return
# 5xx errors or time out"): if it lasts, the detector declares OFFLINE again and the re-sync
# starts over later. 429 is SOP 2B's rate limit and 408 a timeout by another name: the
# Dispatcher restricted, not refusing. None of those is escalated here.
_NOT_REFUSALS = frozenset({408, 429})


def is_refusal(status: int) -> bool:
    """Whether an answer with ``status`` is the Dispatcher refusing the request (see above)."""
    return 400 <= status < 500 and status not in _NOT_REFUSALS


@dataclass(frozen=True)
class Refusal:
    """One refused call of a re-sync: the route, the Dispatcher's status and its error text."""

    route: str
    status: int
    error: str

    @classmethod
    def of(cls, route: str, response: httpx.Response) -> Refusal | None:
        """The refusal ``response`` is, or None when it is not one."""
        if not is_refusal(response.status_code):
            return None
        return cls(route, response.status_code, answer_error(response, "error"))

    def describe(self) -> str:
        """``POST <route> refused: HTTP <status>: <the Dispatcher's error>``."""
        return f"POST {self.route} refused: {self.error}"


@dataclass(frozen=True)
class Escalation:
    """A re-sync refused past the RTO: what failed, since when, and what was tried."""

    refusal: Refusal
    #: ISO-8601: when the re-sync began, and the first refusal of the unbroken run.
    began: str | None
    refused_since: str | None
    #: SOP minutes the re-sync has run, and the RTO it ran over.
    ran_minutes: float
    rto_minutes: float
    #: Calls made so far in this re-sync, by route; retried every few minutes.
    tried: tuple[tuple[str, int], ...]

    @property
    def attempts(self) -> int:
        """Every call of the re-sync so far."""
        return sum(count for _, count in self.tried)

    @property
    def reason(self) -> str:
        """One line: the refusal and how long the re-sync has waited."""
        return (
            f"re-sync not complete after {self.ran_minutes:.1f} min "
            f"(Agent Operations RTO {self.rto_minutes:g} min): {self.refusal.describe()}"
        )

    def log_fields(self) -> dict[str, Any]:
        """The emergency log's ``incident`` entry (besides its kind)."""
        return {
            "category": CATEGORY,
            "route": self.refusal.route,
            "status": self.refusal.status,
            "error": self.refusal.error,
            "reason": self.reason,
            "resync_began": self.began,
            "refused_since": self.refused_since,
            "attempts": self.attempts,
        }

    def signal(self, agent: str, escalation_wall_s: float, severity: str) -> dict[str, Any]:
        """The distress signal of emergency-procedures.md for the Dispatcher."""
        signal = distress_signal(
            agent,
            "resync",
            self.refusal.error,
            severity=severity,
            last_success=None,
            attempts=self.attempts,
            escalation_wall_s=escalation_wall_s,
            category=CATEGORY,
            message=f"re-sync refused by the dispatcher: {self.reason}",
            auto_recovery_attempted=True,  # every call retried, as SOP 5.2 asks
        )
        signal["context"] |= {
            "route": self.refusal.route,
            "status": self.refusal.status,
            "resync_began": self.began,
            "refused_since": self.refused_since,
        }
        return signal

    def alert_text(self, host: str, severity: str) -> str:
        """The message to 0x01: what failed, since when, what was tried."""
        tried = ", ".join(f"POST {route} {count}x" for route, count in self.tried)
        return (
            f"ESCALATION ({severity}): re-sync refused by the Dispatcher. Host: {host}. "
            f"Failed: {self.refusal.describe()}. "
            f"Since: {self.refused_since} (re-sync began {self.began}, "
            f"{self.ran_minutes:.1f} min ago; Agent Operations RTO {self.rto_minutes:g} min). "
            f"Tried: {tried}. Still retrying until acknowledged (SOP 5.2)."
        )


class ResyncWatch:
    """Follows the current re-sync's answers; hands ``escalate`` one Escalation per re-sync."""

    def __init__(
        self, rto_minutes: float, clock: SopClock, escalate: Callable[[Escalation], object]
    ) -> None:
        self._rto_minutes = rto_minutes
        self._clock = clock
        self._escalate = escalate
        self._began: float | None = None  # None: no re-sync yet (the registration at start)
        self._tried: dict[str, int] = {}
        self._refused_since: float | None = None
        self._escalated = False

    def begin(self) -> None:
        """A re-sync begins (again): its clock, its calls and its one escalation start afresh."""
        self._began = self._clock.now()
        self._tried = {}
        self._refused_since = None
        self._escalated = False

    def answered(self, route: str, response: httpx.Response | None) -> None:
        """One call of the re-sync ended: ``response``, or None when nothing answered."""
        if self._began is None:
            return
        self._tried[route] = self._tried.get(route, 0) + 1
        refusal = Refusal.of(route, response) if response is not None else None
        if refusal is None:
            self._refused_since = None  # accepted, away or restricted: not refusing
            return
        now = self._clock.now()
        if self._refused_since is None:
            self._refused_since = now
        if self._escalated or now - self._began < self._rto_minutes:
            return
        self._escalated = True
        self._escalate(
            Escalation(
                refusal,
                began=self._clock.iso(self._began),
                refused_since=self._clock.iso(self._refused_since),
                ran_minutes=now - self._began,
                rto_minutes=self._rto_minutes,
                tried=tuple(self._tried.items()),
            )
        )
