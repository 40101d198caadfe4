"""Incident reports to the Dispatcher while it is online (emergency-procedures.md distress signal).

While the Dispatcher is reachable the agent does not heal on its own: it reports, and acts
only on a task the Dispatcher assigns (SOP 4 applies only "during an offline state").
:func:`distress_signal` builds the JSON; :class:`IncidentReporter` sends one per outage of a
service and remembers what the Dispatcher has received; :meth:`IncidentReporter.send` also
carries the agent's own escalations (a re-sync refused past the RTO, sut/agent/resync_watch.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sut.agent.upstream import post_signed

#: emergency-procedures.md severity table: "Ollama down" is P1; so is a re-sync refused past
#: the Agent Operations RTO (P1 "Major service failure", response time 15 minutes).
SEVERITY_BY_COMPONENT = {"ollama": "P1", "resync": "P1"}


def distress_signal(
    agent: str,
    component: str,
    error: str,
    *,
    last_success: str | None,
    attempts: int,
    escalation_wall_s: float,
    now: datetime | None = None,
    category: str = "service_failure",
    message: str | None = None,
    auto_recovery_attempted: bool = False,
) -> dict[str, Any]:
    """The distress-signal JSON of emergency-procedures.md for a failed ``component``."""
    at = now or datetime.now(UTC)
    return {
        "timestamp": at.isoformat(),
        "agent": agent,
        "severity": SEVERITY_BY_COMPONENT.get(component, "P2"),
        "category": category,
        "component": component,
        "message": message or f"{component} service not responding to health checks",
        "context": {
            "last_success": last_success,
            "attempts": attempts,
            "error": error,
            "auto_recovery_attempted": auto_recovery_attempted,
        },
        "requested_action": "father_intervention",
        "escalation_timeout": (at + timedelta(seconds=escalation_wall_s)).isoformat(),
    }


@dataclass(eq=False)
class IncidentReporter:
    """Reports each failed service to the Dispatcher once per outage; ``sent`` lists them."""

    agent: str
    dispatcher_url: str
    escalation_wall_s: float
    timeout_s: float
    #: The key every distress signal is signed with (sop/callers.py).
    key: bytes | None = field(default=None, repr=False)
    #: Every distress signal the Dispatcher has, oldest first (``GET /v1/incidents``).
    sent: list[dict[str, Any]] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set, repr=False)

    async def report(self, client: httpx.AsyncClient, service_states: Mapping[str, str]) -> None:
        """Report every service not running that was not reported since it last ran."""
        for name, state in service_states.items():
            if state == "running":
                self._reported.discard(name)  # the outage is over: the next one is news
                continue
            if name in self._reported:
                continue
            signal = distress_signal(
                self.agent,
                name,
                f"{name} is {state}",
                last_success=None,
                attempts=1,
                escalation_wall_s=self.escalation_wall_s,
            )
            if await self.send(client, signal):
                self._reported.add(name)

    async def send(self, client: httpx.AsyncClient, signal: dict[str, Any]) -> bool:
        """Send one distress signal; kept in ``sent`` when the Dispatcher has it."""
        delivered = await self._deliver(client, signal)
        if delivered:
            self.sent.append(signal)
        return delivered

    async def _deliver(self, client: httpx.AsyncClient, signal: dict[str, Any]) -> bool:
        """Whether the Dispatcher has ``signal`` now (or most likely has it)."""
        try:
            response = await post_signed(
                client, f"{self.dispatcher_url}/v1/incidents", signal, self.key, self.timeout_s
            )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            return False  # never reached the dispatcher: try again next round
        except httpx.TimeoutException:
            # Sent but unanswered in time: the dispatcher most likely has it, and a second
            # copy would report one outage twice. The next outage reports afresh.
            return True
        except httpx.HTTPError:
            return False
        return response.status_code in (200, 201)
