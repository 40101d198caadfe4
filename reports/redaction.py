"""Secrets never appear in an artifact: find the run's secrets and scrub every file of them.

The secrets are read from the secrets files the evidence names (each topology's
STATE-DIR/secrets.json), when they are still on this machine. The evidence recorder
already redacts what it writes; this pass also covers what other tools wrote (JUnit
XML, allure-results), e.g. a token quoted in an assertion message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

#: What a secret is replaced with (the same marker fixtures/evidence.py writes).
REDACTED = "[redacted]"
#: Shorter strings are not treated as secrets (they would match ordinary text); every
#: generated secret is far longer.
MIN_SECRET_LENGTH = 8


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def secrets_files(evidence: Mapping[str, Any]) -> list[Path]:
    """The secrets files the evidence's topologies name (their paths are not secret)."""
    found = []
    for event in evidence.get("events", []):
        topology = (event.get("data") or {}).get("topology")
        if isinstance(topology, Mapping) and topology.get("secrets_file"):
            found.append(Path(str(topology["secrets_file"])))
    return sorted(set(found))


def secret_values(files: Iterable[Path]) -> set[str]:
    """Every string in the readable secrets files among ``files``."""
    values: set[str] = set()
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Gone with its state dir: the recorder redacted the evidence when it had it.
            continue
        values.update(v for v in _strings(data) if len(v) >= MIN_SECRET_LENGTH)
    return values


def redact_artifacts(out_dir: Path, values: Iterable[str], skip: Iterable[str] = ()) -> list[str]:
    """Replace each value in every file under ``out_dir``; the relative paths changed."""
    needles = sorted((v.encode("utf-8") for v in values), key=len, reverse=True)
    if not needles:
        return []
    root = Path(out_dir)
    skipped = set(skip)
    changed = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or relative in skipped:
            continue
        content = original = path.read_bytes()
        for needle in needles:
            content = content.replace(needle, REDACTED.encode("utf-8"))
        if content != original:
            path.write_bytes(content)
            changed.append(relative)
    return changed


__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "redact_artifacts",
    "secret_values",
    "secrets_files",
]
