"""Delivery of one signed envelope to one agent's ``/v1/inbox``, never raising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sut.dispatcher.registry import Agent

#: How much of a non-JSON answer is kept (enough to read an error, not a page).
_TEXT_LIMIT = 500


@dataclass(frozen=True)
class Delivery:
    """What happened to one envelope: the agent's status and answer, or the error."""

    agent: str
    seq: int
    status: int | None
    response: Any
    error: str | None

    @property
    def delivered(self) -> bool:
        """The agent's inbox accepted the envelope (a 2xx answer)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """``delivered``, ``rejected`` (the agent answered non-2xx) or ``failed`` (no answer)."""
        if self.status is None:
            return "failed"
        return "delivered" if self.delivered else "rejected"


def _answer(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:_TEXT_LIMIT]


async def deliver(
    client: httpx.AsyncClient, agent: Agent, envelope: dict[str, Any], timeout_s: float
) -> Delivery:
    """POST ``envelope`` to ``agent``; a dead or hung agent costs at most ``timeout_s``."""
    seq = int(envelope["seq"])
    try:
        response = await client.post(agent.inbox, json=envelope, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Delivery(agent.name, seq, None, None, f"{type(exc).__name__}: {agent.inbox}")
    return Delivery(agent.name, seq, response.status_code, _answer(response), None)
