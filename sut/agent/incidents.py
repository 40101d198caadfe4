"""Incident reports to the Dispatcher while it is online (emergency-procedures.md distress signal).

While the Dispatcher is reachable the agent does not heal on its own: it reports, and acts
only on a task the Dispatcher assigns (SOP 4 applies only "during an offline state").
:func:`distress_signal` builds the JSON; :class:`IncidentReporter` sends one per outage of a
service and remembers what the Dispatcher has received; :meth:`IncidentReporter.send` also
carries the agent's own escalations (a re-sync refused past the RTO, sut/agent/resync_watch.py).
Every signal carries the severity the seeds assign to its kind (the policy's ``severity``),
and its incident's correlation id and issue (gate4 guardrail 4, sop/references.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sop.references import ID_FIELD, ISSUE_FIELD, Reference
from sop.severity import INCIDENT_KINDS
from sut.agent.upstream import post_signed

#: Looks up the severity of an incident kind (``Policy.severity_of``).
SeverityOf = Callable[[str], str]
#: The reference of a service's outage, given the service and the severity.
ReferenceOf = Callable[[str, str], Reference]


def outage_kind(component: str) -> str:
    """The incident kind of ``component`` being down: its own (``ollama_down``) if the
    severity table names one, else a managed service's (``service_down``)."""
    own = f"{component}_down"
    return own if own in INCIDENT_KINDS else "service_down"


def distress_signal(
    agent: str,
    component: str,
    error: str,
    *,
    severity: str,
    last_success: str | None,
    attempts: int,
    escalation_wall_s: float,
    now: datetime | None = None,
    category: str = "service_failure",
    message: str | None = None,
    auto_recovery_attempted: bool = False,
    reference: Reference | None = None,
) -> dict[str, Any]:
    """The distress-signal JSON of emergency-procedures.md for a failed ``component``, with
    ``reference``'s correlation id and issue (gate4 guardrail 4) when given."""
    at = now or datetime.now(UTC)
    ref = {}
    if reference is not None:
        ref = {ID_FIELD: reference.correlation_id, ISSUE_FIELD: reference.issue}
    return {
        **ref,
        "timestamp": at.isoformat(),
        "agent": agent,
        "severity": severity,
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
    severity_of: SeverityOf
    #: The key every distress signal is signed with (sop/callers.py).
    key: bytes | None = field(default=None, repr=False)
    #: Every distress signal the Dispatcher has, oldest first (``GET /v1/incidents``).
    sent: list[dict[str, Any]] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set, repr=False)

    async def report(
        self,
        client: httpx.AsyncClient,
        service_states: Mapping[str, str],
        reference_of: ReferenceOf | None = None,
    ) -> list[dict[str, Any]]:
        """Report every service not running that was not reported since it last ran; the
        signals the Dispatcher took this round (``reference_of``: each outage's reference)."""
        taken: list[dict[str, Any]] = []
        for name, state in service_states.items():
            if state == "running":
                self._reported.discard(name)  # the outage is over: the next one is news
                continue
            if name in self._reported:
                continue
            severity = self.severity_of(outage_kind(name))
            signal = distress_signal(
                self.agent,
                name,
                f"{name} is {state}",
                severity=severity,
                last_success=None,
                attempts=1,
                escalation_wall_s=self.escalation_wall_s,
                reference=None if reference_of is None else reference_of(name, severity),
            )
            if await self.send(client, signal):
                self._reported.add(name)
                taken.append(signal)
        return taken

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
