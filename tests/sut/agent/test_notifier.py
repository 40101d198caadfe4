"""SOP 3 over real HTTP: the marker first, Discord DM, then Signal; every attempt logged."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sop.chain import verify_chain
from sop.policy import Policy, load_policy
from sop.references import NONE, Reference
from sut.agent.emlog import EmergencyLog
from sut.agent.notifier import ChannelConfig, Notifier

TOKEN = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
RECIPIENT_ID = "80351110224678912"
SENDER = "+431212131491291"
SAFETY_RECIPIENT = "+4915112345678"
HOST = "ops-1"


class FakeDiscord:
    """Discord's bot-DM routes with scripted answers; records what it was sent."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.mode = "ok"  # ok | error (503) | unauthorized_echo (401 quoting the header)
        self.rate_limits: list[float] = []  # retry_after of the next create-message 429s
        self.dm_opened = 0
        self.messages: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v10/users/@me/channels", self.open_dm, methods=["POST"]),
                Route("/api/v10/channels/{channel_id}/messages", self.post, methods=["POST"]),
            ]
        )

    def refuse(self, request: Request) -> JSONResponse | None:
        if self.mode == "error":
            return JSONResponse({"message": "503: Service Unavailable", "code": 0}, 503)
        auth = request.headers.get("authorization", "")
        if self.mode == "unauthorized_echo":
            # A careless upstream that quotes the credential back: the agent must redact it.
            return JSONResponse({"message": f"401: Unauthorized ({auth})", "code": 0}, 401)
        if auth != f"Bot {TOKEN}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, 401)
        return None

    async def open_dm(self, request: Request) -> JSONResponse:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        body = await request.json()
        self.dm_opened += 1
        channel = {"id": "1100", "type": 1, "recipients": [{"id": body["recipient_id"]}]}
        return JSONResponse(channel)

    async def post(self, request: Request) -> JSONResponse:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        if self.rate_limits:
            retry_after = self.rate_limits.pop(0)
            body = {"message": "You are being rate limited.", "retry_after": retry_after}
            headers = {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(retry_after),
                "X-RateLimit-Scope": "user",
            }
            return JSONResponse({**body, "global": False}, 429, headers=headers)
        body = await request.json()
        self.messages.append({"channel_id": request.path_params["channel_id"], **body})
        return JSONResponse({"id": str(len(self.messages)), "content": body["content"]})


class FakeSignal:
    """signal-cli-rest-api's ``/v2/send``; records what it was sent."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.mode = "ok"  # ok | error (500)
        self.messages: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/send", self.send, methods=["POST"])])

    async def send(self, request: Request) -> JSONResponse:
        if self.mode == "error":
            return JSONResponse({"error": "signal-cli: connection to Signal servers failed"}, 500)
        self.messages.append(await request.json())
        return JSONResponse({"timestamp": str(time.time_ns() // 1_000_000)}, 201)


@pytest.fixture(scope="module")
def discord(threaded_server) -> Iterator[tuple[FakeDiscord, str]]:
    fake = FakeDiscord()
    with threaded_server(fake.app()) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def signal(threaded_server) -> Iterator[tuple[FakeSignal, str]]:
    fake = FakeSignal()
    with threaded_server(fake.app()) as server:
        yield fake, server.url


@pytest.fixture
def fakes(discord, signal) -> tuple[FakeDiscord, FakeSignal]:
    discord[0].reset()
    signal[0].reset()
    return discord[0], signal[0]


@pytest.fixture
def closed_url() -> str:
    """A 127.0.0.1 URL where nothing listens: a channel that is down (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def channels(discord_url: str | None, signal_url: str | None) -> ChannelConfig:
    return ChannelConfig(
        discord_url=discord_url,
        discord_token=TOKEN,
        discord_recipient_id=RECIPIENT_ID,
        signal_url=signal_url,
        signal_number=SENDER,
        signal_recipient=SAFETY_RECIPIENT,
    )


class Sleeps:
    """The injected sleep: records what it was asked to wait, waits nothing."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


#: The reference every test alert names (gate4 guardrail 4): an OFFLINE episode files no issue.
REF = Reference("inc-0123456789ab", NONE)


def alert(notifier: Notifier, reason: str = "no heartbeat for 15 min; 3 API failures"):
    return asyncio.run(notifier.alert("scenario_a", reason, REF))


def logged(log: EmergencyLog) -> list[dict[str, Any]]:
    """The log file as an auditor reads it (verified), then anything still pending."""
    return verify_chain(log.path.read_text(encoding="utf-8").split("\n")) + log.pending()


def notifications(entries: list[dict[str, Any]]) -> list[tuple[str, str, int, str | None]]:
    return [
        (e["channel"], e["outcome"], e["attempt"], e["request"])
        for e in entries
        if e["kind"] == "notification"
    ]


def test_discord_delivers_and_signal_is_not_tried(tmp_path, policy, discord, signal, fakes):
    fake_discord, fake_signal = fakes
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(discord[1], signal[1]), log, HOST, sleep=Sleeps())

    result = alert(notifier)

    assert result.delivered_via == "discord"
    said = policy.render_alert(HOST, "no heartbeat for 15 min; 3 API failures")
    expected = f"{said}\nIncident: {REF.correlation_id}. Issue: none."  # gate4 guardrail 4
    assert expected.startswith("\N{POLICE CARS REVOLVING LIGHT} CRITICAL")
    assert fake_discord.messages == [{"channel_id": "1100", "content": expected}]
    assert fake_signal.messages == []
    entries = logged(log)
    assert entries[0]["kind"] == "marker"
    assert {k: entries[0][k] for k in ("trigger", "reason", "host", "correlation_id")} == {
        "trigger": "scenario_a",
        "reason": "no heartbeat for 15 min; 3 API failures",
        "host": HOST,
        "correlation_id": REF.correlation_id,
    }
    assert notifications(entries) == [("discord", "delivered", 1, "create_message")]
    assert [a["outcome"] for a in result.attempts] == ["delivered"]


@pytest.mark.parametrize("outage", ["503", "connection refused"])
def test_discord_outage_falls_back_to_signal_after_one_retry(
    tmp_path, policy, discord, signal, fakes, closed_url, outage
):
    fake_discord, fake_signal = fakes
    discord_url = discord[1]
    if outage == "503":
        fake_discord.mode = "error"
    else:
        discord_url = closed_url
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(discord_url, signal[1]), log, HOST, sleep=Sleeps())

    result = alert(notifier, reason="429 for more than 3 min")

    assert result.delivered_via == "signal"
    assert fake_discord.messages == []
    assert fake_signal.messages == [
        {
            "message": policy.reference.append(
                policy.render_alert(HOST, "429 for more than 3 min"), REF
            ),
            "number": SENDER,
            "recipients": [SAFETY_RECIPIENT],
        }
    ]
    entries = logged(log)
    assert entries[0]["kind"] == "marker"
    assert notifications(entries) == [
        ("discord", "failed", 1, "create_dm"),
        ("discord", "failed", 2, "create_dm"),
        ("signal", "delivered", 1, "send"),
    ]
    discord_failure = entries[1]
    if outage == "503":
        assert discord_failure["status"] == 503
        assert "503" in discord_failure["error"]
    else:
        assert discord_failure["status"] is None
        assert discord_failure["error"].startswith("ConnectError")


def test_both_channels_down_still_leaves_the_marker_and_every_failure(
    tmp_path, policy, fakes, discord, signal, closed_url
):
    fake_discord, fake_signal = fakes
    fake_signal.mode = "error"
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(closed_url, signal[1]), log, HOST, sleep=Sleeps())

    result = alert(notifier)

    assert result.delivered_via is None
    entries = logged(log)
    assert [e["kind"] for e in entries] == ["marker"] + ["notification"] * 4
    assert notifications(entries) == [
        ("discord", "failed", 1, "create_dm"),
        ("discord", "failed", 2, "create_dm"),
        ("signal", "failed", 1, "send"),
        ("signal", "failed", 2, "send"),
    ]
    assert entries[-1]["status"] == 500
    assert "connection to Signal servers failed" in entries[-1]["error"]
    assert [a["outcome"] for a in result.attempts] == ["failed"] * 4
    assert fake_discord.messages == []
    assert fake_signal.messages == []


def test_discord_429_waits_retry_after_and_delivers_exactly_once(
    tmp_path, policy, discord, signal, fakes
):
    fake_discord, fake_signal = fakes
    fake_discord.rate_limits = [0.2, 0.2]
    sleeps = Sleeps()
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(discord[1], signal[1]), log, HOST, sleep=sleeps)

    result = alert(notifier)

    assert result.delivered_via == "discord"
    # The body's precise retry_after, not the rounded-up Retry-After header (1 s).
    assert sleeps.asked == [0.2, 0.2]
    assert len(fake_discord.messages) == 1
    assert fake_signal.messages == []
    entries = logged(log)
    assert notifications(entries) == [
        ("discord", "rate_limited", 1, "create_message"),
        ("discord", "rate_limited", 2, "create_message"),
        ("discord", "delivered", 3, "create_message"),
    ]
    assert [e.get("retry_after") for e in entries[1:3]] == [0.2, 0.2]
    assert all(e["status"] == 429 for e in entries[1:3])


@pytest.mark.parametrize(
    ("rate_limits", "expected_sleeps", "why"),
    [
        ([0.2] * 4, [0.2] * 3, "max_rate_limit_retries"),
        ([12.0, 12.0, 12.0], [12.0, 12.0], "wait budget"),
        ([45.0], [], "wait budget"),
    ],
    ids=["too-many-429s", "waits-add-up-past-30s", "one-wait-past-30s"],
)
def test_discord_retry_budget_exceeded_falls_back_to_signal(
    tmp_path, policy, discord, signal, fakes, rate_limits, expected_sleeps, why
):
    fake_discord, fake_signal = fakes
    fake_discord.rate_limits = list(rate_limits)
    sleeps = Sleeps()
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(discord[1], signal[1]), log, HOST, sleep=sleeps)

    result = alert(notifier)

    assert result.delivered_via == "signal"
    assert sleeps.asked == expected_sleeps
    assert sum(sleeps.asked) <= 30.0
    assert fake_discord.messages == []
    assert len(fake_signal.messages) == 1
    entries = logged(log)
    got = notifications(entries)
    assert [c for c, *_ in got] == ["discord"] * (len(expected_sleeps) + 1) + ["signal"]
    assert got[-1] == ("signal", "delivered", 1, "send")
    give_up = [e for e in entries if e["kind"] == "notification"][-2]
    assert give_up["outcome"] == "rate_limited"
    assert why in give_up["error"]


def test_the_token_never_reaches_the_log_the_result_or_a_repr(
    tmp_path, policy, discord, signal, fakes
):
    fake_discord, _ = fakes
    fake_discord.mode = "unauthorized_echo"
    config = channels(discord[1], signal[1])
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, config, log, HOST, sleep=Sleeps())

    result = alert(notifier)

    assert result.delivered_via == "signal"
    refusal = next(e for e in logged(log) if e["kind"] == "notification")
    assert refusal["status"] == 401
    assert "[REDACTED]" in refusal["error"]  # the fake did quote the credential
    assert TOKEN not in log.path.read_text(encoding="utf-8")
    assert TOKEN not in repr(result)
    assert TOKEN not in repr(config)


def test_a_full_emergency_log_does_not_stop_the_alert(tmp_path, policy, discord, signal, fakes):
    fake_discord, _ = fakes
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    path.symlink_to("/dev/full")  # every write now fails with a real ENOSPC
    notifier = Notifier(policy, channels(discord[1], signal[1]), log, HOST, sleep=Sleeps())

    result = alert(notifier)

    assert result.delivered_via == "discord"
    assert len(fake_discord.messages) == 1
    pending = log.pending()
    assert [e["kind"] for e in pending] == ["marker", "notification"]
    assert verify_chain(pending) == pending


def test_a_caller_client_is_used_and_the_dm_channel_is_opened_once(
    tmp_path, policy, discord, signal, fakes
):
    fake_discord, _ = fakes
    log = EmergencyLog(tmp_path / "emergency.log")

    async def two_alerts() -> list[str | None]:
        async with httpx.AsyncClient() as client:
            notifier = Notifier(
                policy, channels(discord[1], signal[1]), log, HOST, client=client, sleep=Sleeps()
            )
            first = await notifier.alert("scenario_a", "first", REF)
            second = await notifier.alert("scenario_b", "second", REF)
            assert not client.is_closed  # the caller's client is the caller's to close
        return [first.delivered_via, second.delivered_via]

    assert asyncio.run(two_alerts()) == ["discord", "discord"]
    assert fake_discord.dm_opened == 1
    bodies = [policy.reference.split(m["content"])[0] for m in fake_discord.messages]
    assert [body.rsplit("Reason: ", 1)[1] for body in bodies] == [
        "first.",
        "second.",
    ]
    assert [e["kind"] for e in logged(log)] == ["marker", "notification"] * 2


def test_an_unconfigured_discord_goes_straight_to_signal(tmp_path, policy, signal, fakes):
    _, fake_signal = fakes
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(None, signal[1]), log, HOST, sleep=Sleeps())

    result = alert(notifier)

    assert result.delivered_via == "signal"
    assert len(fake_signal.messages) == 1
    assert notifications(logged(log)) == [
        ("discord", "failed", 1, None),
        ("signal", "delivered", 1, "send"),
    ]


@pytest.mark.parametrize("discord_up", [True, False])
def test_an_escalation_goes_the_alert_s_way_without_a_marker(
    tmp_path, policy, discord, signal, fakes, discord_up
):
    fake_discord, fake_signal = fakes
    if not discord_up:
        fake_discord.mode = "error"
    log = EmergencyLog(tmp_path / "emergency.log")
    notifier = Notifier(policy, channels(discord[1], signal[1]), log, HOST, sleep=Sleeps())
    text = "ESCALATION (P1): re-sync refused by the Dispatcher."

    result = asyncio.run(notifier.escalate("resync_refused", text))

    delivered = [m["content"] for m in fake_discord.messages] + [
        m["message"] for m in fake_signal.messages
    ]
    assert delivered == [text]
    assert result.delivered_via == ("discord" if discord_up else "signal")
    entries = logged(log)
    # Not an OFFLINE declaration: SOP 3.3 keeps one marker per declaration, none here.
    assert {e["kind"] for e in entries} == {"notification"}
    assert {e["about"] for e in entries} == {"resync_refused"}
    assert entries[-1]["outcome"] == "delivered"
