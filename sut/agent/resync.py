"""Re-sync after the Dispatcher returns (SOP 5): upload the emergency log until acknowledged,
then request an integrity check. Autonomous actions are stopped by the caller before this runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from sut.agent.emlog import EmergencyLog


class Resync:
    """Uploads the log (idempotent on the dispatcher) and asks for the integrity check."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        dispatcher_url: str,
        agent: str,
        log: EmergencyLog,
        retry_s: float,
        timeout_s: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.client = client
        self.url = dispatcher_url
        self.agent = agent
        self.log = log
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.sleep = sleep

    async def upload(self) -> int:
        """SOP 5.2: send every entry until the dispatcher acknowledges the last one; its seq."""
        while True:
            entries = self.log.entries()
            last = entries[-1]["seq"] if entries else -1
            try:
                response = await self.client.post(
                    f"{self.url}/v1/emergency-log",
                    json={"agent": self.agent, "entries": entries},
                    timeout=self.timeout_s,
                )
                if response.status_code == 200:
                    acknowledged = int(response.json().get("acknowledged_through", -1))
                    if acknowledged >= last:
                        return acknowledged
            except (httpx.HTTPError, ValueError):
                pass  # keep the log and try again: nothing is dropped on a failed upload
            await self.sleep(self.retry_s)

    async def integrity_check(self) -> dict[str, Any]:
        """SOP 5.3: ask the dispatcher to verify what it received; retried until it answers."""
        while True:
            try:
                response = await self.client.post(
                    f"{self.url}/v1/integrity-check",
                    json={"agent": self.agent},
                    timeout=self.timeout_s,
                )
                if response.status_code == 200:
                    result: dict[str, Any] = response.json()
                    return result
            except (httpx.HTTPError, ValueError):
                pass
            await self.sleep(self.retry_s)
