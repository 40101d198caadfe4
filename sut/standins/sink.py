"""The recording inbox of a stand-in: what it accepted, oldest first, for the harness to read.

A stand-in records a request once it has accepted it (a DM posted, a Signal message sent, a
model call answered); a request a fault or a validation error turned away is not delivered
and is not in the inbox. The harness reads it with ``GET /_sink/messages`` and empties it
with ``DELETE /_sink/messages`` (docs/architecture.md, "Stand-ins").

Given a journal file, the inbox outlives a restart of the stand-in, as a real service's
record of what it accepted does: a message Discord took before a drill stopped it is still
Discord's (CI's generated schedules: the alert delivered at 6.8 SOP-min vanished with the
stand-in's restart at 10.5, and the checker judged the later resolution as sent on a
channel that had delivered nothing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The directory a stand-in keeps what must outlive its restart in (its inbox, Discord's
#: DM channels); unset, it keeps them in memory only.
STATE_ENV = "SOPDRILL_STANDIN_STATE"


def state_file(directory: str | None, name: str) -> Path | None:
    """``name`` in the stand-in's state directory (``STATE_ENV``); None without one."""
    return Path(directory) / name if directory else None


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

    def __init__(
        self, clock: Callable[[], datetime] = _utc_now, journal: Path | None = None
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[Received] = []
        self._refused: list[Received] = []
        self._journal = journal
        if journal is not None:
            self._reload(journal)

    def _reload(self, journal: Path) -> None:
        """What an earlier process of the stand-in accepted and refused, from its journal."""
        journal.parent.mkdir(parents=True, exist_ok=True)
        if not journal.exists():
            return
        lines = journal.read_text(encoding="utf-8").splitlines()
        kept: list[str] = []
        for line in lines:
            try:
                raw = json.loads(line)
                entry = Received(
                    datetime.fromisoformat(raw["received_at"]),
                    str(raw["method"]),
                    str(raw["path"]),
                    raw.get("body"),
                    dict(raw.get("fields") or {}),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a kill mid-write: the entries before it stand
            (self._refused if raw.get("refused") else self._entries).append(entry)
            kept.append(line)
        if len(kept) != len(lines):  # the torn line goes, or the next entry would join it
            journal.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def _keep(self, entry: Received, *, refused: bool) -> None:
        if self._journal is None:
            return
        line = {
            "refused": refused,
            "received_at": entry.received_at.isoformat(),
            "method": entry.method,
            "path": entry.path,
            "body": entry.body,
            "fields": dict(entry.fields),
        }
        with self._journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def record(self, method: str, path: str, body: Any, /, **fields: Any) -> Received:
        """Append one accepted request, stamped with the current UTC time."""
        with self._lock:
            entry = Received(self._clock(), method, path, body, dict(fields))
            self._entries.append(entry)
            self._keep(entry, refused=False)
            return entry

    def refuse(self, method: str, path: str, /, **fields: Any) -> Received:
        """Note one request the stand-in turned away by its own rules (a 429 it chose)."""
        with self._lock:
            entry = Received(self._clock(), method, path, None, dict(fields))
            self._refused.append(entry)
            self._keep(entry, refused=True)
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
            if self._journal is not None:
                self._journal.write_text("", encoding="utf-8")
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
