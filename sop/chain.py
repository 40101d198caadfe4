"""The hash chain of the emergency activity log: append-only JSON lines an auditor can verify.

Each entry carries ``seq`` (from 0), ``prev`` (the previous entry's hash, zeros first) and
``hash`` = SHA-256 of the canonical JSON of the entry without ``hash``. Changing, dropping,
reordering or inserting a line breaks the chain at that line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sop.errors import ChainError
from sop.wire import canonical_json

GENESIS = "0" * 64


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash an entry must carry: over every field but ``hash`` itself."""
    return hashlib.sha256(
        canonical_json({k: v for k, v in entry.items() if k != "hash"})
    ).hexdigest()


def chain_entry(previous: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The next entry after ``previous`` (None for the first) holding ``fields``."""
    reserved = {"seq", "prev", "hash"} & set(fields)
    if reserved:
        raise ChainError(f"emergency log: field {sorted(reserved)[0]!r} is reserved for the chain")
    entry: dict[str, Any] = {
        "seq": 0 if previous is None else int(previous["seq"]) + 1,
        **fields,
        "prev": GENESIS if previous is None else str(previous["hash"]),
    }
    entry["hash"] = entry_hash(entry)
    return entry


def verify_chain(
    lines: Iterable[str | Mapping[str, Any]], where: str = "emergency log"
) -> list[dict[str, Any]]:
    """Parse and verify every entry; raises ChainError naming the first bad line (1-based)."""
    entries: list[dict[str, Any]] = []
    previous_hash = GENESIS
    for number, line in enumerate(lines, start=1):
        if isinstance(line, str):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ChainError(f"{where}: line {number}: not JSON ({exc.msg})", number) from exc
        else:
            entry = dict(line)
        if not isinstance(entry, dict) or not {"seq", "prev", "hash"} <= set(entry):
            raise ChainError(f"{where}: line {number}: not a chained entry", number)
        # type() and not ==: true == 1 and 1.0 == 1, but the contract's seq is an integer.
        if type(entry["seq"]) is not int or entry["seq"] != len(entries):
            raise ChainError(
                f"{where}: line {number}: seq {entry['seq']!r}, expected {len(entries)} "
                "(an entry was dropped, added or reordered)",
                number,
            )
        if entry["prev"] != previous_hash:
            raise ChainError(f"{where}: line {number}: prev does not match the line before", number)
        try:
            expected = entry_hash(entry)
        except UnicodeEncodeError:
            # JSON admits lone surrogates ("\ud800") that UTF-8 cannot encode; no writer of
            # ours produces one, so the line was tampered with.
            raise ChainError(
                f"{where}: line {number}: a string is not valid Unicode", number
            ) from None
        if entry["hash"] != expected:
            raise ChainError(f"{where}: line {number}: hash does not match its content", number)
        previous_hash = entry["hash"]
        entries.append(entry)
    return entries
