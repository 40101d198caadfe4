"""The history model: every record survives JSON, and a malformed one is named in one line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import EvidenceError
from sop.history import (
    ActionEffect,
    ActionRequest,
    Advisory,
    Delivery,
    DiskSample,
    DispatcherCopy,
    DispatcherSample,
    EnvelopeRecord,
    FaultSpan,
    History,
    HistoryFacts,
    IntegrityCheck,
    LogEntry,
    ModeSample,
    ProcessSample,
    ServiceSample,
    TreeDigest,
    record_from_dict,
)

FACTS = HistoryFacts("ops", True, "100000000000000001", "+15550000001", "+15550000002", 60.0)
minutes = st.floats(0, 1e4, allow_nan=False)
ids = st.text(min_size=1, max_size=8)
texts = st.text(max_size=10)
objects = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)
records = st.one_of(
    st.builds(FaultSpan, texts, texts, minutes, st.none() | minutes, objects, ids),
    st.builds(
        DispatcherSample,
        minutes,
        st.sampled_from(["ok", "server_error", "timeout", "unreachable", "rate_limited"]),
        st.sampled_from([None, "running", "stopped", "zombie", "dead"]),
        ids,
    ),
    st.builds(
        EnvelopeRecord,
        minutes,
        st.sampled_from(["heartbeat", "task"]),
        st.sampled_from(["dispatcher", "forged", "replayed", "delayed"]),
        st.booleans(),
        ids,
        st.none() | st.integers(0, 2**63),
        st.none() | minutes,
        st.sampled_from([None, "ok", "rate_limited"]),
    ),
    st.builds(
        ModeSample,
        minutes,
        st.sampled_from(["online", "suspect", "offline", "recovering"]),
        st.sampled_from([None, "scenario_a", "scenario_b"]),
        ids,
    ),
    st.builds(
        Delivery,
        minutes,
        st.sampled_from(["discord", "signal"]),
        texts,
        st.none() | texts,
        texts,
        ids,
    ),
    st.builds(LogEntry, minutes, objects, ids),
    st.builds(
        DispatcherCopy, minutes, st.lists(objects, max_size=3).map(tuple), st.integers(-1, 9), ids
    ),
    st.builds(IntegrityCheck, minutes, st.sampled_from(["ok", "broken"]), texts, ids),
    st.builds(ServiceSample, minutes, texts, texts, ids),
    st.builds(DiskSample, minutes, st.floats(0, 100), ids),
    st.builds(
        ProcessSample,
        minutes,
        st.integers(1, 99999),
        texts,
        st.floats(0, 400),
        st.floats(0, 100),
        ids,
    ),
    st.builds(TreeDigest, minutes, st.sampled_from(["data", "backups"]), texts, ids),
    st.builds(
        ActionRequest, minutes, st.sampled_from(["task", "local"]), texts, texts, objects, ids
    ),
    st.builds(Advisory, minutes, texts, st.floats(0, 10), st.booleans(), ids),
    st.builds(ActionEffect, minutes, texts, texts, ids),
)


@given(st.lists(records, max_size=8))
def test_a_history_survives_json(recorded: list) -> None:
    history = History("drills/test_x.py::test_y", FACTS, tuple(recorded))
    text = json.dumps(history.to_dict())
    assert History.from_dict(json.loads(text)) == history


def test_records_of_a_kind_come_in_time_order() -> None:
    late, early = DiskSample(5.0, 91.0, "d-2"), DiskSample(1.0, 40.0, "d-1")
    history = History("d", FACTS, (late, ModeSample(0.0, "online", None, "m"), early))
    assert history.of(DiskSample) == (early, late)
    assert history.end == 5.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "Nope"}, "records[0]: type: expected one of"),
        ({"type": "DiskSample", "at": 1.0, "evidence_id": "x"}, "used_percent: missing"),
        (
            {
                "type": "ModeSample",
                "at": 1.0,
                "mode": "asleep",
                "trigger": None,
                "evidence_id": "x",
            },
            "(ModeSample): mode: expected one of",
        ),
        (
            {"type": "DiskSample", "at": "soon", "used_percent": 1, "evidence_id": "x"},
            "at: expected a finite number",
        ),
    ],
)
def test_a_malformed_record_is_named_in_one_line(raw: dict, message: str) -> None:
    document = History("d", FACTS).to_dict()
    document["records"] = [raw]
    with pytest.raises(EvidenceError) as caught:
        History.from_dict(document)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_record_without_its_type_is_refused() -> None:
    with pytest.raises(EvidenceError, match="type: expected one of"):
        record_from_dict({"at": 1.0})
