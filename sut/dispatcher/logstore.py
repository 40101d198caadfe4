"""Uploaded emergency activity logs (SOP 5.2), one file per agent and epoch under the state dir.

Each epoch of an agent's log (sop/logupload.py) is kept apart; no upload to one epoch ever
changes another. Within an epoch uploads are idempotent by ``seq`` + ``hash``: an agent
re-sending what the dispatcher already holds (its upload was cut, or it never saw the
acknowledgement) changes nothing, while an entry that claims a stored ``seq`` with another
``hash`` is a rewrite of history and is refused whole (409), unless the agent sealed the
epoch as broken: then the held entry stays and the differing one is kept aside beside it,
so re-sync ends and nothing is lost. The store keeps entries as they were sent; the chain
itself is judged by the integrity check (SOP 5.3), not here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sop.logupload import LEGACY_EPOCH, Seal
from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.registry import check_agent_name

#: ``acknowledged_through`` when entry 0 has not arrived yet: nothing is acknowledged.
NOTHING_ACKNOWLEDGED = -1


@dataclass(frozen=True)
class Merge:
    """The result of one upload."""

    agent: str
    epoch: int
    received: int
    stored: int
    acknowledged_through: int
    #: Seqs of a sealed upload whose entry differs from the one held (kept aside, not stored).
    conflicts: tuple[int, ...] = ()


@dataclass
class EpochLog:
    """One epoch of one agent's log as the dispatcher holds it."""

    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The agent's word that this epoch broke and is closed (``sop.logupload.Seal``).
    seal: Seal | None = None
    #: Entries of a sealed upload that contradicted held ones: kept for the audit, never merged.
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def ordered(self) -> list[dict[str, Any]]:
        """The entries, lowest seq first."""
        return [self.entries[seq] for seq in sorted(self.entries)]


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
    """Per-agent, per-epoch emergency logs kept as JSON lines in ``root``, ordered by seq.

    Epoch 0 (uploads that name no epoch) lives in ``<agent>.jsonl`` as it always did; epoch N
    in ``<agent>.epochs/N.jsonl`` with its seal and set-aside conflicts in ``N.seal.json``
    (an agent name holds no ``/``, so no name can reach another agent's files).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._logs: dict[str, dict[int, EpochLog]] = {}

    def _path(self, agent: str, epoch: int) -> Path:
        if epoch == LEGACY_EPOCH:
            return self.root / f"{agent}.jsonl"
        return self.root / f"{agent}.epochs" / f"{epoch}.jsonl"

    def _load(self, agent: str) -> dict[int, EpochLog]:
        if agent not in self._logs:
            epochs: dict[int, EpochLog] = {}
            paths = [self._path(agent, LEGACY_EPOCH)]
            paths += sorted((self.root / f"{agent}.epochs").glob("*.jsonl"))
            for path in paths:
                if not path.exists():
                    continue
                epoch = LEGACY_EPOCH if path.parent == self.root else int(path.stem)
                held = EpochLog()
                for line in path.read_text(encoding="utf-8").split("\n"):  # JSON may hold U+2028
                    if line.strip():
                        entry = json.loads(line)
                        held.entries[int(entry["seq"])] = entry
                seal_path = path.with_suffix(".seal.json")
                if seal_path.exists():
                    kept = json.loads(seal_path.read_text(encoding="utf-8"))
                    held.seal = Seal.from_json(kept["seal"])
                    held.conflicts = list(kept["conflicts"])
                epochs[epoch] = held
            self._logs[agent] = epochs
        return self._logs[agent]

    def _write(self, path: Path, lines: list[str]) -> None:
        # Whole-file replace after fsync: a dispatcher killed mid-upload keeps either the
        # old log or the new one, never half a line (the agent simply uploads again).
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def _save(self, agent: str, epoch: int, held: EpochLog) -> None:
        path = self._path(agent, epoch)
        self._write(path, [json.dumps(e, ensure_ascii=False) for e in held.ordered()])
        if held.seal is not None:
            kept = {"seal": held.seal.as_json(), "conflicts": held.conflicts}
            self._write(path.with_suffix(".seal.json"), [json.dumps(kept, ensure_ascii=False)])

    def merge(
        self,
        agent: str,
        entries: list[dict[str, Any]],
        epoch: int = LEGACY_EPOCH,
        seal: Seal | None = None,
    ) -> Merge:
        """Store the entries of ``epoch`` not held yet; LogConflict (nothing stored) on a
        rewritten seq, unless the upload is ``seal``ed: then the held entry stays, the other
        is kept aside as a conflict, and the upload is acknowledged (SOP 5.2 ends)."""
        check_agent_name(agent)
        check_entries(entries)
        held = self._load(agent).get(epoch) or EpochLog()
        new: dict[int, dict[str, Any]] = {}
        conflicts: list[dict[str, Any]] = []
        for entry in entries:
            seq = entry["seq"]
            known = held.entries.get(seq) or new.get(seq)
            if known is None:
                new[seq] = dict(entry)
            elif known["hash"] != entry["hash"] or (seal is not None and known != entry):
                # A sealed upload is compared whole: an edited line keeps its old hash field.
                if seal is None:
                    raise LogConflict(
                        f"emergency log of {agent}: epoch {epoch}: seq {seq}: hash "
                        f"{entry['hash']!r} differs from the stored {known['hash']!r}; "
                        "an uploaded entry cannot be rewritten",
                        seq,
                    )
                if entry not in held.conflicts:
                    conflicts.append(dict(entry))
        changed = bool(new or conflicts) or (seal is not None and held.seal != seal)
        if changed:
            candidate = EpochLog(
                {**held.entries, **new},
                seal if seal is not None else held.seal,
                [*held.conflicts, *conflicts],
            )
            self._save(agent, epoch, candidate)
            self._logs[agent][epoch] = candidate
            held = candidate
        return Merge(
            agent,
            epoch,
            len(entries),
            len(new),
            contiguous_through(held.entries),
            tuple(entry["seq"] for entry in conflicts),
        )

    def epochs(self, agent: str) -> dict[int, EpochLog]:
        """Every epoch held for ``agent``, lowest first (a copy: callers cannot change it)."""
        check_agent_name(agent)
        loaded = self._load(agent)
        return {
            epoch: EpochLog(
                dict(loaded[epoch].entries), loaded[epoch].seal, list(loaded[epoch].conflicts)
            )
            for epoch in sorted(loaded)
        }

    def latest_epoch(self, agent: str) -> int:
        """The highest epoch held for ``agent`` (the log it writes now); 0 when none."""
        check_agent_name(agent)
        return max(self._load(agent), default=LEGACY_EPOCH)

    def entries(self, agent: str, epoch: int | None = None) -> list[dict[str, Any]]:
        """The stored entries of ``epoch`` (default: the latest), lowest seq first."""
        check_agent_name(agent)
        loaded = self._load(agent)
        held = loaded.get(self.latest_epoch(agent) if epoch is None else epoch)
        return [] if held is None else held.ordered()
