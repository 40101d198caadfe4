"""The emergency activity log (SOP 3.3, SOP 4 "All actions must be logged locally").

Append-only JSON lines, each entry hash-chained with :func:`sop.chain.chain_entry`
(docs/architecture.md "Emergency log"). Every line is one ``os.write`` on an ``O_APPEND``
descriptor followed by ``os.fsync``; a new file also fsyncs its directory. When the disk is
full the entry stays in memory, in chain order, and goes to disk with the next append that
succeeds: nothing the agent did is lost, and nothing already written is ever rewritten.

    EmergencyLogError      the log cannot be written or read (SopdrillError)
     └── EmergencyLogFull  ENOSPC or EDQUOT while appending; the entry is pending
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sop.chain import chain_entry, verify_chain
from sop.errors import ChainError, SopdrillError
from sop.wire import canonical_json

#: Errors that mean "no room left": the entry is kept pending, never dropped.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: Fields the log itself sets on every entry (the chain's own are refused by chain_entry).
_LOG_FIELDS = frozenset({"at", "kind"})


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


class EmergencyLog:
    """One hash-chained, fsynced, append-only JSON-lines file, continued across restarts."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the log at ``path``; a broken existing chain is moved aside, kept."""
        self._path = Path(path)
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None
        self._pending: list[dict[str, Any]] = []
        # Set when a torn write could not be cut at once: the size of the last whole line.
        self._torn_at: int | None = None
        # A file whose last line lacks its newline must get one before our next line.
        self._needs_newline = False
        broken: tuple[Path, ChainError] | None = None
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            if self._path.exists():
                broken = self._resume()
        except OSError as exc:
            raise EmergencyLogError(
                f"emergency log {self._path}: cannot open ({exc.strerror}); "
                "check the directory exists and is writable"
            ) from exc
        if broken is not None:
            aside, error = broken
            # SOP 4: the log is evidence; a new chain says where the old one went and why.
            # If it cannot be written now it stays pending, first in the new chain.
            with contextlib.suppress(EmergencyLogError):
                self.append("note", broken_file=str(aside), error=str(error), line=error.line)

    @property
    def path(self) -> Path:
        """Where the log lives."""
        return self._path

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Chain and write one entry of ``kind``; raises EmergencyLogFull if it stays pending."""
        clash = _LOG_FIELDS & set(fields)
        if clash:
            raise ChainError(f"emergency log: field {sorted(clash)[0]!r} is set by the log itself")
        with self._lock:
            entry = chain_entry(
                self._last,
                {"at": _utc_now().isoformat(timespec="microseconds"), "kind": kind, **fields},
            )
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

    def _resume(self) -> tuple[Path, ChainError] | None:
        """Continue the chain on disk, or move a broken file aside and say so."""
        text = _read_text(self._path)
        try:
            existing = verify_chain(text.split("\n"), where=f"emergency log {self._path}")
        except ChainError as error:
            return self._move_aside(), error
        self._last = existing[-1] if existing else None
        self._needs_newline = bool(text) and not text.endswith("\n")
        return None

    def _move_aside(self) -> Path:
        """Rename the broken file to ``<name>.broken-<UTC timestamp>``; nothing is deleted."""
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        aside = self._path.with_name(f"{self._path.name}.broken-{stamp}")
        suffix = 1
        while aside.exists():
            aside = self._path.with_name(f"{self._path.name}.broken-{stamp}-{suffix}")
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
