"""The evidence event schema: what may be recorded, and the one-line refusals of the rest."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import EvidenceError, SopdrillError
from sop.events import EVENT_KINDS, Event

VALID: dict[str, Any] = {
    "kind": "fault_injected",
    "at_wall": "2026-02-11T17:00:00.000000+00:00",
    "at_mono": 1234.5,
    "correlation_id": "drill-dispatcher_killed-1a2b3c4d",
    "source": "faults.process",
    "data": {"fault": "kill -9", "target": "dispatcher", "pid": 4242},
}

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
json_data = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    ),
    max_size=4,
)


def test_evidence_error_is_a_sopdrill_error():
    assert issubclass(EvidenceError, SopdrillError)


def test_the_kinds_are_the_ones_the_timeline_uses():
    assert set(EVENT_KINDS) >= {
        "fault_injected",
        "fault_reverted",
        "probe",
        "state_change",
        "notification",
        "action",
        "resync",
        "drill_started",
        "drill_finished",
        "note",
    }


@given(
    st.sampled_from(EVENT_KINDS),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.floats(allow_nan=False, allow_infinity=False),
    json_data,
)
def test_an_event_survives_to_dict_json_and_back(kind, at_wall, at_mono, data):
    event = Event(kind, at_wall, at_mono, "cid-1", "drills.test", data)
    again = Event.from_dict(json.loads(json.dumps(event.to_dict())))
    assert again == event


def test_stamp_takes_the_clocks_now():
    before = Event.stamp("note", source="test", correlation_id="c").at_mono
    event = Event.stamp("note", source="test", correlation_id="c", data={"text": "hi"})
    assert event.at_mono >= before
    assert event.at_wall.endswith("+00:00")
    assert event.data == {"text": "hi"}


def test_the_caller_changing_its_dict_later_does_not_rewrite_the_evidence():
    data = {"step": "upload"}
    event = Event.from_dict({**VALID, "data": data})
    data["step"] = "forged"
    assert event.data == {"step": "upload"}
    event.to_dict()["data"]["step"] = "forged"
    assert event.data == {"step": "upload"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "explosion", "event: kind: unknown, expected one of"),
        ("at_wall", "yesterday", "event: at_wall: not ISO-8601: 'yesterday'"),
        ("at_wall", 17, "event: at_wall: expected an ISO-8601 time string, got 17"),
        ("at_wall", "2026-02-11T17:00:00", "event: at_wall: a time zone is required"),
        ("at_mono", math.nan, "event fault_injected: at_mono: expected finite seconds, got nan"),
        ("at_mono", "1.5", "event fault_injected: at_mono: expected finite seconds, got '1.5'"),
        ("at_mono", True, "event fault_injected: at_mono: expected finite seconds, got True"),
        ("correlation_id", "", "event fault_injected: correlation_id: expected a non-empty"),
        ("source", None, "event fault_injected: source: expected a non-empty string, got None"),
        ("data", [1], "event fault_injected: data: expected an object with string keys"),
        ("data", {1: "x"}, "event fault_injected: data: expected an object with string keys"),
        ("data", {"x": {1, 2}}, "event fault_injected: data: not JSON-serialisable"),
        ("data", {"x": "\ud800"}, "event fault_injected: data: not JSON-serialisable"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(field: str, value: Any, message: str):
    with pytest.raises(EvidenceError) as caught:
        Event.from_dict({**VALID, field: value})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("field", list(VALID))
def test_a_missing_field_is_named(field: str):
    raw = {k: v for k, v in VALID.items() if k != field}
    with pytest.raises(EvidenceError, match=f"^event: {field}: missing; it is required$"):
        Event.from_dict(raw)


def test_an_unknown_field_is_named():
    with pytest.raises(EvidenceError, match=r"^event: severity: unknown field$"):
        Event.from_dict({**VALID, "severity": "P0"})


@pytest.mark.parametrize("raw", [None, [], "note"])
def test_a_non_object_is_refused(raw: Any):
    with pytest.raises(EvidenceError, match="expected a JSON object"):
        Event.from_dict(raw)
