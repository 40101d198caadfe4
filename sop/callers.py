"""Who may write to the dispatcher: the operator's bearer token and the agent's signed requests.

The dispatcher's API changes what the agent will do (a task is signed for the agent as
if it were the dispatcher's own word) and what the record says (an emergency-log upload
is what the integrity check judges), so no write is taken from an unknown caller
(DESIGN.md: every write API authenticates its caller):

* the **operator** (a person or the harness assigning tasks, asking for an integrity
  check) sends ``Authorization: Bearer <operator token>``;
* the **agent** (registering, reporting an incident, uploading its emergency log,
  requesting the integrity check of SOP 5.3) signs each request with the HMAC key it
  already shares with the dispatcher for the inbox, like an envelope: HMAC-SHA256 over
  the method, the path, the time it was sent and the SHA-256 of the body, in two headers.
  A signature older than the maximum envelope age is stale (a captured request cannot
  be replayed later).

Both sides use this module, so the agent and the dispatcher cannot disagree on the form.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sop.errors import WireError
from sop.timescale import aware_instant

#: The headers of an agent-signed request.
SENT_AT_HEADER = "X-Sopdrill-Sent-At"
SIGNATURE_HEADER = "X-Sopdrill-Signature"
_BEARER = "bearer "


def _mac(key: bytes, method: str, path: str, sent_at: str, body: bytes) -> str:
    signed = f"{method.upper()}\n{path}\n{sent_at}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


def sign_request(
    key: bytes, method: str, path: str, body: bytes, sent_at: datetime | None = None
) -> dict[str, str]:
    """The headers that sign a request of the agent's (``path`` without the host)."""
    when = (sent_at or datetime.now(UTC)).isoformat()
    return {SENT_AT_HEADER: when, SIGNATURE_HEADER: _mac(key, method, path, when, body)}


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether the request claims an agent's signature (it may still be wrong)."""
    return SIGNATURE_HEADER.lower() in {name.lower() for name in headers}


def verify_request(
    key: bytes,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_age: timedelta,
    now: datetime | None = None,
) -> None:
    """Raise WireError (reason ``bad_signature`` or ``stale``) unless the agent signed it."""
    found = {name.lower(): value for name, value in headers.items()}
    signature = found.get(SIGNATURE_HEADER.lower(), "")
    sent_text = found.get(SENT_AT_HEADER.lower(), "")
    try:
        sent_at = aware_instant(sent_text, SENT_AT_HEADER)
    except ValueError as exc:
        raise WireError(f"request: {exc}", "bad_signature") from None
    expected = _mac(key, method, path, sent_text, body)
    # compare_digest raises TypeError on non-ASCII str; such a signature is simply wrong.
    if not signature.isascii() or not hmac.compare_digest(signature, expected):
        raise WireError("request: the signature does not verify", "bad_signature")
    if (now or datetime.now(UTC)) - sent_at > max_age:
        raise WireError(f"request: stale, signed at {sent_text}", "stale")


def bearer_headers(token: str) -> dict[str, str]:
    """The header an operator sends."""
    return {"Authorization": f"Bearer {token}"}


def operator_token_of(headers: Mapping[str, str]) -> str | None:
    """The bearer token a request carries, or None."""
    found = {name.lower(): value for name, value in headers.items()}
    value = found.get("authorization", "")
    return value[len(_BEARER) :].strip() if value.lower().startswith(_BEARER) else None


def is_operator(token: str, headers: Mapping[str, str]) -> bool:
    """Whether the request carries the operator's token (compared in constant time)."""
    given = operator_token_of(headers)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


__all__ = [
    "SENT_AT_HEADER",
    "SIGNATURE_HEADER",
    "bearer_headers",
    "is_operator",
    "is_signed",
    "operator_token_of",
    "sign_request",
    "verify_request",
]
