"""A backchannel of SOP 3 as the notifier sees it: one delivery, each request's attempt recorded.

Discord DM (sut/agent/discord_client.py) and Signal (sut/agent/signal_client.py) speak
different APIs, but hand the notifier the same thing: ``deliver`` says whether the alert got
through, and every request on the way is given to ``record`` as it happens, in the words of
the emergency log's ``notification`` entry (``request``, ``outcome``, ``status``, ``error``).
The words for what went wrong are written here once, so both channels say them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx

#: Receives one attempt: ``request``, ``outcome``, ``status``, ``error`` (and ``retry_after``).
Record = Callable[[dict[str, Any]], None]

#: How much of an answer's body an error keeps: enough to read it, never a whole page.
_BODY_LIMIT = 200


class Backchannel(Protocol):
    """One configured channel to 0x01."""

    async def deliver(self, client: httpx.AsyncClient, message: str, record: Record) -> bool:
        """Send ``message``; True once the channel's API says it was delivered."""
        ...


def describe(exc: BaseException) -> str:
    """An exception as an attempt's ``error``: its class and message (never empty)."""
    return f"{type(exc).__name__}: {str(exc) or 'no detail'}"


def answer_error(response: httpx.Response, field: str) -> str:
    """An unsuccessful answer as an attempt's ``error``: the API's JSON ``field``, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get(field), str):
        return f"HTTP {response.status_code}: {body[field]}"
    return f"HTTP {response.status_code}: {response.text[:_BODY_LIMIT]}"
