"""A Discord REST v10 subset for a bot's direct messages, enough for a community library.

A bot written with a Discord library (hikari, tests/sut/standins/test_discord_community_client.py)
runs against it unchanged but for its base URL and token:

``GET /api/v10/users/@me``                      the bot's own user object (a library's login)
``GET /api/v10/gateway/bot``                    the gateway URL, shards and session start limit
``POST /api/v10/users/@me/channels``            ``{"recipient_id"}``: the DM channel object, the
                                                same one for the same recipient, as Discord does
``POST /api/v10/channels/{channel_id}/messages``  ``{"content"}``: the message object

Each wants ``Authorization: Bot <token>`` and answers Discord's JSON errors ``{"message",
"code"}`` (docs.discord.com/developers/topics/opcodes-and-status-codes): ``401: Unauthorized``,
and for a route this subset does not serve ``404: Not Found`` or ``405: Method Not Allowed``,
all with code 0, and for a body past the size limit of docs/security.md ``Request entity
too large``, 413 code 40005. Each carries Discord's ``X-RateLimit-*`` headers; a real
per-route bucket limits it, and so does the bot's global limit, counted over every
authorized request (docs.discord.com/developers/topics/rate-limits, "Global Rate Limit":
50 requests a second).
The ``rate_limit`` fault answers a per-route 429 at once. The sink records each posted message.

Environment: ``SOPDRILL_DISCORD_TOKEN`` (the bot token, a secret: never logged),
``SOPDRILL_DISCORD_RATE_LIMIT`` (requests per bucket window, default 5),
``SOPDRILL_DISCORD_RATE_WINDOW_SECONDS`` (default 5), ``SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT``
(requests a second over all routes, default 50, as Discord), and those of every service.
"""

from __future__ import annotations

import hmac
import itertools
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sop.errors import ServiceConfigError
from sut.runtime import Settings, get_logger
from sut.standins.app import NotAJsonObject, guarded_app, read_json_object, run
from sut.standins.discord_channels import ChannelBook
from sut.standins.fault import Fault
from sut.standins.ratelimit import (
    BucketReading,
    RateBuckets,
    exhausted,
    globally_rate_limited,
    rate_limited,
)
from sut.standins.sink import STATE_ENV, Sink, state_file

SERVICE: Final = "discord"
API: Final = "/api/v10"
# Each route is spelled "METHOD path below API": _route_of finds it back from a request.
MY_USER_ROUTE: Final = "GET /users/@me"
GATEWAY_BOT_ROUTE: Final = "GET /gateway/bot"
DM_ROUTE: Final = "POST /users/@me/channels"
MESSAGE_ROUTE: Final = "POST /channels/{channel_id}/messages"
MESSAGE_MAX_CHARS: Final = 2000  # Discord's limit on a message's content
DEFAULT_RATE_LIMIT: Final = 5
DEFAULT_RATE_WINDOW_SECONDS: Final = 5.0
DEFAULT_GLOBAL_RATE_LIMIT: Final = 50  # docs: "All bots can make up to 50 requests per second"
GLOBAL_RATE_WINDOW_SECONDS: Final = 1.0
GLOBAL_BUCKET: Final = "global"
DISCORD_EPOCH_MS: Final = 1_420_070_400_000  # the first second of 2015, Discord's epoch
# Apps kept Discord's legacy four-digit tag: the 2023 move to unique usernames ("0") left
# bot users out (support-dev.discord.com, "Updating Apps to Support Unique Usernames").
BOT_DISCRIMINATOR: Final = "4271"
# There is no gateway here. A REST-only client only reads this URL; one that did connect
# would fail on loopback instead of reaching Discord's real gateway.
GATEWAY_URL: Final = "wss://127.0.0.1/"

_log = get_logger(f"sut.standins.{SERVICE}")  # stable when run as __main__


class Snowflakes:
    """Discord ids: milliseconds since Discord's epoch shifted left 22 bits, plus a counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def next(self) -> str:
        """A fresh id, as the decimal string Discord sends."""
        with self._lock:
            increment = next(self._counter) & 0xFFF
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (1 << 17) | (1 << 12) | increment)


def discord_error(
    message: str, code: int, status: int, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Discord's JSON error: ``{"message", "code"}`` plus, for form errors, ``errors``."""
    return JSONResponse({"message": message, "code": code, **extra}, status, headers=headers)


def _form_error(field: str, code: str, message: str, headers: dict[str, str]) -> JSONResponse:
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return discord_error("Invalid Form Body", 50035, 400, headers, errors=errors)


def _unreadable(exc: NotAJsonObject, headers: dict[str, str]) -> JSONResponse:
    """A body refused unread or unparsed, as Discord answers it (413 code 40005, 400 50109)."""
    if exc.status == 413:
        return discord_error("Request entity too large", 40005, 413, headers)
    return discord_error("The request body contains invalid JSON.", 50109, 400, headers)


def _route_of(request: Request) -> str:
    path = request.url.path.removeprefix(API)
    if path.startswith("/channels/"):
        return MESSAGE_ROUTE
    return f"{request.method} {path}"


def _route_error(request: Request, status: int, headers: Mapping[str, str] | None) -> Response:
    """A 404 or 405 of the router under ``/api/``: Discord's JSON error, code 0."""
    return discord_error(f"{status}: {HTTPStatus(status).phrase}", 0, status, headers)


def _user(user_id: str, username: str, *, bot: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": user_id,
        "username": username,
        "discriminator": BOT_DISCRIMINATOR if bot else "0",
        "global_name": None,
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


def _own_user(user: dict[str, Any]) -> dict[str, Any]:
    """``user`` as ``GET /users/@me`` shows it to its owner: the account's private fields too."""
    return {
        **user,
        "banner": None,
        "accent_color": None,
        "flags": 0,
        "mfa_enabled": False,
        "locale": "en-US",
        "verified": True,
        "email": None,  # a bot has no email address
        "premium_type": 0,
    }


@dataclass(frozen=True)
class DmChannel:
    """A direct-message channel between the bot and one recipient."""

    id: str
    recipient_id: str

    def as_json(self, last_message_id: str | None = None) -> dict[str, Any]:
        """Discord's channel object of type 1 (DM)."""
        return {
            "id": self.id,
            "type": 1,
            "last_message_id": last_message_id,
            "flags": 0,
            "recipients": [_user(self.recipient_id, f"user{self.recipient_id[-4:]}")],
        }


class DiscordStandIn:
    """The request handlers, over the bot token, the DM channels opened and the sink."""

    def __init__(
        self,
        token: str,
        buckets: RateBuckets,
        global_buckets: RateBuckets,
        sink: Sink,
        channels_file: Path | None = None,
    ) -> None:
        self._expected_auth = f"Bot {token}".encode()
        self.buckets = buckets
        self.global_buckets = global_buckets
        self.sink = sink
        self.ids = Snowflakes()
        self.channels = ChannelBook(channels_file, self.ids.next)
        self.bot = _user(self.channels.bot_id, "sopdrill-ops", bot=True)
        self._last_message: dict[str, str] = {}

    def _authorized(self, request: Request) -> bool:
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._expected_auth)

    def _admit(self, request: Request, route: str, resource: str = "") -> BucketReading | Response:
        """The route's bucket reading for a request let through, else the 401 or 429 answer."""
        if not self._authorized(request):
            # Unauthorized requests are limited per IP address by Discord, not as the bot's.
            return discord_error("401: Unauthorized", 0, 401)
        # The global limit counts every request of the bot, a per-route 429 included, and its
        # 429 leaves the route's bucket untouched: that request never reached the route.
        held = self.global_buckets.hit(GLOBAL_BUCKET)
        if held.limited:
            self.sink.refuse(request.method, request.url.path, status=429, scope="global")
            return globally_rate_limited(held.reset_after_seconds)
        reading = self.buckets.hit(route, resource)
        if reading.limited:
            self.sink.refuse(request.method, request.url.path, status=429, scope="user")
            return rate_limited(reading)
        return reading

    async def my_user(self, request: Request) -> Response:
        """``GET /api/v10/users/@me``: the bot's own user object."""
        admitted = self._admit(request, MY_USER_ROUTE)
        if isinstance(admitted, Response):
            return admitted
        return JSONResponse(_own_user(self.bot), headers=admitted.headers())

    async def gateway_bot(self, request: Request) -> Response:
        """``GET /api/v10/gateway/bot``: where the gateway is, one shard, a full session limit."""
        admitted = self._admit(request, GATEWAY_BOT_ROUTE)
        if isinstance(admitted, Response):
            return admitted
        body = {
            "url": GATEWAY_URL,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 86_400_000,  # milliseconds: the limit is per day
                "max_concurrency": 1,
            },
        }
        return JSONResponse(body, headers=admitted.headers())

    async def create_dm(self, request: Request) -> Response:
        """``POST /api/v10/users/@me/channels``: the DM channel with ``recipient_id``."""
        admitted = self._admit(request, DM_ROUTE)
        if isinstance(admitted, Response):
            return admitted
        headers = admitted.headers()
        try:
            body = await read_json_object(request)
        except NotAJsonObject as exc:
            return _unreadable(exc, headers)
        recipient = body.get("recipient_id")
        if recipient is None:
            return _form_error(
                "recipient_id", "BASE_TYPE_REQUIRED", "This field is required", headers
            )
        recipient = str(recipient)
        if not recipient.isdigit():
            message = f'Value "{recipient}" is not snowflake.'
            return _form_error("recipient_id", "NUMBER_TYPE_COERCE", message, headers)
        channel_id, opened = self.channels.open(recipient)
        channel = DmChannel(channel_id, recipient)
        if opened:
            _log.info("dm channel opened", extra={"fields": {"channel_id": channel.id}})
        return JSONResponse(channel.as_json(self._last_message.get(channel.id)), headers=headers)

    async def create_message(self, request: Request) -> Response:
        """``POST /api/v10/channels/{channel_id}/messages``: post ``content`` to a DM channel."""
        channel_id = str(request.path_params["channel_id"])
        admitted = self._admit(request, MESSAGE_ROUTE, channel_id)
        if isinstance(admitted, Response):
            return admitted
        headers = admitted.headers()
        recipient = self.channels.recipient_of(channel_id)
        channel = None if recipient is None else DmChannel(channel_id, recipient)
        if channel is None:
            return discord_error("Unknown Channel", 10003, 404, headers)
        try:
            body = await read_json_object(request)
        except NotAJsonObject as exc:
            return _unreadable(exc, headers)
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            return _form_error("content", "BASE_TYPE_STRING", "Must be a string.", headers)
        if not content or not content.strip():
            return discord_error("Cannot send an empty message", 50006, 400, headers)
        if len(content) > MESSAGE_MAX_CHARS:
            message = f"Must be {MESSAGE_MAX_CHARS} or fewer in length."
            return _form_error("content", "BASE_TYPE_MAX_LENGTH", message, headers)

        message_id = self.ids.next()
        self._last_message[channel.id] = message_id
        entry = self.sink.record(
            request.method,
            request.url.path,
            body,
            channel_id=channel.id,
            recipient_id=channel.recipient_id,
            content=content,
            message_id=message_id,
        )
        _log.info(
            "message posted",
            extra={"fields": {"channel_id": channel.id, "message_id": message_id}},
        )
        return JSONResponse(
            self._message(message_id, channel, content, entry.received_at), headers=headers
        )

    def _message(
        self, message_id: str, channel: DmChannel, content: str, at: datetime
    ) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": 0,
            "channel_id": channel.id,
            "content": content,
            "author": self.bot,
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": at.astimezone(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
        }

    def render_fault(self, fault: Fault, request: Request) -> Response:
        """A replacing fault in Discord's shapes: its 429 with headers, or a JSON 5xx."""
        if fault.mode == "rate_limit":
            retry_after = fault.retry_after_seconds or 0.0
            reading = exhausted(_route_of(request), self.buckets.limit, retry_after, time.time())
            return rate_limited(reading)
        status = fault.status_code
        return discord_error(f"{status}: stand-in fault", 0, status)


def _request_limit(settings: Settings, name: str, default: int) -> int:
    limit = settings.integer(name, default)
    if limit < 1:
        raise ServiceConfigError(f"{SERVICE}: {name}: expected a whole number >= 1, got {limit}")
    return limit


def create_app(settings: Settings) -> Starlette:
    """The Discord stand-in configured from ``settings``."""
    token = settings.secret("SOPDRILL_DISCORD_TOKEN")
    limit = _request_limit(settings, "SOPDRILL_DISCORD_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    window = settings.number("SOPDRILL_DISCORD_RATE_WINDOW_SECONDS", DEFAULT_RATE_WINDOW_SECONDS)
    if not math.isfinite(window) or window <= 0:
        raise ServiceConfigError(
            f"{SERVICE}: SOPDRILL_DISCORD_RATE_WINDOW_SECONDS: expected seconds > 0, got {window}"
        )
    global_limit = _request_limit(
        settings, "SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT", DEFAULT_GLOBAL_RATE_LIMIT
    )
    state = settings.optional(STATE_ENV)
    standin = DiscordStandIn(
        token,
        RateBuckets(limit, window),
        RateBuckets(global_limit, GLOBAL_RATE_WINDOW_SECONDS),
        Sink(journal=state_file(state, "discord-sink.jsonl")),
        channels_file=state_file(state, "discord-channels.json"),
    )
    api = [
        ("GET", f"{API}/users/@me", standin.my_user),
        ("GET", f"{API}/gateway/bot", standin.gateway_bot),
        ("POST", f"{API}/users/@me/channels", standin.create_dm),
        ("POST", f"{API}/channels/{{channel_id}}/messages", standin.create_message),
    ]
    return guarded_app(api, standin.sink, standin.render_fault, _route_error)


def main() -> None:
    """``python -m sut.standins.discord``: serve on ``SOPDRILL_BIND:SOPDRILL_PORT``."""
    run(SERVICE, create_app)


if __name__ == "__main__":
    main()
