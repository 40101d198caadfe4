"""The father's messages through Gitea while its own link is down (scenario 4 STEP 3).

emergency-procedures.md scenario 4 (Child Orphaning), STEP 3 "Alternative Communication
Channels": "Use Gitea as message channel / Father creates issue in child's repo", titled
``Father Message: ...``. While the agent is orphaned (OFFLINE, or the father's heartbeats not
reaching it for the SOP 2A.1 silence: "Father heartbeat missing"), each remediation round
reads the open issues of its own repository on its host's Gitea, with its own token, in the
background (Gitea may be down too: no loop waits on it). An issue titled ``Father Message``
counts only when the father's Gitea account opened it; any other author is logged once and
ignored (anyone with access to the repository could pose as the father).

A message is untrusted input. It is never run: the agent acts only through its gate, on SOP
4's green list while OFFLINE or on a task the Dispatcher signs (sut/agent/inbox.py), and an
issue is neither; "proceed with autonomy" is what the agent does anyway. So each message is
logged once (a ``father_message`` entry: number, title, author, the body as data, cut to a
bound) and acknowledged by a comment on its issue saying so. The comment is the record of
"read": a restarted agent that finds its acknowledgement logs nothing again. A comment Gitea
did not take is tried again on the next poll; the token travels only in its header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from sut.agent.emlog import Recorder
from sut.agent.recovery import DistressFile
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.agent")

#: The seed's title: ``Father Message: Emergency Contact``.
TITLE_PREFIX: Final = "Father Message"
#: The emergency log's entry kind for a message read (or an impostor's, ignored).
KIND: Final = "father_message"
#: How much of a message's body goes into the log: the rest is the issue's.
MAX_BODY_CHARS: Final = 2000
#: The first words of the acknowledgement: how the agent knows it read an issue already.
ACK_PREFIX: Final = "Acknowledged by agent"
#: Gitea's largest page; a father files one message, not fifty.
PAGE_SIZE: Final = 50

Spawn = Callable[[Coroutine[Any, Any, None]], object]


@dataclass(frozen=True)
class FatherRepo:
    """The child's repository on Gitea, its token (the agent's), and the father's login."""

    url: str
    repo: str
    father: str
    token: str = field(repr=False)  # a secret: never in a repr, a log line or an entry

    @property
    def issues_url(self) -> str:
        """The repository's issues endpoint (Gitea REST API v1)."""
        return f"{self.url.rstrip('/')}/api/v1/repos/{self.repo}/issues"

    @property
    def headers(self) -> dict[str, str]:
        """Gitea's token authentication."""
        return {"Authorization": f"token {self.token}"}


def acknowledgement(agent: str, at: datetime) -> str:
    """The comment that says the message was read, logged and not executed."""
    return (
        f"{ACK_PREFIX} {agent} at {at.astimezone(UTC).isoformat()}: read and logged in its "
        "emergency log. Not executed: while orphaned the agent acts only on SOP 4's green "
        "list, and on tasks the Dispatcher signs; a message is neither."
    )


@dataclass(eq=False)
class FatherChannel:
    """Reads the father's messages, logs each once, acknowledges it (see the module)."""

    repo: FatherRepo
    agent: str
    timeout_s: float
    record: Recorder
    spawn: Spawn | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Issue numbers done with: logged and acknowledged, or an impostor's, logged.
    done: set[int] = field(default_factory=set)
    #: Messages logged whose acknowledgement Gitea has not taken yet.
    _unacknowledged: set[int] = field(default_factory=set)
    _reading: object | None = None

    def poke(self, client: httpx.AsyncClient) -> None:
        """Read the repository in the background unless a reading runs; never waits."""
        if self._reading is not None:
            return
        spawn = self.spawn or asyncio.get_running_loop().create_task
        self._reading = spawn(self.read(client))

    async def read(self, client: httpx.AsyncClient) -> None:
        """One look at the open issues; Gitea not answering leaves it for the next round."""
        try:
            for issue in await self._messages(client):
                await self._take(client, issue)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("father messages not read", extra={"fields": {"error": type(exc).__name__}})
        finally:
            self._reading = None

    async def _messages(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """The open issues titled as a father message not done with, oldest first."""
        answer = await client.get(
            self.repo.issues_url,
            params={"state": "open", "type": "issues", "limit": PAGE_SIZE},
            headers=self.repo.headers,
            timeout=self.timeout_s,
        )
        answer.raise_for_status()
        issues = [i for i in answer.json() if str(i["title"]).startswith(TITLE_PREFIX)]
        return sorted(
            (i for i in issues if int(i["number"]) not in self.done - self._unacknowledged),
            key=lambda i: int(i["number"]),
        )

    async def _take(self, client: httpx.AsyncClient, issue: dict[str, Any]) -> None:
        number, author = int(issue["number"]), str(issue["user"]["login"])
        where = {"number": number, "title": str(issue["title"]), "author": author}
        if author.lower() != self.repo.father.lower():
            self.done.add(number)
            self.record(KIND, accepted=False, reason="not the father's Gitea account", **where)
            log.warning("father message from another author ignored", extra={"fields": where})
            return
        if number not in self.done:
            read_before = await self._acknowledged(client, number)
            self.done.add(number)
            if read_before:
                return  # read by an earlier run of this agent: logged then
            body = str(issue.get("body") or "")
            self.record(
                KIND,
                accepted=True,
                body=body[:MAX_BODY_CHARS],
                truncated=len(body) > MAX_BODY_CHARS,
                executed=False,
                **where,
            )
            log.info("father message read", extra={"fields": where})
            self._unacknowledged.add(number)
        await self._acknowledge(client, number)

    async def _acknowledged(self, client: httpx.AsyncClient, number: int) -> bool:
        answer = await client.get(
            f"{self.repo.issues_url}/{number}/comments",
            headers=self.repo.headers,
            timeout=self.timeout_s,
        )
        answer.raise_for_status()
        return any(str(c.get("body", "")).startswith(ACK_PREFIX) for c in answer.json())

    async def _acknowledge(self, client: httpx.AsyncClient, number: int) -> None:
        answer = await client.post(
            f"{self.repo.issues_url}/{number}/comments",
            json={"body": acknowledgement(self.agent, self.now())},
            headers=self.repo.headers,
            timeout=self.timeout_s,
        )
        answer.raise_for_status()
        self._unacknowledged.discard(number)


@dataclass(frozen=True)
class FatherLink:
    """The agent's ways to the father besides the Dispatcher's own link: the distress spool
    on its host (scenario 2 STEP 4) and the father's messages on Gitea (scenario 4 STEP 3)."""

    spool: DistressFile | None = None
    gitea: FatherRepo | None = None


__all__ = [
    "ACK_PREFIX",
    "KIND",
    "TITLE_PREFIX",
    "FatherChannel",
    "FatherLink",
    "FatherRepo",
    "acknowledgement",
]
