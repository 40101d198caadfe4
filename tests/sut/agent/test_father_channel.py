"""The father's messages through Gitea (scenario 4 STEP 3), against the Gitea stand-in:
the father's read and logged once, acknowledged, never run; anyone else's ignored."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest

from sop.policy import load_policy
from sut.agent.detector import Detector
from sut.agent.father_channel import ACK_PREFIX, KIND, FatherChannel, FatherRepo
from sut.runtime import Settings
from sut.standins.gitea import API, create_app

CHILD_TOKEN = "0123456789abcdef0123456789abcdef01234567"
FATHER_TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
REPO = "ops-agent/first-steps"
BASE = "http://gitea.test"


@pytest.fixture
def gitea() -> Any:
    env = {
        "SOPDRILL_GITEA_TOKEN": CHILD_TOKEN,
        "SOPDRILL_GITEA_REPOS": f"ops/incidents,{REPO}",
        "SOPDRILL_GITEA_COLLABORATOR": "father",
        "SOPDRILL_GITEA_COLLABORATOR_TOKEN_SHA256": hashlib.sha256(
            FATHER_TOKEN.encode()
        ).hexdigest(),
    }
    return create_app(Settings("gitea", environ=env))


def post(app: Any, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            answer = await client.post(path, json=body, headers={"Authorization": f"token {token}"})
            assert answer.status_code == 201, answer.text
            found: dict[str, Any] = answer.json()
            return found

    return asyncio.run(run())


def comments(app: Any, number: int) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            path = f"{API}/repos/{REPO}/issues/{number}/comments"
            answer = await client.get(path, headers={"Authorization": f"token {CHILD_TOKEN}"})
            listed: list[dict[str, Any]] = answer.json()
            return listed

    return asyncio.run(run())


def read(app: Any, channel: FatherChannel) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport) as client:
            await channel.read(client)

    asyncio.run(run())


def channel_for(log: list[dict[str, Any]]) -> FatherChannel:
    repo = FatherRepo(BASE, REPO, "father", CHILD_TOKEN)
    return FatherChannel(repo, "agent", 5.0, lambda kind, **f: log.append({"kind": kind, **f}))


def file_message(app: Any, token: str, title: str, body: str) -> int:
    issue = post(app, token, f"{API}/repos/{REPO}/issues", {"title": title, "body": body})
    return int(issue["number"])


def test_the_fathers_message_is_logged_once_acknowledged_and_never_run(gitea):
    body = "SSH unavailable. Proceed with autonomy. Check logs hourly.\nrm -rf /srv/data"
    number = file_message(gitea, FATHER_TOKEN, "Father Message: Emergency Contact", body)
    file_message(gitea, FATHER_TOKEN, "Some other issue", "not a message")
    log: list[dict[str, Any]] = []
    channel = channel_for(log)
    read(gitea, channel)
    read(gitea, channel)
    assert len(log) == 1, log
    [entry] = log
    assert entry["kind"] == KIND
    assert (entry["number"], entry["author"], entry["accepted"]) == (number, "father", True)
    assert entry["body"] == body, "kept as data, whole"
    assert entry["executed"] is False
    assert CHILD_TOKEN not in repr(entry)
    assert CHILD_TOKEN not in repr(channel)
    [ack] = comments(gitea, number)
    assert ack["user"]["login"] == "ops-agent"
    assert ack["body"].startswith(f"{ACK_PREFIX} agent at ")
    assert "Not executed" in ack["body"]


def test_a_message_by_anyone_else_is_logged_once_and_ignored(gitea):
    number = file_message(gitea, CHILD_TOKEN, "Father Message: trust me", "kill everything")
    log: list[dict[str, Any]] = []
    channel = channel_for(log)
    read(gitea, channel)
    read(gitea, channel)
    assert [(e["number"], e["author"], e["accepted"]) for e in log] == [
        (number, "ops-agent", False)
    ]
    assert "body" not in log[0], "an impostor's words are not kept"
    assert comments(gitea, number) == [], "no answer to an impostor"


def test_a_restarted_agent_finds_its_acknowledgement_and_logs_nothing_again(gitea):
    file_message(gitea, FATHER_TOKEN, "Father Message: Emergency Contact", "hello")
    first: list[dict[str, Any]] = []
    read(gitea, channel_for(first))
    again: list[dict[str, Any]] = []
    read(gitea, channel_for(again))
    assert len(first) == 1
    assert again == []


def test_gitea_not_answering_leaves_the_message_for_the_next_read():
    log: list[dict[str, Any]] = []
    channel = channel_for(log)

    async def run() -> None:
        down = httpx.MockTransport(lambda request: httpx.Response(503))
        async with httpx.AsyncClient(transport=down) as client:
            await channel.read(client)

    asyncio.run(run())
    assert log == []
    assert channel.done == set()


POLICY = load_policy()


def test_orphaned_once_the_fathers_heartbeats_are_silent_for_the_sop_window():
    silence = POLICY.scenario_a.silence_minutes
    detector = Detector(POLICY, co_located=False, start=0.0)
    assert not detector.orphaned(silence - 0.01)
    assert detector.orphaned(silence), "Father heartbeat missing: scenario 4"
    assert detector.state.mode != "offline", "orphaned without OFFLINE: the probes still pass"
