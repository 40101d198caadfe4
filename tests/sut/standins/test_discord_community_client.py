"""A community Discord library, hikari, run against the Discord stand-in unchanged.

Only configuration points it here: the base URL (``RESTApp(url=...)``) and the bot token. It
logs in, reads the gateway, opens the DM and posts a burst larger than the per-route bucket,
under limits set low so that the burst must wait on buckets and ride 429s, per route and
global, as against Discord itself. The stand-in's sink must show each message once, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hikari
import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sut.runtime import Settings
from sut.standins.discord import API, create_app

TOKEN = "community-client-token.xyz789"
RECIPIENT = 80351110224678912
BURST = 6
LIMITS = {
    # Two messages per channel each half second, three requests a second in all: the login,
    # the gateway and the DM fill the first global second, so the first message meets the
    # global limit, and the burst holds more messages than the channel's bucket allows.
    "SOPDRILL_DISCORD_RATE_LIMIT": "2",
    "SOPDRILL_DISCORD_RATE_WINDOW_SECONDS": "0.5",
    "SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT": "3",
}
#: Wall seconds the whole client run may take (it needs about four): a hang fails, not blocks.
RUN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Answer:
    """One answer of the stand-in as the client met it: status and ``X-RateLimit-Scope``."""

    method: str
    path: str
    status: int
    scope: str | None


class AnswerLog:
    """ASGI middleware appending an :class:`Answer` for each HTTP answer of the app it wraps."""

    def __init__(self, app: ASGIApp, answers: list[Answer]) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = {name.lower(): value for name, value in message.get("headers", [])}
                rate_scope = headers.get(b"x-ratelimit-scope")
                self.answers.append(
                    Answer(
                        scope["method"],
                        scope["path"],
                        message["status"],
                        rate_scope.decode() if rate_scope is not None else None,
                    )
                )
            await send(message)

        await self.app(scope, receive, send_and_record)


@dataclass(frozen=True)
class BotRun:
    """What the client got back, each call as hikari modelled it."""

    me: hikari.OwnUser
    gateway: hikari.GatewayBotInfo
    dm: hikari.DMChannel
    sent: list[hikari.Message]


async def _run_bot(base_url: str) -> BotRun:
    """A REST-only bot: login, gateway, DM, then the burst, one message after the other."""
    rest_app = hikari.RESTApp(url=f"{base_url}{API}")
    await rest_app.start()
    try:
        async with rest_app.acquire(TOKEN, token_type="Bot") as client:
            me = await client.fetch_my_user()
            gateway = await client.fetch_gateway_bot_info()
            dm = await client.create_dm_channel(RECIPIENT)
            # The harness, not the bot: the next API request, the first message, meets a
            # per-route 429 that hikari must wait out and retry.
            async with httpx.AsyncClient(base_url=base_url, timeout=5) as harness:
                fault = {"mode": "rate_limit", "retry_after_seconds": 0.05, "count": 1}
                (await harness.put("/_fault", json=fault)).raise_for_status()
            sent = [await client.create_message(dm, f"alert {n}") for n in range(BURST)]
    finally:
        await rest_app.close()
    return BotRun(me, gateway, dm, sent)


def _limited(answers: list[Answer], scope: str) -> list[Answer]:
    return [a for a in answers if a.status == 429 and a.scope == scope]


def test_hikari_sends_a_rate_limited_burst_once_each_in_order(
    serve: Callable[[Starlette], str],
) -> None:
    answers: list[Answer] = []
    app = create_app(Settings("discord", environ={"SOPDRILL_DISCORD_TOKEN": TOKEN, **LIMITS}))
    app.add_middleware(AnswerLog, answers=answers)
    base_url = serve(app)

    # Any exception hikari raised (an HTTP error, a rate limit it gave up on) fails here.
    run = asyncio.run(asyncio.wait_for(_run_bot(base_url), RUN_TIMEOUT_S))

    assert (run.me.is_bot, run.me.username) == (True, "sopdrill-ops")
    assert run.gateway.url.startswith("wss://127.0.0.1")
    assert (run.gateway.shard_count, run.gateway.session_start_limit.remaining) == (1, 1000)
    assert run.dm.recipient.id == RECIPIENT
    expected = [f"alert {n}" for n in range(BURST)]
    assert [m.content for m in run.sent] == expected
    assert {(m.channel_id, m.author.id) for m in run.sent} == {(run.dm.id, run.me.id)}

    entries: list[dict[str, Any]] = httpx.get(f"{base_url}/_sink/messages", timeout=5).json()
    assert [e["content"] for e in entries] == expected
    assert [e["message_id"] for e in entries] == [str(m.id) for m in run.sent]

    posts = [a for a in answers if a.path == f"{API}/channels/{run.dm.id}/messages"]
    assert [a.status for a in posts].count(200) == BURST
    assert _limited(posts, "user"), "the injected per-route 429 was not met"
    assert _limited(answers, "global"), f"the burst never met the global limit: {answers}"
    assert {a.status for a in answers} <= {200, 429}, answers
