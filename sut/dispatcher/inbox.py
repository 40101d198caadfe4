"""Delivery of signed envelopes to an agent's ``/v1/inbox``, in sequence, never raising.

An agent takes only a ``seq`` above every one it accepted (a lower one is a replay,
docs/architecture.md "Wire format"), so two envelopes signed for the same agent must
arrive in the order they were signed: ``Outbox`` signs and delivers them one at a time
per agent. Concurrent task requests, or a task racing a heartbeat, were otherwise
refused as replays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from sut.dispatcher.registry import Agent
from sut.dispatcher.signer import EnvelopeSigner

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


class Outbox:
    """Signs an envelope for an agent and delivers it, one at a time per agent.

    The agent's lock is held from signing until the agent answered (or the timeout), so
    the agent sees its envelopes in ``seq`` order; other agents are never held up.
    """

    def __init__(self, signer: EnvelopeSigner) -> None:
        self.signer = signer
        self._locks: dict[str, asyncio.Lock] = {}

    async def send(
        self,
        client: httpx.AsyncClient,
        agent: Agent,
        kind: str,
        body: dict[str, Any],
        timeout_s: float,
    ) -> Delivery:
        """Sign ``body`` as a ``kind`` envelope for ``agent`` and deliver it, in order."""
        lock = self._locks.setdefault(agent.name, asyncio.Lock())
        async with lock:
            # Signed inside the lock: seq and sent_at are those of the moment it goes out.
            envelope = self.signer.sign(kind, body)
            return await deliver(client, agent, envelope, timeout_s)

    def __repr__(self) -> str:
        return f"Outbox(agents={sorted(self._locks)})"
