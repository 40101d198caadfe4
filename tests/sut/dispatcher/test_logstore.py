"""The emergency-log store on its own: idempotent merges, conflicts, durability, integrity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop.chain import chain_entry
from sop.logupload import Seal
from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.integrity import check_epochs, check_integrity
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


# ---- epochs (issue 10: a rebuilt log restarts at seq 0) --------------------------------------

EPOCH = 1_764_000_000_000_000_000
SEAL = Seal(2, "emergency log: line 2: hash does not match its content")


def test_a_new_epoch_at_seq_0_is_kept_apart_not_a_conflict(tmp_path):
    old, new = chain(3), chain(2)
    store = LogStore(tmp_path)
    store.merge("ops", old)
    merge = store.merge("ops", new, EPOCH)
    assert (merge.epoch, merge.stored, merge.acknowledged_through) == (EPOCH, 2, 1)
    assert store.entries("ops") == new  # the latest epoch by default
    assert store.entries("ops", 0) == old  # the earlier one untouched
    assert sorted(LogStore(tmp_path).epochs("ops")) == [0, EPOCH]  # and both survive a restart


def test_within_an_epoch_a_rewrite_is_still_409(tmp_path):
    store = LogStore(tmp_path)
    store.merge("ops", chain(2), EPOCH)
    with pytest.raises(LogConflict, match=f"epoch {EPOCH}: seq 1"):
        store.merge("ops", [{**chain(2)[1], "hash": "f" * 64}], EPOCH)


def test_a_sealed_upload_keeps_the_held_entry_and_sets_the_other_aside(tmp_path):
    log = chain(3)
    store = LogStore(tmp_path)
    store.merge("ops", log[:2], EPOCH)
    edited = {**log[1], "n": 42}  # an edit on disk keeps the old hash field
    merge = store.merge("ops", [log[0], edited, log[2]], EPOCH, SEAL)
    assert (merge.stored, merge.conflicts, merge.acknowledged_through) == (1, (1,), 2)

    reopened = LogStore(tmp_path).epochs("ops")[EPOCH]
    assert reopened.ordered() == log  # the acknowledged copy, never overwritten
    assert (reopened.conflicts, reopened.seal) == ([edited], SEAL)
    report = check_epochs("ops", LogStore(tmp_path).epochs("ops"))
    assert (report.status, report.epoch) == ("broken", EPOCH)
    assert "seq 1" in (report.error or "")
    again = LogStore(tmp_path).merge("ops", [log[0], edited, log[2]], EPOCH, SEAL)
    assert (again.stored, again.conflicts) == (0, ())  # idempotent: kept aside once


def test_a_sealed_epoch_is_broken_even_when_what_arrived_verifies(tmp_path):
    store = LogStore(tmp_path)
    store.merge("ops", chain(2), 7, SEAL)  # the torn line 3 never arrived
    store.merge("ops", chain(1), EPOCH)
    report = check_epochs("ops", store.epochs("ops"))
    assert (report.status, report.epoch) == ("ok", EPOCH)
    sealed, latest = report.epochs
    assert (sealed.epoch, sealed.status, sealed.sealed) == (7, "broken", True)
    assert "line 2" in (sealed.error or "")
    assert latest.status == "ok"


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 5, EPOCH]), st.integers(0, 5), st.integers(1, 6)),
        max_size=12,
    )
)
def test_any_interleaving_of_epochs_leaves_each_epoch_its_own_chain(tmp_path_factory, uploads):
    logs = {epoch: chain(6 + i) for i, epoch in enumerate((0, 5, EPOCH))}
    store = LogStore(tmp_path_factory.mktemp("logs"))
    for epoch, start, size in uploads:
        store.merge("ops", logs[epoch][start : start + size], epoch)
    for epoch in (0, 5, EPOCH):  # every epoch whole in the end, whatever came first
        store.merge("ops", logs[epoch], epoch)
    held = LogStore(store.root).epochs("ops")
    assert {epoch: each.ordered() for epoch, each in held.items()} == logs
    report = check_epochs("ops", held)
    assert [(e.epoch, e.status) for e in report.epochs] == [(0, "ok"), (5, "ok"), (EPOCH, "ok")]
