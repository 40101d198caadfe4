"""Uploaded emergency activity logs (SOP 5.2), one file per agent under the state dir.

Uploads are idempotent by ``seq`` + ``hash``: an agent re-sending what the dispatcher
already holds (its upload was cut, or it never saw the acknowledgement) changes nothing,
while an entry that claims a stored ``seq`` with another ``hash`` is a rewrite of
history and is refused whole (409). The store keeps entries as they were sent; the
chain itself is judged by the integrity check (SOP 5.3), not here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.registry import check_agent_name

#: ``acknowledged_through`` when entry 0 has not arrived yet: nothing is acknowledged.
NOTHING_ACKNOWLEDGED = -1


@dataclass(frozen=True)
class Merge:
    """The result of one upload."""

    agent: str
    received: int
    stored: int
    acknowledged_through: int


def check_entries(value: Any) -> list[dict[str, Any]]:
    """The uploaded entries if each is an object with an integer ``seq`` and a ``hash``."""
    if not isinstance(value, list):
        raise RequestRejected(f"entries: expected a list, got {type(value).__name__}")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise RequestRejected(f"entries[{index}]: expected an object, got {entry!r}")
        seq = entry.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise RequestRejected(
                f"entries[{index}].seq: expected a non-negative integer, got {seq!r}"
            )
        if not isinstance(entry.get("hash"), str) or not entry["hash"]:
            raise RequestRejected(
                f"entries[{index}].hash: expected a hash string, got {entry.get('hash')!r}"
            )
    return value


def contiguous_through(seqs: set[int] | dict[int, Any]) -> int:
    """The highest n such that 0..n are all present; -1 when 0 is missing."""
    n = NOTHING_ACKNOWLEDGED
    while n + 1 in seqs:
        n += 1
    return n


class LogStore:
    """Per-agent emergency logs kept as JSON lines in ``root``, ordered by seq."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._logs: dict[str, dict[int, dict[str, Any]]] = {}

    def _path(self, agent: str) -> Path:
        return self.root / f"{agent}.jsonl"

    def _load(self, agent: str) -> dict[int, dict[str, Any]]:
        if agent not in self._logs:
            stored: dict[int, dict[str, Any]] = {}
            path = self._path(agent)
            if path.exists():
                for line in path.read_text(encoding="utf-8").split("\n"):  # JSON may hold U+2028
                    if line.strip():
                        entry = json.loads(line)
                        stored[int(entry["seq"])] = entry
            self._logs[agent] = stored
        return self._logs[agent]

    def _write(self, agent: str, stored: dict[int, dict[str, Any]]) -> None:
        # Whole-file replace after fsync: a dispatcher killed mid-upload keeps either the
        # old log or the new one, never half a line (the agent simply uploads again).
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(agent)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for seq in sorted(stored):
                out.write(json.dumps(stored[seq], ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def merge(self, agent: str, entries: list[dict[str, Any]]) -> Merge:
        """Store the entries not held yet; LogConflict (nothing stored) on a rewritten seq."""
        check_agent_name(agent)
        check_entries(entries)
        stored = self._load(agent)
        new: dict[int, dict[str, Any]] = {}
        for entry in entries:
            seq = entry["seq"]
            held = stored.get(seq) or new.get(seq)
            if held is None:
                new[seq] = dict(entry)
            elif held["hash"] != entry["hash"]:
                raise LogConflict(
                    f"emergency log of {agent}: seq {seq}: hash {entry['hash']!r} differs from "
                    f"the stored {held['hash']!r}; an uploaded entry cannot be rewritten",
                    seq,
                )
        if new:
            candidate = {**stored, **new}
            self._write(agent, candidate)
            self._logs[agent] = candidate
        return Merge(agent, len(entries), len(new), contiguous_through(self._logs[agent]))

    def entries(self, agent: str) -> list[dict[str, Any]]:
        """The stored entries of ``agent``, oldest (lowest seq) first."""
        check_agent_name(agent)
        stored = self._load(agent)
        return [stored[seq] for seq in sorted(stored)]
