"""The inbox envelope: signed, verified, and rejected for the reason the contract names."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sop.errors import WireError
from sop.timescale import TimeScale
from sop.wire import (
    KINDS,
    Envelope,
    ReplayGuard,
    canonical_json,
    sign_envelope,
    verify_envelope,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
SENT = datetime(2026, 2, 11, 17, 0, tzinfo=UTC)
HEARTBEAT = {"status": "ok", "provider": "ok"}
MAX_AGE_MINUTES = 2.0


def signed(**overrides: Any) -> dict[str, Any]:
    """A heartbeat signed with KEY; keyword arguments replace sign_envelope's."""
    args: dict[str, Any] = {
        "key": KEY,
        "kind": "heartbeat",
        "body": HEARTBEAT,
        "seq": 1_732_380_000_000_000_001,
        "dispatcher_id": "dispatcher",
        "sent_at": SENT,
    }
    args.update(overrides)
    return sign_envelope(**args)


def rejected(data: Any, key: bytes = KEY) -> WireError:
    with pytest.raises(WireError) as caught:
        verify_envelope(key, data)
    assert "\n" not in str(caught.value)
    return caught.value


# --- signing and verifying ----------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_envelope_verifies_to_its_content(kind: str):
    envelope = verify_envelope(KEY, signed(kind=kind))
    assert envelope == Envelope(kind, "dispatcher", 1_732_380_000_000_000_001, SENT, HEARTBEAT)


def hmac_hex(unsigned: dict[str, Any]) -> str:
    """The contract's signature, computed here independently of sop.wire."""
    text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def test_the_signature_is_hmac_sha256_over_the_canonical_unsigned_envelope():
    data = signed()
    assert data["sig"] == hmac_hex({k: v for k, v in data.items() if k != "sig"})


def test_the_envelope_survives_a_json_round_trip():
    data = signed(
        body={"task_id": "t-1", "action": "restart_service", "target": "nginx", "params": {}}
    )
    assert verify_envelope(KEY, json.loads(json.dumps(data))).body["target"] == "nginx"


def test_a_wrong_key_is_a_bad_signature():
    assert rejected(signed(), key=OTHER_KEY).reason == "bad_signature"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "task"),
        ("dispatcher_id", "mallory"),
        ("seq", 1_732_380_000_000_000_002),
        ("sent_at", (SENT + timedelta(minutes=5)).isoformat()),
        ("body", {"status": "ok", "provider": "rate_limited"}),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: Any):
    data = {**signed(), field: value}
    error = rejected(data)
    assert error.reason == "bad_signature"
    assert str(error) == "inbox: signature does not verify"


@pytest.mark.parametrize(
    "sig",
    ["", "0" * 64, "zz", "é" * 64, 12, None, ["a"]],
    ids=["empty", "zeros", "not-hex", "non-ascii", "int", "null", "list"],
)
def test_a_forged_or_odd_signature_is_a_bad_signature_not_a_crash(sig: Any):
    assert rejected({**signed(), "sig": sig}).reason == "bad_signature"


@given(st.data())
def test_any_single_character_change_of_a_hex_signature_is_caught(data):
    envelope = signed()
    position = data.draw(st.integers(0, len(envelope["sig"]) - 1))
    char = data.draw(st.sampled_from("0123456789abcdefABCDEF"))
    assume(char != envelope["sig"][position])
    sig = envelope["sig"][:position] + char + envelope["sig"][position + 1 :]
    assert rejected({**envelope, "sig": sig}).reason == "bad_signature"


@given(st.data())
def test_any_single_character_change_on_the_wire_is_rejected_or_harmless(data):
    text = json.dumps(signed(), ensure_ascii=False)
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters(codec="utf-8"))
    tampered = text[:position] + replacement + text[position + 1 :]
    try:
        parsed = json.loads(tampered)
    except json.JSONDecodeError:
        return  # the service answers 400 before the envelope is looked at
    if parsed == signed():
        return  # JSON cannot tell (whitespace between tokens): nothing changed
    with pytest.raises(WireError):
        verify_envelope(KEY, parsed)


# --- malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["kind", "dispatcher_id", "seq", "sent_at", "body", "sig"])
def test_a_missing_field_is_malformed_and_named(field: str):
    data = signed()
    del data[field]
    error = rejected(data)
    assert (error.reason, str(error)) == ("malformed", f"inbox: missing field {field!r}")


def test_an_unknown_field_is_malformed():
    error = rejected({**signed(), "priority": "high"})
    assert (error.reason, str(error)) == ("malformed", "inbox: unknown field 'priority'")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "reboot", "inbox: kind: expected one of ['heartbeat', 'task'], got 'reboot'"),
        ("seq", -1, "inbox: seq: expected a non-negative integer, got -1"),
        ("seq", True, "inbox: seq: expected a non-negative integer, got True"),
        ("seq", "7", "inbox: seq: expected a non-negative integer, got '7'"),
        ("seq", 1.5, "inbox: seq: expected a non-negative integer, got 1.5"),
        ("dispatcher_id", 7, "inbox: dispatcher_id must be a string and body an object"),
        ("body", ["ok"], "inbox: dispatcher_id must be a string and body an object"),
        ("sent_at", "yesterday", "inbox: sent_at: not ISO-8601: 'yesterday'"),
        ("sent_at", 17, "inbox: sent_at: expected an ISO-8601 time string, got 17"),
        (
            "sent_at",
            "2026-02-11T17:00:00",
            "inbox: sent_at: a time zone is required (e.g. Z), got '2026-02-11T17:00:00'",
        ),
    ],
)
def test_a_bad_field_is_malformed_and_named(field: str, value: Any, message: str):
    error = rejected({**signed(), field: value})
    assert (error.reason, str(error)) == ("malformed", message)


@pytest.mark.parametrize("data", [None, [], "heartbeat", 7])
def test_a_non_object_is_malformed(data: Any):
    assert rejected(data).reason == "malformed"


def test_a_lone_surrogate_is_malformed_not_a_crash():
    # json.loads accepts "\ud800"; UTF-8 cannot encode it, so the canonical form fails.
    data = json.loads(json.dumps(signed()).replace('"status": "ok"', '"status": "\\ud800"'))
    assert rejected(data).reason == "malformed"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: json_values for name in ("kind", "dispatcher_id", "seq", "sent_at", "body", "sig")
        },
    ),
    st.booleans(),
)
def test_whatever_arrives_is_an_envelope_or_a_wire_error(data, sign_it):
    if sign_it:
        # A valid signature over the junk, so the checks after the signature run too.
        unsigned = {k: v for k, v in data.items() if k != "sig"}
        data = {**unsigned, "sig": hmac_hex(unsigned)}
    reason = "accepted"
    try:
        verify_envelope(KEY, data)
    except WireError as error:
        reason = error.reason
    assert reason in {"accepted", "malformed", "bad_signature"}


# --- replay and staleness -----------------------------------------------------------------


def guard(scale: float = 1.0) -> ReplayGuard:
    return ReplayGuard(MAX_AGE_MINUTES, TimeScale(scale))


def envelope(seq: int, sent_at: datetime = SENT, dispatcher_id: str = "dispatcher") -> Envelope:
    return verify_envelope(KEY, signed(seq=seq, sent_at=sent_at, dispatcher_id=dispatcher_id))


def test_increasing_sequence_numbers_pass():
    g = guard()
    for seq in (5, 6, 10):
        g.check(envelope(seq), now=SENT)


@pytest.mark.parametrize("again", [7, 3])
def test_a_seen_or_lower_sequence_number_is_a_replay(again: int):
    g = guard()
    g.check(envelope(7), now=SENT)
    with pytest.raises(WireError, match=f"replayed seq {again} \\(last 7\\)") as caught:
        g.check(envelope(again), now=SENT)
    assert caught.value.reason == "replay"


def test_sequences_are_kept_per_dispatcher():
    g = guard()
    g.check(envelope(7, dispatcher_id="a"), now=SENT)
    g.check(envelope(3, dispatcher_id="b"), now=SENT)


def test_a_rejected_envelope_does_not_advance_the_sequence():
    g = guard()
    g.check(envelope(7), now=SENT)
    late = SENT - timedelta(minutes=MAX_AGE_MINUTES + 1)
    with pytest.raises(WireError):
        g.check(envelope(100, sent_at=late), now=SENT)
    g.check(envelope(8), now=SENT)


@pytest.mark.parametrize(
    ("scale", "age_s", "stale"),
    [
        (1.0, MAX_AGE_MINUTES * 60 - 1, False),
        (1.0, MAX_AGE_MINUTES * 60, False),
        (1.0, MAX_AGE_MINUTES * 60 + 1, True),
        # At scale 60 the 2 SOP minutes pass in 2 wall seconds.
        (60.0, MAX_AGE_MINUTES - 0.5, False),
        (60.0, MAX_AGE_MINUTES + 0.5, True),
    ],
)
def test_an_envelope_older_than_the_max_age_is_stale(scale: float, age_s: float, stale: bool):
    g = guard(scale)
    now = SENT + timedelta(seconds=age_s)
    if stale:
        with pytest.raises(WireError, match="stale envelope sent at") as caught:
            g.check(envelope(1), now=now)
        assert caught.value.reason == "stale"
    else:
        g.check(envelope(1), now=now)


@given(st.lists(st.integers(0, 50), min_size=1, max_size=20))
def test_the_guard_accepts_exactly_the_strictly_increasing_prefix_maxima(seqs):
    g = guard()
    accepted = []
    for seq in seqs:
        newest = accepted[-1] if accepted else -1
        reason = "accepted"
        try:
            g.check(envelope(seq), now=SENT)
        except WireError as error:
            reason = error.reason
        assert reason == ("accepted" if seq > newest else "replay")
        if reason == "accepted":
            accepted.append(seq)
    assert accepted == sorted(set(accepted))
