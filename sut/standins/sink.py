"""The recording inbox of a stand-in: what it accepted, oldest first, for the harness to read.

A stand-in records a request once it has accepted it (a DM posted, a Signal message sent, a
model call answered); a request a fault or a validation error turned away is not delivered
and is not in the inbox. The harness reads it with ``GET /_sink/messages`` and empties it
with ``DELETE /_sink/messages`` (docs/architecture.md, "Stand-ins").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Received:
    """One accepted request: when, how, the JSON body, and the stand-in's own named fields."""

    received_at: datetime
    method: str
    path: str
    body: Any
    fields: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The entry as ``GET /_sink/messages`` lists it (named fields at the top level)."""
        return {
            **self.fields,
            "received_at": self.received_at.isoformat(),
            "method": self.method,
            "path": self.path,
            "body": self.body,
        }


class Sink:
    """An append-only inbox, read oldest first; safe to share with a thread that reads it."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[Received] = []
        self._refused: list[Received] = []

    def record(self, method: str, path: str, body: Any, /, **fields: Any) -> Received:
        """Append one accepted request, stamped with the current UTC time."""
        with self._lock:
            entry = Received(self._clock(), method, path, body, dict(fields))
            self._entries.append(entry)
            return entry

    def refuse(self, method: str, path: str, /, **fields: Any) -> Received:
        """Note one request the stand-in turned away by its own rules (a 429 it chose)."""
        with self._lock:
            entry = Received(self._clock(), method, path, None, dict(fields))
            self._refused.append(entry)
            return entry

    def refusals(self) -> list[Received]:
        """Every request turned away since the last clear, oldest first."""
        with self._lock:
            return list(self._refused)

    def messages(self) -> list[Received]:
        """Everything recorded since the last clear, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        """Empty the inbox; returns how many entries it held."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._refused.clear()
            return count


def sink_routes(sink: Sink) -> list[Route]:
    """``GET /_sink/messages`` (a JSON array, oldest first), ``DELETE /_sink/messages``
    (empties both lists) and ``GET /_sink/refusals`` (what the stand-in's own limits
    turned away: the harness sees a fleet's alert storm there, not in the SUT's word)."""

    async def list_messages(request: Request) -> Response:
        return JSONResponse([entry.as_json() for entry in sink.messages()])

    async def list_refusals(request: Request) -> Response:
        return JSONResponse([entry.as_json() for entry in sink.refusals()])

    async def clear_messages(request: Request) -> Response:
        return JSONResponse({"cleared": sink.clear()})

    return [
        Route("/_sink/messages", list_messages, methods=["GET"]),
        Route("/_sink/messages", clear_messages, methods=["DELETE"]),
        Route("/_sink/refusals", list_refusals, methods=["GET"]),
    ]
