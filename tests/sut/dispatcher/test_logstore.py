"""The emergency-log store on its own: idempotent merges, conflicts, durability, integrity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop.chain import chain_entry
from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.integrity import check_integrity
from sut.dispatcher.logstore import LogStore, contiguous_through


def chain(n: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for i in range(n):
        entries.append(chain_entry(entries[-1] if entries else None, {"kind": "marker", "n": i}))
    return entries


@given(st.sets(st.integers(min_value=0, max_value=30)))
def test_contiguous_through_is_the_end_of_the_run_from_zero(seqs):
    n = contiguous_through(seqs)
    assert all(i in seqs for i in range(n + 1))
    assert n + 1 not in seqs


# Every merge fsyncs a file; a few dozen orders cover the space without a slow suite.
@settings(max_examples=30)
@given(st.permutations(list(range(8))), st.integers(min_value=1, max_value=8))
def test_any_order_of_uploads_ends_with_the_same_log(tmp_path_factory, order, batch):
    log = chain(8)
    store = LogStore(tmp_path_factory.mktemp("logs"))
    for start in range(0, 8, batch):
        store.merge("ops", [log[i] for i in order[start : start + batch]])
    assert store.entries("ops") == log
    assert check_integrity("ops", store.entries("ops")).status == "ok"


def test_stored_log_survives_a_restart_and_still_refuses_rewrites(tmp_path):
    log = chain(3)
    LogStore(tmp_path).merge("ops", log)

    reopened = LogStore(tmp_path)
    assert reopened.entries("ops") == log
    merge = reopened.merge("ops", log)
    assert (merge.stored, merge.acknowledged_through) == (0, 2)
    rewritten = {**log[0], "n": 99, "hash": "0" * 64}
    with pytest.raises(LogConflict) as caught:
        reopened.merge("ops", [rewritten])
    assert caught.value.seq == 0
    assert caught.value.status == 409


def test_two_different_entries_with_one_seq_in_one_upload_conflict(tmp_path):
    first = chain(1)[0]
    other = {**first, "hash": "e" * 64}
    with pytest.raises(LogConflict, match="seq 0"):
        LogStore(tmp_path).merge("ops", [first, other])
    assert LogStore(tmp_path).entries("ops") == []


def test_agent_names_cannot_escape_the_store(tmp_path):
    with pytest.raises(RequestRejected, match="agent:"):
        LogStore(tmp_path / "logs").merge("../outside", chain(1))
    assert list(tmp_path.iterdir()) == []


def test_empty_log_acknowledges_nothing_and_verifies(tmp_path):
    assert LogStore(tmp_path).merge("ops", []).acknowledged_through == -1
    report = check_integrity("ops", [])
    assert (report.status, report.entries, report.head) == ("ok", 0, None)
