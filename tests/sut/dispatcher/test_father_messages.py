"""The father's message to a child it cannot reach (scenario 4 STEP 3), against the Gitea
stand-in: one issue per silence, filed with the father's own token once enough heartbeats
went unanswered, owed while Gitea does not take it."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest

from sop.errors import ServiceConfigError
from sut.dispatcher.father_messages import (
    TITLE,
    ChildRepos,
    FatherMessenger,
    parse_child_repos,
)
from sut.dispatcher.inbox import Delivery
from sut.runtime import Settings
from sut.standins.gitea import API, create_app
from tests.sut.dispatcher.test_config import config

CHILD_TOKEN = "0123456789abcdef0123456789abcdef01234567"
FATHER_TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
REPO = "ops-agent/first-steps"
BASE = "http://gitea.test"
MISSES = 3


@pytest.fixture
def gitea() -> Any:
    env = {
        "SOPDRILL_GITEA_TOKEN": CHILD_TOKEN,
        "SOPDRILL_GITEA_REPOS": REPO,
        "SOPDRILL_GITEA_COLLABORATOR": "father",
        "SOPDRILL_GITEA_COLLABORATOR_TOKEN_SHA256": hashlib.sha256(
            FATHER_TOKEN.encode()
        ).hexdigest(),
    }
    return create_app(Settings("gitea", environ=env))


def messenger(token: str = FATHER_TOKEN) -> FatherMessenger:
    return FatherMessenger(ChildRepos(BASE, {"agent": REPO}, token), "dispatcher", MISSES, 5.0)


def beat(agent: str, status: int | None) -> Delivery:
    return Delivery(agent, 1, status, None, None if status else "ConnectError")


def rounds(app: Any, father: FatherMessenger, statuses: list[int | None]) -> None:
    """One heartbeat round per status for ``agent`` (and an unknown agent, never answering)."""

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
            for status in statuses:
                father.note([beat("agent", status), beat("stranger", None)])
                father.poke(client)
                if father._filing is not None:
                    await father._filing

    asyncio.run(run())


def issues(app: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as c:
            answer = await c.get(
                f"{API}/repos/{REPO}/issues",
                params={"state": "all"},
                headers={"Authorization": f"token {CHILD_TOKEN}"},
            )
            listed: list[dict[str, Any]] = answer.json()
            return listed

    return asyncio.run(run())


def test_one_message_per_silence_filed_by_the_father_after_enough_misses(gitea):
    father = messenger()
    rounds(gitea, father, [None] * (MISSES - 1))
    assert issues(gitea) == [], "fewer misses than SOP 2A.2 counts: no message yet"
    rounds(gitea, father, [None] * 4)
    [issue] = issues(gitea)
    assert (issue["title"], issue["user"]["login"]) == (TITLE, "father")
    assert "Proceed with autonomy" in issue["body"]
    assert FATHER_TOKEN not in issue["body"]
    rounds(gitea, father, [200, *[None] * MISSES])
    assert len(issues(gitea)) == 2, "an answer ended the silence: the next one is news"


def test_a_rejected_envelope_is_an_answer_not_a_silence(gitea):
    father = messenger()
    rounds(gitea, father, [401] * (MISSES + 2))
    assert issues(gitea) == []


def test_a_message_gitea_refuses_stays_owed(gitea):
    father = messenger(token="not-the-fathers-token")
    rounds(gitea, father, [None] * MISSES)
    assert issues(gitea) == []
    assert father.owed == ["agent"]
    assert "not-the-fathers-token" not in repr(father)


def test_child_repos_are_read_from_the_environment(tmp_path):
    cfg = config(
        tmp_path,
        SOPDRILL_CHILD_REPOS=f"agent={REPO}",
        SOPDRILL_FATHER_GITEA_URL="http://127.0.0.1:3000",
        SOPDRILL_FATHER_GITEA_TOKEN=FATHER_TOKEN,
    )
    assert cfg.child_repos is not None
    assert cfg.child_repos.repos == {"agent": REPO}
    assert FATHER_TOKEN not in repr(cfg)
    assert config(tmp_path).child_repos is None
    with pytest.raises(ServiceConfigError, match="SOPDRILL_CHILD_REPOS: expected agent=owner"):
        config(tmp_path, SOPDRILL_CHILD_REPOS="agent=first-steps")


def test_parse_child_repos():
    assert parse_child_repos("a=o/r, b=p/q") == {"a": "o/r", "b": "p/q"}
    with pytest.raises(ValueError, match="expected agent=owner/name"):
        parse_child_repos("a=o/r/x")
