"""The father's message to a child it cannot reach, through Gitea (scenario 4 STEP 3).

emergency-procedures.md scenario 4 (Child Orphaning), STEP 3 "Alternative Communication
Channels": "Use Gitea as message channel / Father creates issue in child's repo", with the
seed's own request: ``POST /api/v1/repos/{owner}/{repo}/issues``, ``Authorization: token
$TOKEN``, title ``Father Message: Emergency Contact``, body "... unavailable. Proceed with
autonomy. Check logs hourly." The dispatcher is the father here: when its heartbeats to an
agent go unanswered as many times in a row as SOP 2A.2 counts failures before its child
gives up on it (``scenario_a.api_failures``), it files that issue once in the agent's own
repository, with its own Gitea token (never the agent's), in the background (Gitea may be
as unreachable as the agent: the issue stays owed and is tried again each round). An
answered heartbeat ends the silence; the next silence is news and gets its own message.
The token travels only in its header; a failure is logged by its type, never its text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from sut.dispatcher.inbox import Delivery
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.dispatcher.father_messages")

#: The seed's title.
TITLE: Final = "Father Message: Emergency Contact"


@dataclass(frozen=True)
class ChildRepos:
    """Where each child's repository is (agent -> ``owner/name``) and the father's token."""

    gitea_url: str
    repos: Mapping[str, str]
    token: str = field(repr=False)  # a secret: never in a repr, a log line or an issue

    def issues_url(self, agent: str) -> str:
        """The issues endpoint of ``agent``'s repository (Gitea REST API v1)."""
        return f"{self.gitea_url.rstrip('/')}/api/v1/repos/{self.repos[agent]}/issues"


def parse_child_repos(text: str) -> dict[str, str]:
    """``agent=owner/name,...`` -> {agent: owner/name}; ValueError names a bad item."""
    repos: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        agent, equals, repo = item.partition("=")
        owner, slash, name = repo.partition("/")
        if not (agent and equals and owner and slash and name) or "/" in name:
            raise ValueError(f"expected agent=owner/name, got {item!r}")
        repos[agent] = repo
    return repos


def message_body(dispatcher: str, agent: str, missed: int, since: str) -> str:
    """The seed's body, with what the father saw."""
    return (
        f"Dispatcher {dispatcher} cannot reach agent {agent}: {missed} heartbeats in a row "
        f"unanswered since {since}. Proceed with autonomy (SOP 4's green list only). "
        "Check logs hourly. Re-sync when the link is back (SOP 5)."
    )


@dataclass
class _Silence:
    since: str
    missed: int = 0
    filed: bool = False


@dataclass(eq=False)
class FatherMessenger:
    """Files one Father Message per silence of a child with a repository (see the module)."""

    repos: ChildRepos
    dispatcher: str
    #: Unanswered heartbeats in a row before the message is owed.
    after_missed: int
    timeout_s: float
    _silent: dict[str, _Silence] = field(default_factory=dict)
    _filing: asyncio.Task[None] | None = None

    def note(self, deliveries: Iterable[Delivery]) -> None:
        """Count each child's unanswered heartbeats; an answered one ends its silence."""
        for delivery in deliveries:
            if delivery.agent not in self.repos.repos:
                continue
            if delivery.outcome != "failed":  # any answer is a child that can be reached
                self._silent.pop(delivery.agent, None)
                continue
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._silent.setdefault(delivery.agent, _Silence(now)).missed += 1

    @property
    def owed(self) -> list[str]:
        """The children whose silence is long enough and who have no message yet."""
        return [
            agent
            for agent, silence in self._silent.items()
            if silence.missed >= self.after_missed and not silence.filed
        ]

    def poke(self, client: httpx.AsyncClient) -> None:
        """File the owed messages in the background unless a filing runs; never waits."""
        if self.owed and self._filing is None:
            self._filing = asyncio.get_running_loop().create_task(self.file_owed(client))

    async def file_owed(self, client: httpx.AsyncClient) -> None:
        """Each owed message filed; Gitea not taking one leaves it owed for the next round."""
        try:
            for agent in self.owed:
                silence = self._silent[agent]
                body = message_body(self.dispatcher, agent, silence.missed, silence.since)
                try:
                    answer = await client.post(
                        self.repos.issues_url(agent),
                        json={"title": TITLE, "body": body},
                        headers={"Authorization": f"token {self.repos.token}"},
                        timeout=self.timeout_s,
                    )
                except httpx.HTTPError as exc:
                    log.warning("father message not filed", extra=_fields(agent, exc))
                    return
                if answer.status_code != 201:
                    log.warning("father message refused", extra=_fields(agent, answer))
                    return
                silence.filed = True
                number = answer.json().get("number")
                log.info(
                    "father message filed", extra={"fields": {"agent": agent, "number": number}}
                )
        finally:
            self._filing = None


def _fields(agent: str, why: Any) -> dict[str, Any]:
    reason = f"HTTP {why.status_code}" if isinstance(why, httpx.Response) else type(why).__name__
    return {"fields": {"agent": agent, "reason": reason}}


__all__ = ["TITLE", "ChildRepos", "FatherMessenger", "message_body", "parse_child_repos"]
