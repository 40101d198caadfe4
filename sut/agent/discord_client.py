"""Discord direct messages from a bot (SOP 3.1, the first backchannel), honouring 429 retry_after.

Contract (Discord API v10, docs/topics/rate-limits.md):

* ``POST /api/v10/users/@me/channels {"recipient_id"}`` opens (or returns) the DM channel;
  its ``id`` is cached for later alerts.
* ``POST /api/v10/channels/{id}/messages {"content"}`` posts the alert.
* Every request carries ``Authorization: Bot <token>``.
* A 429 carries ``{"message", "retry_after": seconds (float), "global"}`` and a
  ``Retry-After`` header (whole seconds); the client waits the body's ``retry_after`` (the
  precise one), else the header, else ``X-RateLimit-Reset-After``, and tries again.

Every request that does not end in delivery, and the delivery itself, is handed to the
caller's ``record`` callback as it happens, so the emergency log keeps pace with the wire.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sut.agent.backchannel import Record, answer_error, describe

API_PREFIX = "/api/v10"
#: Where a Discord error body says what went wrong: ``{"message", "code"}``.
DISCORD_ERROR_FIELD = "message"


@dataclass(frozen=True)
class RetryBudget:
    """How much waiting Discord may cost one alert before the next channel is tried."""

    max_rate_limit_retries: int = 3
    max_retry_wait_seconds: float = 30.0
    # One retry for a 5xx, a refused connection or a timeout: a blip gets a second chance,
    # an outage does not hold the alert back from Signal.
    max_transient_retries: int = 1


class _Spent:
    """What one delivery has used of its RetryBudget."""

    def __init__(self) -> None:
        self.rate_limit_retries = 0
        self.waited_seconds = 0.0
        self.transient_retries = 0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """How long a 429 asks to wait: body ``retry_after``, else ``Retry-After``, else reset-after."""
    candidates: list[Any] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        candidates.append(body.get("retry_after"))
    candidates.append(response.headers.get("Retry-After"))
    candidates.append(response.headers.get("X-RateLimit-Reset-After"))
    for candidate in candidates:
        if candidate is None or isinstance(candidate, bool):
            continue
        try:
            seconds = float(candidate)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


class DiscordDM:
    """Sends one alert as a bot DM to one user, within a retry budget."""

    def __init__(
        self,
        base_url: str,
        token: str,
        recipient_id: str,
        *,
        sleep: Callable[[float], Awaitable[None]],
        budget: RetryBudget,
        timeout_seconds: float,
    ) -> None:
        self._base = base_url.rstrip("/") + API_PREFIX
        self._headers = {"Authorization": f"Bot {token}"}
        self._recipient_id = recipient_id
        self._sleep = sleep
        self._budget = budget
        self._timeout_seconds = timeout_seconds
        self._channel_id: str | None = None

    def __repr__(self) -> str:
        # The token lives in the headers; never let a repr carry it into a log.
        return f"DiscordDM(base={self._base!r}, recipient_id={self._recipient_id!r})"

    async def deliver(self, client: httpx.AsyncClient, content: str, record: Record) -> bool:
        """Post ``content`` to the recipient's DM channel; True once Discord accepted it."""
        spent = _Spent()
        cached = self._channel_id is not None
        response = await self._post_message(client, spent, record, content)
        if cached and response is not None and response.status_code == 404:
            # The cached DM channel is gone (404 Unknown Channel): open a new one, once.
            self._channel_id = None
            response = await self._post_message(client, spent, record, content)
        if response is None or not response.is_success:
            return False
        record(
            {"request": "create_message", "outcome": "delivered", "status": response.status_code}
        )
        return True

    async def _post_message(
        self, client: httpx.AsyncClient, spent: _Spent, record: Record, content: str
    ) -> httpx.Response | None:
        channel_id = self._channel_id or await self._open_dm(client, spent, record)
        if channel_id is None:
            return None
        path = f"/channels/{channel_id}/messages"
        return await self._request(
            client, spent, record, "create_message", path, {"content": content}
        )

    async def _open_dm(
        self, client: httpx.AsyncClient, spent: _Spent, record: Record
    ) -> str | None:
        body = {"recipient_id": self._recipient_id}
        response = await self._request(
            client, spent, record, "create_dm", "/users/@me/channels", body
        )
        if response is None or not response.is_success:
            return None
        try:
            channel_id = response.json().get("id")
        except (ValueError, AttributeError):
            channel_id = None
        # Discord ids are snowflakes sent as strings.
        if not isinstance(channel_id, str) or not channel_id:
            record(
                {
                    "request": "create_dm",
                    "outcome": "failed",
                    "status": response.status_code,
                    "error": "DM channel answer has no channel id",
                }
            )
            return None
        self._channel_id = str(channel_id)
        return self._channel_id

    async def _request(
        self,
        client: httpx.AsyncClient,
        spent: _Spent,
        record: Record,
        name: str,
        path: str,
        body: dict[str, Any],
    ) -> httpx.Response | None:
        """POST until a 2xx or the budget says stop; the last answer (None: no answer at all).

        Every unsuccessful request is recorded here; the caller records the success.
        """
        while True:
            try:
                response = await client.post(
                    self._base + path,
                    json=body,
                    headers=self._headers,
                    timeout=self._timeout_seconds,
                )
            except httpx.HTTPError as exc:
                record(
                    {"request": name, "outcome": "failed", "status": None, "error": describe(exc)}
                )
                if not self._transient_retry(spent):
                    return None
                continue
            if response.is_success:
                return response
            if response.status_code == 429:
                wait = retry_after_seconds(response)
                refusal = self._refuse_wait(spent, wait)
                attempt: dict[str, Any] = {
                    "request": name,
                    "outcome": "rate_limited",
                    "status": 429,
                    "retry_after": wait,
                    "error": refusal or answer_error(response, DISCORD_ERROR_FIELD),
                }
                record(attempt)
                if refusal is not None or wait is None:
                    return response
                spent.rate_limit_retries += 1
                spent.waited_seconds += wait
                # Discord's retry_after is real seconds whatever the SOP time scale: wait it.
                await self._sleep(wait)
                continue
            record(
                {
                    "request": name,
                    "outcome": "failed",
                    "status": response.status_code,
                    "error": answer_error(response, DISCORD_ERROR_FIELD),
                }
            )
            # A 4xx (bad token, no permission, unknown channel) will not heal by retrying.
            if response.status_code < 500 or not self._transient_retry(spent):
                return response

    def _transient_retry(self, spent: _Spent) -> bool:
        if spent.transient_retries >= self._budget.max_transient_retries:
            return False
        spent.transient_retries += 1
        return True

    def _refuse_wait(self, spent: _Spent, wait: float | None) -> str | None:
        """Why this 429 ends the Discord attempt (None: wait and retry)."""
        budget = self._budget
        if wait is None:
            return "429 without retry_after or Retry-After; giving up on Discord"
        if spent.rate_limit_retries >= budget.max_rate_limit_retries:
            return (
                f"still rate limited after {spent.rate_limit_retries} retries "
                f"(max_rate_limit_retries {budget.max_rate_limit_retries}); giving up on Discord"
            )
        if spent.waited_seconds + wait > budget.max_retry_wait_seconds:
            return (
                f"retry_after {wait:g} s would exceed the {budget.max_retry_wait_seconds:g} s "
                f"wait budget ({spent.waited_seconds:g} s spent); giving up on Discord"
            )
        return None
