"""Signal messages through signal-cli-rest-api (SOP 3.2, the second backchannel).

Contract (bbernhard/signal-cli-rest-api, ``POST /v2/send``): body ``{"message", "number":
<registered sender>, "recipients": [<recipient>]}``; ``201 {"timestamp"}`` means sent,
``400 {"error"}`` means refused. Every request's outcome goes to the caller's ``record``
callback as it happens.
"""

from __future__ import annotations

import httpx

from sut.agent.backchannel import Record, answer_error, describe

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
                        "error": describe(exc),
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
                        "error": answer_error(response, "error"),
                    }
                )
            # Only an outage may heal on a second try; a 4xx (bad number, unregistered) never.
            transient = status is None or status >= 500
            if not transient or retries >= MAX_TRANSIENT_RETRIES:
                return False
            retries += 1
