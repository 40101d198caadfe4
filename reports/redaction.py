"""Secrets never appear in an artifact: find the run's secrets and scrub every file of them.

The secrets are read from the secrets files the evidence names (each topology's
STATE-DIR/secrets.json), when they are still on this machine. The evidence recorder
already redacts what it writes; this pass also covers what other tools wrote (JUnit
XML, allure-results), e.g. a token quoted in an assertion message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

# The marker and the rule of what counts as a secret are the recorder's too (sop/evidence.py).
from sop.evidence import REDACTED, secrets_to_hide

#: Shapes of secrets that need no list to be recognised, wherever some tool wrote them:
#: (pattern, replacement). The replacement keeps the name so a reader sees what was there.
SECRET_PATTERNS: tuple[tuple[re.Pattern[bytes], bytes], ...] = (
    # A Discord (or any) webhook URL carries its token in the path.
    (re.compile(rb"https?://[^\s\"'<>]*/api/webhooks/[^\s\"'<>]+"), b"[redacted webhook URL]"),
    # Credentials inside a URL: scheme://user:password@host.
    (re.compile(rb"(https?://)[^/\s:@\"'<>]+:[^/\s@\"'<>]+@"), rb"\1[redacted]@"),
    # An Authorization header's credentials (Discord's "Bot <token>", Bearer, Basic).
    (
        re.compile(
            rb"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bot|bearer|basic)\s+)[^\s\"'<>,]+"
        ),
        rb"\1[redacted]",
    ),
    # name=value or "name": "value" where the name says secret (tokens, HMAC and API keys).
    (
        re.compile(
            rb"(?i)((?:token|secret|password|passwd|hmac_key|hmac-key|api_key|api-key|"
            rb"signing_key|webhook_url)[\"']?\s*[:=]\s*[\"']?)(?!\[redacted)([^\s\"'<>,&]{8,})"
        ),
        rb"\1[redacted]",
    ),
    # A Discord bot token's own shape (id.timestamp.hmac).
    (re.compile(rb"\b[MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,}\b"), b"[redacted token]"),
)


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
        values.update(secrets_to_hide(_strings(data)))
    return values


def scrub(content: bytes, needles: Iterable[bytes]) -> bytes:
    """``content`` with every known secret and every secret-shaped string redacted."""
    for needle in needles:
        content = content.replace(needle, REDACTED.encode("utf-8"))
    for pattern, replacement in SECRET_PATTERNS:
        content = pattern.sub(replacement, content)
    return content


def redact_artifacts(out_dir: Path, values: Iterable[str], skip: Iterable[str] = ()) -> list[str]:
    """Scrub every file under ``out_dir`` of ``values`` and secret shapes; the paths changed."""
    needles = sorted((v.encode("utf-8") for v in values), key=len, reverse=True)
    root = Path(out_dir)
    skipped = set(skip)
    changed = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or relative in skipped:
            continue
        original = path.read_bytes()
        content = scrub(original, needles)
        if content != original:
            path.write_bytes(content)
            changed.append(relative)
    return changed


__all__ = [
    "SECRET_PATTERNS",
    "redact_artifacts",
    "scrub",
    "secret_values",
    "secrets_files",
]
