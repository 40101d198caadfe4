"""Signal messages through signal-cli-rest-api (SOP 3.2, the second backchannel).

Contract (bbernhard/signal-cli-rest-api, ``POST /v2/send``): body ``{"message", "number":
<registered sender>, "recipients": [<recipient>]}``; ``201 {"timestamp"}`` means sent,
``400 {"error"}`` means refused. Every request's outcome goes to the caller's ``record``
callback as it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

#: Receives one attempt: ``request``, ``outcome``, ``status``, ``error``.
Record = Callable[[dict[str, Any]], None]

#: The only answer signal-cli-rest-api gives for a sent message.
SENT = 201
#: A 5xx, a refused connection or a timeout gets one more try: Signal is the last channel.
MAX_TRANSIENT_RETRIES = 1


class SignalSender:
    """Sends one alert from the registered number to one recipient."""

    def __init__(
        self, base_url: str, number: str, recipient: str, *, timeout_seconds: float
    ) -> None:
        self._url = base_url.rstrip("/") + "/v2/send"
        self._number = number
        self._recipient = recipient
        self._timeout_seconds = timeout_seconds

    async def deliver(self, client: httpx.AsyncClient, message: str, record: Record) -> bool:
        """Send ``message``; True once the API answered 201."""
        body = {"message": message, "number": self._number, "recipients": [self._recipient]}
        retries = 0
        while True:
            try:
                response = await client.post(self._url, json=body, timeout=self._timeout_seconds)
            except httpx.HTTPError as exc:
                record(
                    {
                        "request": "send",
                        "outcome": "failed",
                        "status": None,
                        "error": f"{type(exc).__name__}: {str(exc) or 'no detail'}",
                    }
                )
                status = None
            else:
                status = response.status_code
                if status == SENT:
                    record({"request": "send", "outcome": "delivered", "status": status})
                    return True
                record(
                    {
                        "request": "send",
                        "outcome": "rate_limited" if status == 429 else "failed",
                        "status": status,
                        "error": _error_text(response),
                    }
                )
            # Only an outage may heal on a second try; a 4xx (bad number, unregistered) never.
            transient = status is None or status >= 500
            if not transient or retries >= MAX_TRANSIENT_RETRIES:
                return False
            retries += 1


def _error_text(response: httpx.Response) -> str:
    """The API's ``{"error"}`` text, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f"HTTP {response.status_code}: {body['error']}"
    return f"HTTP {response.status_code}: {response.text[:200]}"
