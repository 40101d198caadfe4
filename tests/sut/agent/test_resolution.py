"""Notification Flow 5: a closed OFFLINE episode is told on each channel its alert went out on.

The service tests run the agent against the fake dispatcher of test_service.py and the real
Discord and Signal stand-ins (sut/standins), read back through their sinks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sop.references import Reference
from sut.agent.app import create_app
from sut.agent.emlog import EmergencyLog
from sut.agent.notifier import ChannelConfig, NotificationResult
from sut.agent.resolution import Episode, alerted_channels
from sut.agent.resume import resumption
from sut.agent.service import AgentService
from sut.runtime import Settings
from sut.standins import discord, signal
from tests.sut.agent.test_service import (
    OFFLINE_WITHIN_S,
    POLICY,
    FakeDispatcher,
    agent_config,
    on_disk,
    resynced_and_online,
    wait_for,
)

TOKEN = "resolution-test-bot-token"
RECIPIENT_ID = "100000000000000001"
SENDER = "+15550100001"
SAFETY_RECIPIENT = "+15550100002"
HOST = "ops-test"  # agent_config's hostname


# ---- the episode's channels, from the log and as alerts end ----------------------------------


def test_the_channels_alerted_are_those_of_the_episode_still_open():
    entries: list[dict[str, Any]] = [
        {"kind": "state", "mode": "offline"},
        {"kind": "notification", "channel": "signal", "outcome": "delivered"},
        {"kind": "state", "mode": "online"},  # that episode was closed
        {"kind": "state", "mode": "offline"},
        {"kind": "notification", "channel": "discord", "outcome": "failed"},
        {"kind": "notification", "channel": "signal", "outcome": "delivered", "about": "x"},
        {"kind": "state", "mode": "recovering"},
        {"kind": "state", "mode": "offline"},  # a relapse: the same episode
        {"kind": "notification", "channel": "discord", "outcome": "delivered"},
        {"kind": "notification", "channel": "discord", "outcome": "delivered"},
    ]
    assert alerted_channels(entries) == ("discord",)
    assert alerted_channels(entries[:3]) == ()


def test_an_episode_counts_an_alert_still_being_sent_once_it_ends():
    async def story() -> tuple[bool, tuple[str, ...]]:
        episode = Episode(["discord"])
        sent = asyncio.Event()

        async def alert() -> None:
            await sent.wait()
            episode.told(NotificationResult("signal", ()))
            episode.told(NotificationResult(None, ()))  # an alert no channel delivered

        episode.sending(asyncio.create_task(alert()))
        closing = asyncio.create_task(episode.delivered())
        await asyncio.wait([closing], timeout=0.05)
        early = closing.done()
        sent.set()
        return early, await closing

    early, channels = asyncio.run(story())
    assert not early, "closed while its alert was still being sent"
    assert channels == ("discord", "signal")


def test_a_restarted_agent_takes_over_the_channels_of_the_episode_in_force(tmp_path):
    log = EmergencyLog(tmp_path / "e.log")
    log.append("state", mode="offline", from_mode="suspect", trigger="scenario_a", reason="r")
    log.append("marker", trigger="scenario_a", reason="r", host=HOST)
    log.append("notification", channel="discord", outcome="delivered", attempt=1)
    found = resumption(log.entries())
    assert found is not None
    assert found.alerted == ("discord",)
    assert found.note()["alerted"] == ["discord"]


# ---- the agent over real HTTP -------------------------------------------------------------------


@dataclass
class Channels:
    """The Discord and Signal stand-ins, served for one test."""

    discord: httpx.Client
    signal: httpx.Client

    def config(self) -> ChannelConfig:
        return ChannelConfig(
            str(self.discord.base_url),
            TOKEN,
            RECIPIENT_ID,
            str(self.signal.base_url),
            SENDER,
            SAFETY_RECIPIENT,
        )

    def received(self, channel: str) -> list[str]:
        """What 0x01 read on ``channel``, oldest first (DM channel openings left out)."""
        sink = self.discord if channel == "discord" else self.signal
        field = "content" if channel == "discord" else "message"
        messages = sink.get("/_sink/messages").json()
        return [m["body"][field] for m in messages if field in (m.get("body") or {})]

    def down(self, channel: str, down: bool) -> None:
        client = self.discord if channel == "discord" else self.signal
        answer = client.put("/_fault", json={"mode": "down"}) if down else client.delete("/_fault")
        assert answer.status_code in (200, 204), answer.text


@pytest.fixture
def channels(serve: Callable[[Starlette], str]) -> Iterator[Channels]:
    env = {"SOPDRILL_DISCORD_TOKEN": TOKEN, "SOPDRILL_SIGNAL_NUMBER": SENDER}
    urls = (
        serve(discord.create_app(Settings("discord", environ=env))),
        serve(signal.create_app(Settings("signal", environ=env))),
    )
    clients = [httpx.Client(base_url=url, timeout=5.0, trust_env=False) for url in urls]
    yield Channels(*clients)
    for client in clients:
        client.close()


@pytest.fixture
def run_agent(
    serve: Callable[[Starlette], str], tmp_path: Path, channels: Channels
) -> Iterator[Callable[[], tuple[FakeDispatcher, httpx.Client, Path]]]:
    """Starts a dispatcher that is down and an agent with both backchannels; the agent's log."""
    clients: list[httpx.Client] = []

    def start() -> tuple[FakeDispatcher, httpx.Client, Path]:
        dispatcher = FakeDispatcher()
        config = agent_config(tmp_path, serve(dispatcher.app()), channels=channels.config())
        url = serve(create_app(AgentService(config)))
        clients.append(httpx.Client(base_url=url, timeout=5.0, trust_env=False))
        return dispatcher, clients[-1], config.emergency_log

    yield start
    for client in clients:
        client.close()


def offline(agent: httpx.Client) -> None:
    """OFFLINE (Scenario A: the dispatcher down and silent), its alert sent or given up."""
    wait_for(
        lambda: agent.get("/v1/state").json()["mode"] == "offline", "OFFLINE", OFFLINE_WITHIN_S
    )
    wait_for(lambda: agent.get("/v1/notifications").json(), "the alert's outcome")


def back(dispatcher: FakeDispatcher, agent: httpx.Client) -> None:
    """The dispatcher answers again; the agent re-syncs and is online."""
    dispatcher.mode = "ok"
    wait_for(resynced_and_online(agent), "re-sync to finish and the agent to be online")


def resolution_told(log: Path, dispatcher: FakeDispatcher) -> list[dict[str, Any]] | None:
    """The log once its resolution's sends are on disk and the dispatcher holds all of it."""
    entries = on_disk(log)
    sent = [e for e in entries if e.get("about") == "resolution"]
    stored = [dispatcher.stored[seq] for seq in sorted(dispatcher.stored)]
    return entries if sent and stored == entries else None


def test_after_the_resync_the_channel_that_delivered_the_alert_is_told_it_is_resolved(
    run_agent, channels
):
    dispatcher, agent, log = run_agent()
    offline(agent)
    back(dispatcher, agent)

    entries = wait_for(lambda: resolution_told(log, dispatcher), "the resolution, uploaded")
    [alert] = wait_for(lambda: channels.received("discord")[:1], "the SOP 3.1 alert")
    assert POLICY.is_alert(alert)
    resolved = POLICY.render_resolution(HOST, "ok")
    [told] = wait_for(lambda: channels.received("discord")[1:], "the resolution")
    # gate4 guardrail 4: the episode's one id, on its alert and its resolution; no issue.
    _, named = POLICY.reference.split(alert)
    assert named is not None
    assert named.issue == "none"
    assert POLICY.reference.split(told) == (resolved, named)
    assert channels.received("signal") == [], "Signal delivered no alert: nothing to update"
    # Logged after the return to online, before any send (as the SOP 3.3 marker is).
    kinds = [e["kind"] for e in entries]
    [resolution] = [e for e in entries if e["kind"] == "resolution"]
    assert (resolution["channels"], resolution["host"], resolution["integrity"]) == (
        ["discord"],
        HOST,
        "ok",
    )
    online = next(
        i for i, e in enumerate(entries) if (e["kind"], e.get("mode")) == ("state", "online")
    )
    sent = [i for i, e in enumerate(entries) if e.get("about") == "resolution"]
    assert online < kinds.index("resolution") < sent[0]
    assert [(entries[i]["channel"], entries[i]["outcome"]) for i in sent] == [
        ("discord", "delivered")
    ]


def test_only_the_channel_that_delivered_the_alert_is_told_though_the_first_is_back(
    run_agent, channels
):
    # Discord down when OFFLINE is declared: Signal delivers. Discord is back by the close:
    # the resolution still goes where the alert went, and only there.
    channels.down("discord", True)
    dispatcher, agent, log = run_agent()
    offline(agent)
    channels.down("discord", False)
    back(dispatcher, agent)
    wait_for(lambda: resolution_told(log, dispatcher), "the resolution, uploaded")
    resolved = POLICY.render_resolution(HOST, "ok")
    [alert, told] = wait_for(
        lambda: channels.received("signal")[:2][1:] and channels.received("signal"),
        "the resolution",
    )
    assert POLICY.reference.split(told)[0] == resolved
    assert POLICY.reference.split(told)[1] == POLICY.reference.split(alert)[1]
    assert channels.received("discord") == []


def test_an_alert_no_channel_delivered_is_closed_without_a_message(run_agent, channels):
    channels.down("discord", True)
    channels.down("signal", True)
    dispatcher, agent, log = run_agent()
    offline(agent)
    channels.down("discord", False)
    channels.down("signal", False)
    back(dispatcher, agent)
    # Once the re-sync's last upload holds the whole log, the resolution would be in it.
    entries = wait_for(
        lambda: (
            (es := on_disk(log)) == [dispatcher.stored[s] for s in sorted(dispatcher.stored)] and es
        ),
        "the dispatcher to hold the whole log",
    )
    assert [e for e in entries if e["kind"] == "resolution" or e.get("about")] == []
    assert channels.received("discord") == channels.received("signal") == []


def test_an_agent_restarted_while_offline_tells_the_channel_its_predecessor_alerted(
    run_agent, channels, tmp_path
):
    log = EmergencyLog(tmp_path / "openclaw" / "emergency.log")  # agent_config's log
    log.append("state", mode="offline", from_mode="suspect", trigger="scenario_a", reason="r")
    log.append("marker", trigger="scenario_a", reason="r", host=HOST, correlation_id="inc-before")
    log.append("notification", channel="discord", outcome="delivered", attempt=1)
    dispatcher, agent, path = run_agent()
    assert agent.get("/v1/state").json()["mode"] == "offline", "resumed OFFLINE"
    back(dispatcher, agent)
    entries = wait_for(lambda: resolution_told(path, dispatcher), "the resolution, uploaded")
    assert [e["channels"] for e in entries if e["kind"] == "resolution"] == [["discord"]]
    resolved = POLICY.render_resolution(HOST, "ok")
    [told] = wait_for(lambda: channels.received("discord"), "the resolution")
    # gate4 guardrail 4: the predecessor's id, read back from its marker.
    assert POLICY.reference.split(told) == (resolved, Reference("inc-before", "none"))
    assert channels.received("signal") == []
