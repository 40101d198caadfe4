"""Signs inbox envelopes with one strictly increasing sequence number per dispatcher."""

from __future__ import annotations

import threading
import time
from typing import Any

from sop.wire import sign_envelope


class EnvelopeSigner:
    """Hands out signed envelopes; ``seq`` never repeats and never goes backwards.

    The counter starts at ``time.time_ns()`` and each envelope takes the larger of the
    next integer and the current clock, so a restarted dispatcher is still ahead of
    every seq it sent before (agents reject a lower or repeated seq as a replay).
    """

    def __init__(self, key: bytes, dispatcher_id: str) -> None:
        self._key = key
        self.dispatcher_id = dispatcher_id
        self._last = time.time_ns() - 1
        self._lock = threading.Lock()

    def next_seq(self) -> int:
        """The next sequence number."""
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last

    def sign(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """A signed envelope of ``kind`` carrying ``body``."""
        return sign_envelope(self._key, kind, body, self.next_seq(), self.dispatcher_id)

    def __repr__(self) -> str:
        # The key stays out of every repr that could end up in a log or a traceback.
        return f"EnvelopeSigner(dispatcher_id={self.dispatcher_id!r})"
