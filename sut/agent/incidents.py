"""Incident reports to the Dispatcher while it is online (emergency-procedures.md distress signal).

While the Dispatcher is reachable the agent does not heal on its own: it reports, and acts
only on a task the Dispatcher assigns (SOP 4 applies only "during an offline state").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

#: emergency-procedures.md severity table: "Ollama down" is P1.
SEVERITY_BY_COMPONENT = {"ollama": "P1"}


def distress_signal(
    agent: str,
    component: str,
    error: str,
    *,
    last_success: str | None,
    attempts: int,
    escalation_wall_s: float,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The distress-signal JSON of emergency-procedures.md for a failed ``component``."""
    at = now or datetime.now(UTC)
    return {
        "timestamp": at.isoformat(),
        "agent": agent,
        "severity": SEVERITY_BY_COMPONENT.get(component, "P2"),
        "category": "service_failure",
        "component": component,
        "message": f"{component} service not responding to health checks",
        "context": {
            "last_success": last_success,
            "attempts": attempts,
            "error": error,
            "auto_recovery_attempted": False,
        },
        "requested_action": "father_intervention",
        "escalation_timeout": (at + timedelta(seconds=escalation_wall_s)).isoformat(),
    }
