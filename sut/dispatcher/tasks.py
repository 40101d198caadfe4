"""Task assignment: a validated request becomes a signed ``task`` envelope for one agent.

While the dispatcher is online the agent acts only on assigned tasks; a task envelope
also counts as a sign of life (SOP 2A.1 "valid heartbeat or task assignment").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal
from sut.dispatcher.registry import check_agent_name


@dataclass(frozen=True)
class TaskRequest:
    """What the caller asked the dispatcher to assign."""

    agent: str
    action: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def parse(cls, data: Any) -> TaskRequest:
        """A task request from JSON; RequestRejected(422) naming the first bad field."""
        if not isinstance(data, dict):
            raise RequestRejected(f"task: expected a JSON object, got {data!r}")
        agent = check_agent_name(data.get("agent"), "agent")
        for name in ("action", "target"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise RequestRejected(f"{name}: expected a non-empty string, got {value!r}")
        params = data.get("params", {})
        if not isinstance(params, dict):
            raise RequestRejected(f"params: expected an object, got {params!r}")
        return cls(agent, data["action"], data["target"], params)

    def body(self) -> dict[str, Any]:
        """The task envelope body of the wire format."""
        return {
            "task_id": self.task_id,
            "action": self.action,
            "target": self.target,
            "params": self.params,
        }


class TaskBook:
    """Every task sent and the agent's verdict, oldest first."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(self, request: TaskRequest, delivery: Delivery) -> dict[str, Any]:
        """Remember the task and what the agent answered; returns the API answer."""
        result = {
            "task_id": request.task_id,
            "agent": request.agent,
            "action": request.action,
            "target": request.target,
            "params": request.params,
            "seq": delivery.seq,
            "sent_at": datetime.now(UTC).isoformat(),
            "delivered": delivery.delivered,
            "agent_status": delivery.status,
            "agent_response": delivery.response,
            "error": delivery.error,
        }
        return self.journal.append(result)

    def all(self) -> list[dict[str, Any]]:
        """Every task, oldest first."""
        return self.journal.records()
