"""The agent inbox envelope: HMAC-SHA256 signed, sequence-numbered, time-stamped.

The dispatcher signs, the agent verifies; the harness forges and replays to prove the
agent rejects what it must. See docs/architecture.md "Wire format".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sop.errors import WireError
from sop.timescale import TimeScale, aware_instant

KINDS = ("heartbeat", "task")
_FIELDS = {"kind", "dispatcher_id", "seq", "sent_at", "body", "sig"}


def canonical_json(value: Any) -> bytes:
    """The one byte form that is signed and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every sequence a list (JSON-ready)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _signature(key: bytes, unsigned: dict[str, Any]) -> str:
    return hmac.new(key, canonical_json(unsigned), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Envelope:
    """A verified inbox envelope."""

    kind: str
    dispatcher_id: str
    seq: int
    sent_at: datetime
    body: dict[str, Any]


def sign_envelope(
    key: bytes,
    kind: str,
    body: dict[str, Any],
    seq: int,
    dispatcher_id: str,
    sent_at: datetime | None = None,
) -> dict[str, Any]:
    """A signed envelope ready to POST to an agent's ``/v1/inbox``."""
    unsigned = {
        "kind": kind,
        "dispatcher_id": dispatcher_id,
        "seq": seq,
        "sent_at": (sent_at or datetime.now(UTC)).isoformat(),
        "body": body,
    }
    return {**unsigned, "sig": _signature(key, unsigned)}


def verify_envelope(key: bytes, data: Any) -> Envelope:
    """Check shape and signature; raises WireError(reason=malformed|bad_signature)."""
    if not isinstance(data, dict):
        raise WireError("inbox: expected a JSON object", "malformed")
    missing = sorted(_FIELDS - set(data))
    if missing:
        raise WireError(f"inbox: missing field {missing[0]!r}", "malformed")
    extra = sorted(set(data) - _FIELDS)
    if extra:
        raise WireError(f"inbox: unknown field {extra[0]!r}", "malformed")
    if data["kind"] not in KINDS:
        raise WireError(f"inbox: kind: expected one of {list(KINDS)}, got {data['kind']!r}")
    seq = data["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise WireError(f"inbox: seq: expected a non-negative integer, got {seq!r}", "malformed")
    if not isinstance(data["dispatcher_id"], str) or not isinstance(data["body"], dict):
        raise WireError("inbox: dispatcher_id must be a string and body an object", "malformed")
    try:
        sent_at = aware_instant(data["sent_at"], "inbox: sent_at")
    except ValueError as exc:
        raise WireError(str(exc), "malformed") from None
    sig = data["sig"]
    unsigned = {k: v for k, v in data.items() if k != "sig"}
    # compare_digest raises TypeError on non-ASCII str; such a sig is simply wrong.
    if not isinstance(sig, str) or not sig.isascii():
        raise WireError("inbox: signature does not verify", "bad_signature")
    try:
        expected = _signature(key, unsigned)
    except UnicodeEncodeError:
        # JSON admits lone surrogates ("\ud800") that UTF-8 cannot encode: not a crash, a 400.
        raise WireError("inbox: a string is not valid Unicode", "malformed") from None
    if not hmac.compare_digest(sig, expected):
        raise WireError("inbox: signature does not verify", "bad_signature")
    return Envelope(data["kind"], data["dispatcher_id"], seq, sent_at, data["body"])


class ReplayGuard:
    """Rejects an envelope seen before (or older in sequence) or older than the max age."""

    def __init__(self, max_age_minutes: float, scale: TimeScale) -> None:
        self.max_age = timedelta(seconds=scale.wall_seconds(max_age_minutes))
        self.last_seq: dict[str, int] = {}

    def check(self, envelope: Envelope, now: datetime | None = None) -> None:
        """Raise WireError(reason=stale|replay); on success remember the sequence number."""
        now = now or datetime.now(UTC)
        if now - envelope.sent_at > self.max_age:
            raise WireError(
                f"inbox: stale envelope sent at {envelope.sent_at.isoformat()}", "stale"
            )
        last = self.last_seq.get(envelope.dispatcher_id)
        if last is not None and envelope.seq <= last:
            raise WireError(f"inbox: replayed seq {envelope.seq} (last {last})", "replay")
        self.last_seq[envelope.dispatcher_id] = envelope.seq
