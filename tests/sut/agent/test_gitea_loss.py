"""Gitea lost, not stopped: the agent's repository or its filed issues gone while Gitea
answers are one P0 ``gitea_lost`` a loss, told to 0x01 at once; nothing is recreated."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from sut.agent.gitea_loss import KIND, GiteaLossWatch, Look
from sut.agent.issue_filing import FILED, IncidentsRepo, IssueFiler, filed_numbers
from tests.sut.agent.test_incident_desk import POLICY, Desk

REPO = IncidentsRepo("http://gitea.test", "ops/incidents", "s3cret-token")
EVERY_S = 10.0


class Gitea:
    """A Gitea answering the repository and its issues with the statuses set here."""

    def __init__(self) -> None:
        self.repository = 200
        self.issues: dict[int, int] = {}
        self.requests: list[httpx.Request] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v1/repos/ops/incidents":
            return httpx.Response(self.repository, json={})
        if path.startswith("/api/v1/repos/ops/incidents/issues/"):
            return httpx.Response(self.issues.get(int(path.rsplit("/", 1)[1]), 404), json={})
        return httpx.Response(201, json={"id": "inc"})  # the Dispatcher takes a signal


class Looks:
    """A watch on :class:`Gitea` whose clock the test moves; each :meth:`look` is one poke."""

    def __init__(self) -> None:
        self.gitea = Gitea()
        self.now_s = 0.0
        self.spawned: list[Coroutine[Any, Any, None]] = []
        self.watch = GiteaLossWatch(REPO, 1.0, EVERY_S, self.spawned.append, lambda: self.now_s)

    def look(self, filed: tuple[int, ...] = ()) -> tuple[str | None, bool]:
        async def run() -> None:
            transport = httpx.MockTransport(self.gitea.answer)
            async with httpx.AsyncClient(transport=transport) as client:
                self.watch.poke(client, filed)
                while self.spawned:
                    await self.spawned.pop()

        asyncio.run(run())
        self.now_s += EVERY_S
        return self.watch.news()


def test_an_answering_repository_and_issues_are_no_loss() -> None:
    looks = Looks()
    looks.gitea.issues = {1: 200}
    assert looks.look((1,)) == (None, False)
    paths = [r.url.path for r in looks.gitea.requests]
    assert paths == ["/api/v1/repos/ops/incidents", "/api/v1/repos/ops/incidents/issues/1"]
    assert all(r.method == "GET" for r in looks.gitea.requests), "the look only reads"
    assert looks.gitea.requests[0].headers["Authorization"] == "token s3cret-token"


def test_the_repository_gone_is_news_once_per_loss() -> None:
    looks = Looks()
    looks.gitea.repository = 404
    reason, cleared = looks.look()
    assert reason is not None
    assert "ops/incidents" in reason
    assert not cleared
    assert "s3cret-token" not in reason
    assert looks.look() == (None, False), "the same loss, looked at again, is no news"
    looks.gitea.repository = 200
    assert looks.look() == (None, True), "the data back: the loss is over"
    looks.gitea.repository = 404
    assert looks.look()[0] is not None, "a second loss is news again"


def test_a_filed_issue_gone_is_a_loss_though_the_repository_answers() -> None:
    looks = Looks()
    looks.gitea.issues = {1: 200}  # issue 2 answers 404
    reason, _ = looks.look((1, 2))
    assert reason is not None
    assert "#2" in reason
    assert "#1" not in reason


@pytest.mark.parametrize("status", [0, 401, 500, 503])
def test_an_answer_that_is_neither_found_nor_gone_decides_nothing(status: int) -> None:
    assert Look(status).decided() is False
    assert Look(200, {1: status}).decided() is False
    assert Look(404).decided()
    assert Look(200, {1: 404}).decided()


def test_gitea_not_answering_is_no_loss() -> None:
    looks = Looks()
    looks.gitea.repository = 503
    assert looks.look() == (None, False)


def test_one_look_a_heartbeat_interval() -> None:
    looks = Looks()

    async def two_pokes() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(looks.gitea.answer)) as client:
            looks.watch.poke(client, ())
            await looks.spawned.pop()
            looks.now_s += EVERY_S / 2
            looks.watch.poke(client, ())

    asyncio.run(two_pokes())
    assert looks.spawned == []
    assert len(looks.gitea.requests) == 1


def test_no_repository_configured_never_looks() -> None:
    watch = GiteaLossWatch(None, 1.0, EVERY_S, lambda c: pytest.fail("looked"))
    watch.poke(httpx.AsyncClient(), ())
    assert watch.news() == (None, False)


def test_the_filed_numbers_come_from_the_log_s_filed_notes_of_its_repository() -> None:
    entries = [
        {"kind": "note", "issue": FILED, "number": 3, "repo": "ops/incidents"},
        {"kind": "note", "issue": "owed", "incident": "x"},
        {"kind": "note", "issue": FILED, "number": 4, "repo": "ops/other"},
        {"kind": "note", "issue": FILED, "number": 3, "repo": "OPS/incidents"},
        {"kind": "incident", "number": 9},
    ]
    assert filed_numbers(entries, "ops/incidents") == (3,)
    filer = IssueFiler(REPO, 1.0, lambda kind, **fields: None)
    filer.restore(entries)
    assert filer.filed == [3]


def test_gitea_lost_online_is_one_p0_logged_first_told_at_once_and_nothing_recreated(
    tmp_path: Path,
) -> None:
    gitea = Gitea()
    spawned: list[Coroutine[Any, Any, None]] = []
    desk = Desk(tmp_path, gitea=REPO, spawn=spawned.append)
    clock = [0.0]
    desk.desk.gitea_loss.now = lambda: clock[0]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gitea.test":
            return gitea.answer(request)
        return desk.answer(request)

    def round_(states: dict[str, str]) -> None:
        async def run() -> None:
            async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
                for _ in range(2):  # the look in the background, then the round that reads it
                    await desk.desk.round(client, states, online=True)
                    while spawned:
                        await spawned.pop()

        asyncio.run(run())
        clock[0] += 2 * desk.desk.gitea_loss.every_s  # past it, whatever the rounding

    round_({"gitea": "running"})
    assert desk.incidents() == []
    gitea.repository = 404
    round_({"gitea": "running"})
    round_({"gitea": "running"})

    [incident] = desk.incidents(KIND)
    assert (incident["severity"], incident["component"]) == (POLICY.severity_of(KIND), "gitea")
    assert POLICY.severity_of(KIND) == "P0"
    [(about, text)] = desk.told.messages
    assert about == KIND
    assert text.startswith(f"INCIDENT (P0): {KIND}. Host: ops-1.")
    [signal] = desk.signals
    assert (signal["severity"], signal["category"]) == ("P0", KIND)
    assert {r.method for r in gitea.requests} == {"GET"}, "nothing restored or recreated"
    gitea.repository = 200
    round_({"gitea": "running"})
    assert len(desk.incidents(KIND)) == 1
    assert len(desk.told.messages) == 1
    gitea.repository = 404
    round_({"gitea": "running"})
    assert len(desk.incidents(KIND)) == 2, "the data lost again is another incident"
