"""The emergency activity log (SOP 3.3, SOP 4 "All actions must be logged locally").

Append-only JSON lines, each entry hash-chained with :func:`sop.chain.chain_entry`
(docs/architecture.md "Emergency log"). Each log the agent starts is an epoch
(:mod:`sop.logupload`), named in its first entry. A log whose chain no longer verifies (found
at start or before an upload) is sealed: moved aside whole, made read-only, its readable
entries kept for the upload (SOP 5.2), and a new epoch begins with a note naming it. Every
line is one ``os.write`` on an ``O_APPEND`` descriptor followed by ``os.fsync``; a new file
also fsyncs its directory. When the disk is full the entry stays in memory, in chain order,
and goes to disk with the next append that succeeds: nothing the agent did is lost, and
nothing already written is ever rewritten.

    EmergencyLogError      the log cannot be written or read (SopdrillError)
     └── EmergencyLogFull  ENOSPC or EDQUOT while appending; the entry is pending
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sop.chain import chain_entry, verify_chain
from sop.errors import ChainError, SopdrillError
from sop.logupload import EPOCH_FIELD, LEGACY_EPOCH, Seal, epoch_of
from sop.wire import canonical_json

#: Errors that mean "no room left": the entry is kept pending, never dropped.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: Fields the log itself sets on every entry (the chain's own are refused by chain_entry).
_LOG_FIELDS = frozenset({"at", "kind", EPOCH_FIELD})
#: A sealed file is evidence: readable by owner and group, written by no one.
_SEALED_MODE = 0o440


class EmergencyLogError(SopdrillError):
    """The emergency log cannot be written or read; pending entries stay in memory."""


class EmergencyLogFull(EmergencyLogError):
    """The disk (or quota) is full; the entry is pending and will be written by a later append."""


class Recorder(Protocol):
    """Records one entry of ``kind`` in the emergency log and never raises (a refused one waits)."""

    def __call__(self, kind: str, **fields: Any) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fsync_directory(directory: Path) -> None:
    # A new or renamed file is durable only once its directory entry is: fsync the directory.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_text(path: Path) -> str:
    """The whole log file; refuses anything but a regular file (a device would never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise EmergencyLogError(
                f"emergency log {path}: not a regular file; point SOPDRILL_EMERGENCY_LOG at a file"
            )
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SealedEpoch:
    """A log whose chain broke: its epoch, the file kept aside, what of it could be read."""

    epoch: int
    path: Path
    #: Every line that parses as a chained entry, as it is on disk (a tampered one included:
    #: the dispatcher's integrity check judges it), then entries that never reached the disk.
    entries: tuple[dict[str, Any], ...]
    seal: Seal


def readable_entries(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` that parses as an object with a seq from 0 and a hash."""
    found: list[dict[str, Any]] = []
    for line in text.split("\n"):  # not splitlines(): JSON strings may hold U+2028
        try:
            entry = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue  # a torn or garbled line: the file aside still holds its bytes
        if not isinstance(entry, dict):
            continue
        seq, digest = entry.get("seq"), entry.get("hash")
        # What the dispatcher accepts as an entry (anything else would be refused for ever).
        usable_seq = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
        if usable_seq and isinstance(digest, str) and digest:
            found.append(entry)
    return found


def new_epoch(after: int) -> int:
    """An epoch above ``after``: wall-clock nanoseconds, so a restarted agent never goes back."""
    return max(time.time_ns(), after + 1)


def _seal_of(aside: Path, text: str, found: ChainError | None) -> Seal:
    """Why ``aside`` was sealed, named by the file as it now lies (the original name holds
    the new epoch): the verifier's error, else what was found before it moved."""
    try:
        verify_chain(text.split("\n"), where=f"emergency log {aside}")
    except ChainError as error:
        return Seal(error.line, str(error))
    if found is not None:
        return Seal(found.line, str(found))
    return Seal(None, f"emergency log {aside}: set aside as broken")


def _aside_epoch(path: Path, entries: list[dict[str, Any]]) -> int:
    """The epoch of a file set aside: from its name (``...-epoch-N``), else its first entry."""
    _, marker, tail = path.name.rpartition("-epoch-")
    if marker and tail.isdigit():
        return int(tail)
    return epoch_of(entries)


class EmergencyLog:
    """One hash-chained, fsynced, append-only JSON-lines file, continued across restarts."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the log at ``path``; a broken existing chain is sealed, kept."""
        self._path = Path(path)
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None
        self._pending: list[dict[str, Any]] = []
        # Set when a torn write could not be cut at once: the size of the last whole line.
        self._torn_at: int | None = None
        # A file whose last line lacks its newline must get one before our next line.
        self._needs_newline = False
        # Keyed by the file aside: two broken pre-epoch logs are both epoch 0, both kept.
        self._sealed: dict[Path, SealedEpoch] = {}
        self._epoch = LEGACY_EPOCH
        broken: SealedEpoch | None = None
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._find_sealed()
            with self._lock:
                broken = self._resume()
        except OSError as exc:
            raise EmergencyLogError(
                f"emergency log {self._path}: cannot open ({exc.strerror}); "
                "check the directory exists and is writable"
            ) from exc
        if broken is not None:
            self._note_sealed(broken)

    @property
    def path(self) -> Path:
        """Where the log lives."""
        return self._path

    @property
    def epoch(self) -> int:
        """The epoch of the log being written now (named in its first entry)."""
        with self._lock:
            return self._epoch

    def sealed(self) -> list[SealedEpoch]:
        """Every earlier epoch whose chain broke, oldest epoch first (uploaded by re-sync)."""
        with self._lock:
            return sorted(
                self._sealed.values(), key=lambda sealed: (sealed.epoch, str(sealed.path))
            )

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Chain and write one entry of ``kind``; raises EmergencyLogFull if it stays pending."""
        clash = _LOG_FIELDS & set(fields)
        if clash:
            raise ChainError(f"emergency log: field {sorted(clash)[0]!r} is set by the log itself")
        with self._lock:
            content = {"at": _utc_now().isoformat(timespec="microseconds"), "kind": kind, **fields}
            if self._last is None:
                content[EPOCH_FIELD] = self._epoch  # the first entry names its epoch
            entry = chain_entry(self._last, content)
            # The chain advances in memory first: a pending entry keeps its place in the order.
            self._last = entry
            self._pending.append(entry)
            self._flush()
            return entry

    def pending(self) -> list[dict[str, Any]]:
        """Entries chained but not yet on disk, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._pending]

    def entries(self) -> list[dict[str, Any]]:
        """Every entry on disk (verified) followed by the pending ones, in chain order."""
        with self._lock:
            return self._entries()

    def seal_if_broken(self) -> SealedEpoch | None:
        """Verify the file; if its chain broke, seal it and begin a new epoch (SOP 5.2)."""
        with self._lock:
            try:
                self._entries()
                return None
            except ChainError as error:
                broken = self._seal(error)
        self._note_sealed(broken)
        return broken

    def _entries(self) -> list[dict[str, Any]]:
        on_disk: list[dict[str, Any]] = []
        if self._path.exists():
            try:
                text = _read_text(self._path)
            except OSError as exc:
                raise EmergencyLogError(
                    f"emergency log {self._path}: cannot read ({exc.strerror})"
                ) from exc
            on_disk = verify_chain(text.split("\n"), where=f"emergency log {self._path}")
        return on_disk + [dict(entry) for entry in self._pending]

    def _resume(self) -> SealedEpoch | None:
        """Continue the chain on disk, or seal a broken file; begin a new epoch if none is."""
        floor = max((s.epoch for s in self._sealed.values()), default=LEGACY_EPOCH)
        if not self._path.exists():
            self._epoch = new_epoch(floor)
            return None
        text = _read_text(self._path)
        try:
            existing = verify_chain(text.split("\n"), where=f"emergency log {self._path}")
        except ChainError as error:
            self._epoch = epoch_of(readable_entries(text)[:1])
            return self._seal(error)
        if not existing:
            self._epoch = new_epoch(floor)
            return None
        self._epoch = epoch_of(existing)
        self._last = existing[-1]
        self._needs_newline = bool(text) and not text.endswith("\n")
        return None

    def _seal(self, error: ChainError) -> SealedEpoch:
        """Move the broken file aside read-only, keep what it holds, and begin a new epoch."""
        # Entries chained after the file's last whole line belong to the broken epoch: try to
        # write them there first; what still cannot be written travels in memory.
        with contextlib.suppress(OSError, EmergencyLogError):
            self._flush()
        aside = self._move_aside()
        with contextlib.suppress(OSError):
            os.chmod(aside, _SEALED_MODE)
        text = _read_text(aside)
        entries = readable_entries(text)
        # A line cut short on disk (SOP 4 "logged locally") may be the last one written, which
        # the chain still holds whole in memory: it goes up with the rest.
        if self._last is not None and self._last["seq"] not in {e["seq"] for e in entries}:
            entries.append(dict(self._last))
        entries += [entry for entry in self._pending if entry is not self._last]
        seal = _seal_of(aside, text, error)
        sealed = SealedEpoch(self._epoch, aside, tuple(entries), seal)
        self._sealed[aside] = sealed
        self._epoch = new_epoch(max(s.epoch for s in self._sealed.values()))
        self._last = None
        self._pending = []
        self._torn_at = None
        self._needs_newline = False
        return sealed

    def _note_sealed(self, broken: SealedEpoch) -> None:
        # SOP 4: the log is evidence; a new chain says where the old one went and why.
        # If it cannot be written now it stays pending, first in the new chain.
        with contextlib.suppress(EmergencyLogError):
            self.append(
                "note",
                broken_file=str(broken.path),
                broken_epoch=broken.epoch,
                error=broken.seal.error,
                line=broken.seal.line,
            )

    def _find_sealed(self) -> None:
        """The files an earlier run set aside: each an epoch still to upload (idempotent)."""
        for aside in sorted(self._path.parent.glob(f"{self._path.name}.broken-*")):
            text = _read_text(aside)
            entries = readable_entries(text)
            seal = _seal_of(aside, text, None)
            epoch = _aside_epoch(aside, entries)
            self._sealed[aside] = SealedEpoch(epoch, aside, tuple(entries), seal)

    def _move_aside(self) -> Path:
        """Rename the broken file to ``<name>.broken-<UTC timestamp>-epoch-<N>``; none deleted."""
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        aside = self._path.with_name(f"{self._path.name}.broken-{stamp}-epoch-{self._epoch}")
        suffix = 1
        while aside.exists():
            aside = self._path.with_name(
                f"{self._path.name}.broken-{stamp}-{suffix}-epoch-{self._epoch}"
            )
            suffix += 1
        os.rename(self._path, aside)
        _fsync_directory(self._path.parent)
        return aside

    def _flush(self) -> None:
        """Write the pending entries in order; stop at the first that does not fit."""
        while self._pending:
            self._write_line(self._pending[0])
            self._pending.pop(0)

    def _write_line(self, entry: dict[str, Any]) -> None:
        """Append one entry as one line, durable on return; on failure no part of it remains."""
        line = canonical_json(entry) + b"\n"
        if self._needs_newline:
            line = b"\n" + line
        try:
            self._append_bytes(line)
        except OSError as exc:
            raise self._error(exc, entry) from exc
        self._needs_newline = False

    def _append_bytes(self, line: bytes) -> None:
        created = not self._path.exists()
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            if created:
                # The new (still empty) file's name must be durable before any line counts as
                # written; done first so a failure here leaves nothing to undo.
                _fsync_directory(self._path.parent)
            if self._torn_at is not None:
                self._truncate(fd, self._torn_at)
                if self._torn_at is not None:
                    raise OSError(errno.EIO, "cannot cut back a torn line")
            before = os.fstat(fd).st_size
            try:
                # One write per line: a reader never sees half an entry from a live writer.
                written = os.write(fd, line)
                if written != len(line):
                    # A short write on a regular file means the disk filled up mid-line.
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            except OSError:
                # Cut back to the last whole line so the chain on disk stays verifiable;
                # the entry stays pending and is written again, whole, later.
                self._truncate(fd, before)
                raise
        finally:
            os.close(fd)

    def _truncate(self, fd: int, size: int) -> None:
        """Cut the file back to ``size`` (our last whole line); remember it if that fails."""
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_size > size:
                os.ftruncate(fd, size)
                os.fsync(fd)
            self._torn_at = None
        except OSError:
            self._torn_at = size  # cut before the next write instead

    def _error(self, exc: OSError, entry: dict[str, Any]) -> EmergencyLogError:
        where = f"emergency log {self._path}: seq {entry['seq']} kept in memory"
        if exc.errno in _FULL_ERRNOS:
            return EmergencyLogFull(
                f"{where}: no space left ({exc.strerror}); free disk space, "
                f"{len(self._pending)} entr{'y' if len(self._pending) == 1 else 'ies'} pending"
            )
        return EmergencyLogError(f"{where}: write failed ({exc.strerror})")
