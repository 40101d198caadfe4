"""The agent's inbox: verify a signed envelope and say what came of it, as values without HTTP.

The Dispatcher's heartbeats and task assignments arrive signed (sop/wire.py). Verification
answers the verified Envelope or :class:`Rejected` (``kind`` is the wire's tag: ``malformed``,
``bad_signature``, ``replay``, ``stale``); a rejected envelope never reaches the detector, so
a forged or replayed heartbeat cannot stop the SOP 2A.1 silence clock. What the agent then
did with a verified one is :class:`Taken`; an agent failing closed answers with its
FailClosed mode itself (sut/agent/failclosed.py). sut/agent/app.py alone maps each answer
to an HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sop.errors import WireError
from sop.observations import Mode
from sop.wire import Envelope, ReplayGuard, verify_envelope
from sut.agent.gate import ActionRequest, Decision


@dataclass(frozen=True)
class Rejected:
    """The envelope is refused: ``kind`` is the wire's tag, ``reason`` the one-line message."""

    kind: str
    reason: str


class InboxVerifier:
    """Checks signature and shape (sop/wire.py), then freshness and order (the replay guard)."""

    def __init__(self, hmac_key: bytes, guard: ReplayGuard) -> None:
        self._key = hmac_key
        self.guard = guard

    def verify(self, data: Any) -> Envelope | Rejected:
        """Verify one parsed JSON body; never raises for anything a sender can put in it."""
        try:
            try:
                envelope = verify_envelope(self._key, data)
            except RecursionError:
                # Parsed, yet too deep to re-encode for the signature check: malformed, not a 500.
                raise WireError("inbox: envelope nested too deeply", "malformed") from None
            self.guard.check(envelope)
        except WireError as exc:
            return Rejected(exc.reason, str(exc))
        return envelope


#: What a task assignment whose fields are not usable is told.
MALFORMED_TASK = "task: task_id, action and target must be strings, params an object"


@dataclass(frozen=True)
class Taken:
    """A verified envelope, which proved the Dispatcher alive (SOP 2A.1), and what came of it.

    ``kind`` is ``heartbeat`` or ``task``; ``mode`` the agent's mode after it. A task carries
    the gate's ``decision`` and, when executed, its ``result``; a task whose body names no
    usable action (:data:`MALFORMED_TASK`) carries no decision.
    """

    kind: str
    mode: Mode
    decision: Decision | None = None
    result: dict[str, Any] | None = None


#: What the agent made of an envelope, verified or not.
InboxAnswer = Rejected | Taken


def task_request(body: Mapping[str, Any]) -> ActionRequest | None:
    """The action a verified task body assigns, sourced ``task:<id>``; None when malformed."""
    fields = (body.get("task_id"), body.get("action"), body.get("target"))
    params = body.get("params", {})
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(params, dict):
        return None
    return ActionRequest(body["action"], body["target"], params, f"task:{body['task_id']}")
