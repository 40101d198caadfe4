"""SOP 5 recovery: stop, upload the whole log (chain verified), integrity check, within RTO."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sop.checker.recovery import check_recovery
from sop.history import DispatcherCopy, IntegrityCheck, LogEntry
from sop.policy import load_policy

POLICY = load_policy()
RTO = POLICY.rto.agent_operations_minutes


def judged(history: Any) -> Any:
    verdict = check_recovery(history, POLICY)
    assert verdict.status == "violated", verdict.describe()
    assert verdict.divergence is not None
    return verdict.divergence


def copy_of(history: Any) -> DispatcherCopy:
    return next(r for r in history.records if isinstance(r, DispatcherCopy))


def test_an_autonomous_action_after_resync_began_is_violated(story: Any) -> None:
    clean = story.run()
    resync = next(
        r for r in clean.records if isinstance(r, LogEntry) and r.entry.get("kind") == "resync"
    )
    late = LogEntry(
        resync.at + 0.05,
        {
            "seq": 99,
            "kind": "decision",
            "action": "rotate_logs",
            "target": "log_dir",
            "decision": "executed",
            "source": "autonomous",
        },
        "decision-late",
    )
    divergence = judged(story.add(clean, late))
    assert divergence.clause == "SOP 5.1"
    assert divergence.at == late.at
    assert divergence.evidence == ("decision-late", resync.evidence_id)


def test_a_copy_missing_the_outage_actions_is_violated(story: Any) -> None:
    clean = story.run()
    short = replace(copy_of(clean), entries=copy_of(clean).entries[:2])
    history = story.add(story.drop(clean, lambda r: isinstance(r, DispatcherCopy)), short)
    divergence = judged(history)
    assert divergence.clause == "SOP 5.2"
    assert "not uploaded" in divergence.observed


def test_a_tampered_copy_is_violated_by_its_chain(story: Any) -> None:
    clean = story.run()
    entries = list(copy_of(clean).entries)
    entries[1] = {**entries[1], "reason": "nothing happened"}
    history = story.edit(clean, lambda r: isinstance(r, DispatcherCopy), entries=tuple(entries))
    divergence = judged(history)
    assert "hash does not match" in divergence.observed
    assert divergence.evidence == ("copy-0",)


def test_no_integrity_check_is_violated(story: Any) -> None:
    divergence = judged(story.drop(story.run(), lambda r: isinstance(r, IntegrityCheck)))
    assert divergence.clause == "SOP 5.3"


def test_resync_beyond_the_rto_is_violated(story: Any) -> None:
    history = story.run(resync_lag=RTO + 3)
    divergence = judged(history)
    assert divergence.required == f"re-sync done within the agent RTO ({RTO:g} min)"


def test_a_clean_resync_holds_and_no_restoration_is_not_exercised(story: Any) -> None:
    assert check_recovery(story.run(), POLICY).status == "held"
    assert check_recovery(story.run(restore_at=None), POLICY).status == "not_exercised"
