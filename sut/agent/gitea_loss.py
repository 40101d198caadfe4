"""Gitea lost, not stopped (emergency-procedures.md severity table, P0: "Gitea lost").

Scenario 3's outage (``gitea_down``, P1) is Gitea not answering its health check. A lost
Gitea answers it (``GET /api/v1/version`` 200) with its data gone: the agent's incidents
repository (``SOPDRILL_GITEA_REPO``) answers 404 to the agent's own token, or an issue the
agent filed there (its number in the emergency log's ``issue: filed`` note,
sut/agent/issue_filing.py) does. That is one P0 ``gitea_lost`` incident a loss, told to 0x01
at once by the incident desk (sut/agent/incident_desk.py); the agent restores and recreates
nothing (restore is not on the SOP 4 green list: the data is a person's to bring back).

The look reads only: one GET at a time with the probe's timeout, in the background, at most
once a heartbeat interval and only while Gitea's health check answers. Any answer but 200 or
404 (a hung, refusing or overloaded Gitea) decides nothing: that is scenario 3's, or nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from sut.agent.issue_filing import IncidentsRepo, Spawn

#: The incident kind of the severity table (sop/offline-emergency.yaml ``severity``).
KIND = "gitea_lost"
_FOUND, _GONE = 200, 404


@dataclass(frozen=True)
class Look:
    """What Gitea answered: the repository's status, and each filed issue's (number -> status)."""

    repository: int
    issues: Mapping[int, int] = field(default_factory=dict)

    def lost(self, repo: str) -> str | None:
        """Why the data is gone, or None: intact, or nothing decided (see :meth:`decided`)."""
        if self.repository == _GONE:
            return f"Gitea answers, but its repository {repo} is gone (404)"
        gone = [number for number, status in self.issues.items() if status == _GONE]
        if self.repository == _FOUND and gone:
            numbers = ", ".join(f"#{n}" for n in gone)
            return f"Gitea answers, but issues {numbers} filed in {repo} are gone (404)"
        return None

    def decided(self) -> bool:
        """Whether every answer was 200 or 404 (anything else tells nothing of the data)."""
        return all(s in (_FOUND, _GONE) for s in (self.repository, *self.issues.values()))


class GiteaLossWatch:
    """Looks at the agent's repository on Gitea; a loss is news once until the data is back."""

    def __init__(
        self,
        repo: IncidentsRepo | None,
        timeout_s: float,
        every_s: float,
        spawn: Spawn | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.timeout_s = timeout_s
        self.every_s = every_s
        self.spawn = spawn
        self.now = now
        self._looking: object | None = None
        self._last_s: float | None = None
        self._seen: Look | None = None
        self._told = False

    def poke(self, client: httpx.AsyncClient, filed: Sequence[int]) -> None:
        """Look in the background unless a look runs or one began less than ``every_s`` ago."""
        if self.repo is None or self._looking is not None:
            return
        if self._last_s is not None and self.now() - self._last_s < self.every_s:
            return
        self._last_s = self.now()
        spawn = self.spawn or asyncio.get_running_loop().create_task
        self._looking = spawn(self.look(client, tuple(filed)))

    async def look(self, client: httpx.AsyncClient, filed: Sequence[int]) -> None:
        """One look: the repository, then (if it is there) each filed issue."""
        try:
            repository = await self._status(client, "")
            issues = {}
            if repository == _FOUND:
                for number in filed:
                    issues[number] = await self._status(client, f"/issues/{number}")
            self._seen = Look(repository, issues)
        finally:
            self._looking = None

    async def _status(self, client: httpx.AsyncClient, path: str) -> int:
        """The status of ``GET /api/v1/repos/{repo}{path}`` with the agent's token (0: none)."""
        assert self.repo is not None
        url = f"{self.repo.url.rstrip('/')}/api/v1/repos/{self.repo.repo}{path}"
        headers = {"Authorization": f"token {self.repo.token}"}  # never logged
        try:
            answer = await client.get(url, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError:
            return 0
        return answer.status_code

    def news(self) -> tuple[str | None, bool]:
        """(why the data is lost if that is news, else None; whether a told loss is over)."""
        seen, self._seen = self._seen, None
        if seen is None or self.repo is None or not seen.decided():
            return None, False
        reason = seen.lost(self.repo.repo)
        if reason is not None and not self._told:
            self._told = True
            return reason, False
        if reason is None and self._told:
            self._told = False
            return None, True
        return None, False


__all__ = ["KIND", "GiteaLossWatch", "Look"]
