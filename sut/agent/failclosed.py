"""The agent without a valid policy: it fails closed, refusing every action and every envelope.

An agent that cannot read its SOP has no authority to act and no thresholds to detect with
(DESIGN.md "An invalid policy fails closed: the agent refuses every action"). So it runs no
detector and no loops; the action gate refuses every request with the policy's error
(sut/agent/gate.py); the inbox answers this mode itself to everyone, even a correctly signed
heartbeat (a 503 with :attr:`FailClosed.inbox_refusal`); ``GET /v1/state`` says
``policy_valid: false`` and why, and ``/healthz`` answers 503 (alive, but not fit to
watch anything: a health check that said ok would hide it). The mode stays ``online``:
the agent never declares an emergency it could not handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sop.observations import Mode
from sut.agent.clock import SopClock
from sut.agent.emlog import Recorder
from sut.runtime.jsonlog import get_logger

# The agent's own logger: its log lines read the same whichever part of it writes them.
log = get_logger("sut.agent")


@dataclass(frozen=True)
class FailClosed:
    """The fail-closed mode of an agent whose policy is invalid; ``error`` says why."""

    error: str | None

    #: Without a policy there is no detector: the agent reports itself online, never in alarm.
    mode: ClassVar[Mode] = "online"

    def announce(self, record: Recorder) -> None:
        """Say so once at start: an error on stdout and a note in the emergency log."""
        log.error("policy invalid: failing closed", extra={"fields": {"error": self.error}})
        record("note", message="policy invalid; every action refused", error=self.error)

    @property
    def inbox_refusal(self) -> str:
        """What the inbox tells every sender while failing closed."""
        return f"policy invalid; failing closed: {self.error}"

    def state_view(self, clock: SopClock) -> dict[str, Any]:
        """``GET /v1/state`` while failing closed: the DESIGN.md contract and the reason."""
        return {
            "mode": self.mode,
            "since": clock.iso(0.0),
            "trigger": None,
            "detected_at": None,
            "policy_valid": False,
            "policy_error": self.error,
        }

    def health_view(self) -> dict[str, Any]:
        """``GET /healthz`` while failing closed (served with 503): what is wrong."""
        return {"status": "failing_closed", "mode": self.mode, "policy_error": self.error}
