"""Discord's rate limits as the Discord stand-in answers them: per route, and global.

A fixed-window bucket per route and top-level resource (the channel id of
``/channels/{id}/messages``), the ``X-RateLimit-*`` headers Discord puts on every answer, and
the 429 answer with its body ``{"message", "retry_after", "global"}`` and ``Retry-After``
(docs.discord.com/developers/topics/rate-limits). The bucket id is a hash of the route only:
Discord's ``X-RateLimit-Bucket`` does not include the top-level resource.

A per-route 429 says ``"global": false`` and ``X-RateLimit-Scope: user``; a 429 of the bot's
global limit says ``"global": true`` with ``X-RateLimit-Global: true`` and
``X-RateLimit-Scope: global`` and, as the docs' example of it shows, no bucket headers: it is
no bucket's doing.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.responses import JSONResponse

#: The ``message`` of every 429 body, per-route and global alike.
RATE_LIMITED_MESSAGE: Final = "You are being rate limited."


def bucket_id(route: str) -> str:
    """The opaque ``X-RateLimit-Bucket`` of ``route`` (``POST /channels/{id}/messages``)."""
    return hashlib.sha256(route.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BucketReading:
    """The state of one bucket after a request counted against it."""

    bucket: str
    limit: int
    remaining: int
    reset_after_seconds: float
    reset_at_epoch: float
    limited: bool

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers Discord sends on every answer."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{self.reset_at_epoch:.3f}",
            "X-RateLimit-Reset-After": f"{self.reset_after_seconds:.3f}",
            "X-RateLimit-Bucket": self.bucket,
        }


def _too_many_requests(
    retry_after_seconds: float, headers: dict[str, str], *, is_global: bool
) -> JSONResponse:
    # Retry-After is whole seconds (RFC 9110); the body carries the precise float.
    headers = {**headers, "Retry-After": str(math.ceil(retry_after_seconds))}
    body = {
        "message": RATE_LIMITED_MESSAGE,
        "retry_after": retry_after_seconds,
        "global": is_global,
    }
    return JSONResponse(body, status_code=429, headers=headers)


def rate_limited(reading: BucketReading, scope: str = "user") -> JSONResponse:
    """Discord's per-route 429: its body, ``Retry-After`` and the bucket's headers."""
    headers = {**reading.headers(), "X-RateLimit-Scope": scope}
    return _too_many_requests(reading.reset_after_seconds, headers, is_global=False)


def globally_rate_limited(retry_after_seconds: float) -> JSONResponse:
    """Discord's 429 of the global limit: ``"global": true``, ``X-RateLimit-Global: true``."""
    headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
    return _too_many_requests(retry_after_seconds, headers, is_global=True)


def exhausted(route: str, limit: int, retry_after_seconds: float, wall: float) -> BucketReading:
    """A reading of an empty bucket that refills in ``retry_after_seconds`` (an injected 429)."""
    return BucketReading(
        bucket_id(route), limit, 0, retry_after_seconds, wall + retry_after_seconds, True
    )


class RateBuckets:
    """Fixed windows of ``window_seconds`` allowing ``limit`` requests per route and resource."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, route: str, resource: str = "") -> BucketReading:
        """Count one request against ``(route, resource)``; ``limited`` when none was left."""
        now = self._monotonic()
        with self._lock:
            started, used = self._windows.get((route, resource), (now, 0))
            if now - started >= self.window_seconds:
                started, used = now, 0
            limited = used >= self.limit
            if not limited:
                used += 1
            self._windows[(route, resource)] = (started, used)
        reset_after = max(self.window_seconds - (now - started), 0.0)
        if limited:
            # A 429 telling the client to retry after 0.000 s would invite a busy loop.
            reset_after = max(reset_after, 0.001)
        return BucketReading(
            bucket=bucket_id(route),
            limit=self.limit,
            remaining=max(self.limit - used, 0),
            reset_after_seconds=round(reset_after, 3),
            reset_at_epoch=self._wall() + reset_after,
            limited=limited,
        )
