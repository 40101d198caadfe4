"""Application data integrity, read only (cell0-incident-runbook.md "P0 - Data Corruption").

The application keeps a manifest of its data beside it: ``SHA256SUMS`` in a protected
directory, in ``sha256sum`` format (``<hex>  <name>``, one file a line). The agent verifies
every protected directory that holds one, each remediation round, by reading only. The
runbook's recovery (stop the services, copy the corrupted state aside, restore from a
backup) is not on the SOP 4 green list, and deleting application data or backups is on its
red list: so the agent reports a corruption, a P0 incident, and leaves data and backups
exactly as they are for a person to restore (sut/agent/incident_desk.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The manifest's file name in a protected directory (the ``sha256sum`` convention).
MANIFEST_NAME = "SHA256SUMS"
#: The incident kind of the severity table (sop/offline-emergency.yaml ``severity``).
KIND = "data_corruption"
#: ``<64 hex>  <name>`` or ``<64 hex> *<name>`` (binary mode), as ``sha256sum`` writes.
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Mismatch:
    """A file of ``directory`` that does not hold what its manifest says."""

    directory: str
    name: str
    expected: str
    #: The file's digest now; None when it cannot be read (missing, not a file).
    found: str | None

    def describe(self) -> str:
        """One line: which file and how it differs."""
        now = "unreadable" if self.found is None else f"sha256 {self.found[:12]}"
        return f"{self.directory}/{self.name}: {now}, manifest says {self.expected[:12]}"


def _digest(path: Path) -> str | None:
    """sha256 of ``path``'s bytes, read without changing anything; None if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def verify(directory: Path) -> list[Mismatch]:
    """Every file of ``directory``'s manifest that fails its digest (none without a manifest)."""
    try:
        manifest = (directory / MANIFEST_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []  # no manifest: nothing this directory promises
    found = []
    for number, line in enumerate(manifest.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            # A manifest that cannot be read line by line is corrupt data too.
            found.append(
                Mismatch(str(directory), f"{MANIFEST_NAME}:{number}", "a sha256 line", None)
            )
            continue
        expected, name = match[1].lower(), match[2]
        now = _digest(directory / name)
        if now != expected:
            found.append(Mismatch(str(directory), name, expected, now))
    return found


def verify_all(directories: Iterable[Path]) -> tuple[Mismatch, ...]:
    """Every mismatch of every directory, in the directories' order."""
    return tuple(mismatch for directory in directories for mismatch in verify(directory))


class DataIntegrity:
    """The protected directories' manifests, verified; a corruption is news once until cleared."""

    def __init__(self, directories: Iterable[Path]) -> None:
        self.directories = tuple(directories)
        self._told = False

    def look(self) -> tuple[tuple[Mismatch, ...], bool]:
        """(the mismatches found now if they are news, else (); whether a corruption cleared)."""
        found = verify_all(self.directories)
        if found and not self._told:
            self._told = True
            return found, False
        if not found and self._told:
            self._told = False
            return (), True
        return (), False


def manifest_text(files: dict[str, bytes]) -> str:
    """A ``SHA256SUMS`` for ``files`` (name -> bytes), sorted by name."""
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    )


__all__ = [
    "KIND",
    "MANIFEST_NAME",
    "DataIntegrity",
    "Mismatch",
    "manifest_text",
    "verify",
    "verify_all",
]
