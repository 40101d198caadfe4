"""``GET /v1/state`` of the agent: the contract of DESIGN.md plus the detector's counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sut.agent.service import AgentService


def state_view(service: AgentService) -> dict[str, Any]:
    """The agent's state as it answers it (a failing-closed agent says so)."""
    if service.detector is None:
        assert service.closed is not None
        return service.closed.state_view(service.clock)
    state = service.detector.state
    clock = service.clock
    return {
        "mode": state.mode,
        "since": clock.iso(state.since),
        "trigger": state.trigger,
        "detected_at": clock.iso(state.detected_at),
        "policy_valid": True,
        "consecutive_api_failures": state.consecutive_api_failures,
        "last_heartbeat_at": clock.iso(state.last_heartbeat_at),
        "rate_limited_since": clock.iso(state.rate_limited_since),
        "sop_minute": round(clock.now(), 4),
        "resyncing": service.resyncing,
    }
