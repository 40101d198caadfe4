"""Log rotation and cleanup above the disk threshold (SOP 4 green light), never touching data.

Only files under the log directory are candidates. Rotated archives (``*.log.N``, ``*.gz``,
``*.old``) are removed; active ``*.log`` files are truncated in place (a copy would need the
space the disk no longer has). The emergency log and everything under a protected directory
(application data, backups: SOP 4 red light "no deletion of application data or backups")
are skipped even when they sit inside the log directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ROTATED = re.compile(r"\.(log\.\d+|gz|old|\d+)$")


@dataclass(frozen=True)
class RotationResult:
    """What one rotation did, for the emergency log."""

    removed: tuple[str, ...]
    truncated: tuple[str, ...]
    freed_bytes: int


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def rotate_logs(log_dir: Path, protected: tuple[Path, ...], emergency_log: Path) -> RotationResult:
    """Free space in ``log_dir`` without touching ``protected`` trees or the emergency log."""
    roots = tuple(p.resolve() for p in protected)
    keep = emergency_log.resolve()
    removed: list[str] = []
    truncated: list[str] = []
    freed = 0
    for path in sorted(log_dir.resolve().rglob("*")):
        if path.is_symlink() or not path.is_file() or path == keep or _inside(path, roots):
            continue
        size = path.stat().st_size
        if _ROTATED.search(path.name):
            path.unlink()
            removed.append(str(path))
            freed += size
        elif path.suffix == ".log" and size:
            with path.open("r+b") as handle:
                handle.truncate(0)
            truncated.append(str(path))
            freed += size
    return RotationResult(tuple(removed), tuple(truncated), freed)
