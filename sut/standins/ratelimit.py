"""Discord's per-route rate limits as the Discord stand-in answers them.

A fixed-window bucket per route and top-level resource (the channel id of
``/channels/{id}/messages``), the ``X-RateLimit-*`` headers Discord puts on every answer, and
the 429 answer with its body ``{"message", "retry_after", "global"}`` and ``Retry-After``
(docs.discord.com/developers/topics/rate-limits). The bucket id is a hash of the route only:
Discord's ``X-RateLimit-Bucket`` does not include the top-level resource.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse


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


def rate_limited(reading: BucketReading, scope: str = "user") -> JSONResponse:
    """Discord's 429: the rate-limit body plus ``Retry-After`` and ``X-RateLimit-Scope``."""
    retry_after = reading.reset_after_seconds
    headers = {
        **reading.headers(),
        # Retry-After is whole seconds (RFC 9110); the body carries the precise float.
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": scope,
    }
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return JSONResponse(body, status_code=429, headers=headers)


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
