"""The dispatcher's model provider: one non-streaming Ollama chat call, classified.

SOP 2B turns on what the provider answers: ``rate_limited`` (HTTP 429, or any answer
whose body says "Rate Limit Exceeded") is what the dispatcher must report to its agents;
a 5xx, any other failure status, a timeout or a refused connection is ``error``.
"""

from __future__ import annotations

from typing import Final, Literal

import httpx

from sut.runtime.jsonlog import get_logger

ProviderStatus = Literal["ok", "rate_limited", "error"]

OK: Final = "ok"
RATE_LIMITED: Final = "rate_limited"
ERROR: Final = "error"

#: The phrase of SOP 2B; some gateways say it with a status other than 429.
RATE_LIMIT_PHRASE = "rate limit exceeded"

#: The prompt of the liveness call: short, so a real model answers fast.
_PROMPT = "Reply with the single word: ok"

log = get_logger("sut.dispatcher.provider")


def classify(status_code: int, body: str) -> ProviderStatus:
    """What one provider answer means for SOP 2B (pure: no I/O)."""
    if status_code == 429 or RATE_LIMIT_PHRASE in body.lower():
        return RATE_LIMITED
    if 200 <= status_code < 300:
        return OK
    return ERROR


class ProviderClient:
    """Calls ``POST {url}/api/chat`` with ``stream: false`` and classifies the answer."""

    def __init__(self, url: str, model: str, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s

    def request_body(self) -> dict[str, object]:
        """The chat request sent on every call."""
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": _PROMPT}],
            "stream": False,
        }

    async def check(self, client: httpx.AsyncClient) -> ProviderStatus:
        """Call the provider once; never raises for a network failure (that is ``error``)."""
        try:
            response = await client.post(
                f"{self.url}/api/chat", json=self.request_body(), timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            log.debug(
                "provider call failed",
                extra={"fields": {"error": type(exc).__name__, "provider": self.url}},
            )
            return ERROR
        return classify(response.status_code, response.text)
