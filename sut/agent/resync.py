"""Re-sync after the Dispatcher returns (SOP 5): upload the emergency log until acknowledged,
then request an integrity check. Autonomous actions are stopped by the caller before this runs.

The upload goes epoch by epoch (sop/logupload.py): first every log that was sealed because its
chain broke, with what could be read of it, then the log being written now.

Every call to the Dispatcher here is retried until it answers as it should: a Dispatcher that
has only just come back may fail a few times, and SOP 5.2 says "until acknowledged", so
nothing is dropped and nothing is skipped. The registration of the agent's inbox, which the
agent makes at start and again first thing in a re-sync, is such a call too. Retrying never
hides a Dispatcher that refuses: every answer of a re-sync goes to its :class:`ResyncWatch`,
which escalates one refused past the Agent Operations RTO (sut/agent/resync_watch.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import httpx

from sop.errors import ChainError
from sop.logupload import LEGACY_EPOCH, UploadHeader
from sut.agent.emlog import EmergencyLog, Recorder, SealedEpoch
from sut.agent.resync_watch import ResyncWatch
from sut.agent.upstream import post_signed

T = TypeVar("T")


@dataclass
class Resync:
    """Uploads the log (idempotent on the dispatcher) and asks for the integrity check."""

    client: httpx.AsyncClient
    dispatcher_url: str
    agent: str
    log: EmergencyLog
    retry_s: float
    timeout_s: float
    sleep: Callable[[float], Awaitable[None]]
    #: Where this agent's inbox is, told to the dispatcher; None: it is not told.
    agent_url: str | None = None
    #: The key every write to the dispatcher is signed with (sop/callers.py).
    key: bytes | None = field(default=None, repr=False)
    #: Told every answer of a re-sync, to escalate a refused one; None: nobody watches.
    watch: ResyncWatch | None = None
    #: The Dispatcher's answer to the last SOP 5.3 check requested (None: none yet).
    integrity: str | None = field(default=None, init=False)

    async def run(self, record: Recorder) -> int:
        """SOP 5.1 to 5.3 in order, each step in the log; the seq acknowledged by the upload."""
        if self.watch is not None:
            self.watch.begin()
        record("resync", step="stop_autonomous_actions", outcome="done")  # SOP 5.1
        await self.register()
        acknowledged = await self.upload()  # SOP 5.2
        record(
            "resync",
            step="upload_emergency_log",
            outcome="acknowledged",
            through=acknowledged,
            log_epoch=self.log.epoch,
            sealed_epochs=[sealed.epoch for sealed in self.log.sealed()],
        )
        check = await self.integrity_check()  # SOP 5.3
        self.integrity = str(check.get("status"))
        record(
            "resync",
            step="request_integrity_check",
            outcome=check.get("status"),
            entries=check.get("entries"),
            head=check.get("head"),
        )
        record(
            "state", mode="online", from_mode="recovering", trigger=None, reason="re-sync complete"
        )
        await self.upload()  # the dispatcher ends with the whole log, entry for entry
        return acknowledged

    async def register(self) -> None:
        """Tell the dispatcher where this agent's inbox is; retried until it answers."""
        if not self.agent_url:
            return
        body = {"name": self.agent, "url": self.agent_url}
        await self._post_until("/v1/agents", lambda: body, _registered)

    async def upload(self) -> int:
        """SOP 5.2: every sealed (broken) epoch, then the current one until the dispatcher
        acknowledges its last entry; the seq acknowledged of the current epoch."""
        while True:
            # A chain broken while OFFLINE (an edited or cut line) is sealed here, before the
            # upload: the new epoch starts at seq 0 without colliding with what was held.
            self.log.seal_if_broken()
            sealed = self.log.sealed()
            for epoch in sealed:
                await self._post_until(
                    "/v1/emergency-log", partial(self._sealed_body, epoch), _accepted
                )
            through = await self._upload_current()
            if len(self.log.sealed()) == len(sealed):
                return through
            # The log broke again during the upload: its sealed epoch goes up first.

    def _sealed_body(self, epoch: SealedEpoch) -> dict[str, Any]:
        header = UploadHeader(epoch.epoch, epoch.seal)
        return {"agent": self.agent, "entries": list(epoch.entries), **header.as_json()}

    async def _upload_current(self) -> int:
        last = -1
        epoch = LEGACY_EPOCH

        def whole_log() -> dict[str, Any]:
            # Read afresh for every attempt: entries logged meanwhile go in the next one.
            nonlocal last, epoch
            try:
                entries = self.log.entries()
            except ChainError:
                self.log.seal_if_broken()  # broken between two attempts: a new epoch
                entries = self.log.entries()
            epoch = self.log.epoch
            last = entries[-1]["seq"] if entries else -1
            header = UploadHeader(epoch, None)
            return {"agent": self.agent, "entries": entries, **header.as_json()}

        def acknowledged(response: httpx.Response) -> int | None:
            if response.status_code != 200:
                return None
            answer = response.json()
            through = int(answer.get("acknowledged_through", -1))
            if answer.get("epoch", epoch) != epoch:
                return None  # acknowledged for another epoch: this log is not stored yet
            return through if through >= last else None

        return await self._post_until("/v1/emergency-log", whole_log, acknowledged)

    async def integrity_check(self) -> dict[str, Any]:
        """SOP 5.3: ask the dispatcher to verify what it received; retried until it answers."""

        def result(response: httpx.Response) -> dict[str, Any] | None:
            if response.status_code != 200:
                return None
            answer: dict[str, Any] = response.json()
            return answer

        return await self._post_until("/v1/integrity-check", lambda: {"agent": self.agent}, result)

    async def _post_until(
        self,
        path: str,
        body: Callable[[], dict[str, Any]],
        answer: Callable[[httpx.Response], T | None],
    ) -> T:
        """POST ``body()`` to ``path`` every ``retry_s`` until ``answer`` finds what it wants."""
        while True:
            response: httpx.Response | None = None
            found: T | None = None
            try:
                response = await post_signed(
                    self.client, f"{self.dispatcher_url}{path}", body(), self.key, self.timeout_s
                )
                found = answer(response)
            except (httpx.HTTPError, ValueError):
                pass  # keep the log and try again: nothing is dropped on a failed call
            if self.watch is not None:
                self.watch.answered(path, response)
            if found is not None:
                return found
            await self.sleep(self.retry_s)


def _accepted(response: httpx.Response) -> bool | None:
    """A sealed epoch is acknowledged by any 200: its holes (a cut line) never fill."""
    return True if response.status_code == 200 else None


def _registered(response: httpx.Response) -> bool | None:
    return True if response.status_code in (200, 201) else None
