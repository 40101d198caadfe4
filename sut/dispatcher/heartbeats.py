"""The heartbeat loop: every interval, call the provider once and beat every agent's inbox.

The heartbeat is what SOP 2A.1 listens for ("no valid heartbeat ... for 15 minutes"),
and its body carries the provider's state so an agent can apply SOP 2B ("Dispatcher
reports ... Rate Limit Exceeded") without calling the provider itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from sut.dispatcher.father_messages import FatherMessenger
from sut.dispatcher.inbox import Delivery, Outbox
from sut.dispatcher.metrics import Metrics
from sut.dispatcher.provider import ProviderClient
from sut.dispatcher.registry import AgentRegistry
from sut.dispatcher.silences import AgentSilences
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.dispatcher.heartbeats")


@dataclass(eq=False)
class HeartbeatLoop:
    """One round per ``interval_s``: provider call, then signed heartbeats sent concurrently."""

    registry: AgentRegistry
    outbox: Outbox
    provider: ProviderClient
    metrics: Metrics
    interval_s: float
    inbox_timeout_s: float
    #: Which agents answer their heartbeats (None: not recorded).
    silences: AgentSilences | None = None
    #: Files a Father Message in Gitea for a child it cannot reach (None: it files none).
    father: FatherMessenger | None = None
    #: The last provider call's status; ``unknown`` until the first round ends.
    provider_status: str = field(default="unknown", init=False)
    rounds: int = field(default=0, init=False)
    _last_outcome: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    async def beat(self, client: httpx.AsyncClient) -> list[Delivery]:
        """One round; returns what happened to each agent's heartbeat."""
        status = await self.provider.check(client)
        self._note_provider(status)
        body = {"status": "ok", "provider": status}
        # Concurrently, each with a short timeout: a dead or hung agent must not delay
        # the others' heartbeats (their 15-minute silence clock keeps running).
        deliveries = await asyncio.gather(
            *(
                self.outbox.send(client, agent, "heartbeat", dict(body), self.inbox_timeout_s)
                for agent in self.registry.all()
            )
        )
        for delivery in deliveries:
            self._note_delivery(delivery)
        if self.father is not None:  # scenario 4 STEP 3: Gitea as the message channel
            self.father.note(deliveries)
            self.father.poke(client)
        self.rounds += 1
        return list(deliveries)

    async def run(self, client: httpx.AsyncClient) -> None:
        """Beat forever at a fixed rate until cancelled; the first round is immediate."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        log.info(
            "heartbeat loop started",
            extra={"fields": {"interval_s": self.interval_s, "agents": len(self.registry)}},
        )
        while True:
            try:
                await self.beat(client)
            except Exception:
                # A bug in one round must not silence every agent for good (SOP 2A.1 would
                # then declare a healthy dispatcher offline).
                log.exception("heartbeat round failed")
            due += self.interval_s
            now = loop.time()
            # An overrun round is not made up with a burst: the next one starts now.
            due = max(due, now)
            await asyncio.sleep(due - now)

    def _note_provider(self, status: str) -> None:
        self.metrics.provider_calls[status] += 1
        self.metrics.provider_status = status
        if status != self.provider_status:
            level = log.info if status == "ok" else log.warning
            level(
                "provider status changed",
                extra={"fields": {"from": self.provider_status, "to": status}},
            )
        self.provider_status = status

    def _note_delivery(self, delivery: Delivery) -> None:
        outcome = delivery.outcome
        self.metrics.heartbeats[(delivery.agent, outcome)] += 1
        if self.silences is not None:
            self.silences.note(delivery)
        # Log changes, not every beat: at a time scale of 600 a round is 0.1 s.
        if self._last_outcome.get(delivery.agent) != outcome:
            level = log.info if delivery.delivered else log.warning
            level(
                "heartbeat delivery changed",
                extra={
                    "fields": {
                        "agent": delivery.agent,
                        "outcome": outcome,
                        "agent_status": delivery.status,
                        "error": delivery.error,
                    }
                },
            )
            self._last_outcome[delivery.agent] = outcome
