"""SOP 5 recovery: stop, upload the whole log (chain verified), integrity check, within RTO."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sop.checker.recovery import _stopped, check_recovery, rto_clock_start
from sop.checker.timeline import declarations
from sop.checker.tolerance import TIMING_SLACK_MINUTES
from sop.history import (
    DispatcherCopy,
    DispatcherSample,
    EnvelopeRecord,
    IntegrityCheck,
    LogEntry,
    ModeSample,
)
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


def test_an_action_decided_offline_and_done_before_the_resync_began_is_no_51_breach(
    story: Any,
) -> None:
    """CI's nightly: a restart of Ollama and its test inference took 1.75 SOP-min (scale
    60); the dispatcher came back meanwhile. The agent finished it, logged it, and only then
    stopped autonomous actions: in the log's order before the re-sync, though the harness
    had seen the agent leave OFFLINE before the entry was written."""
    clean = story.run()
    [declared] = declarations(clean)
    assert declared.cleared is not None
    resync = next(
        r for r in clean.records if isinstance(r, LogEntry) and r.entry.get("kind") == "resync"
    )
    assert declared.online is not None
    logged = (declared.cleared.at + TIMING_SLACK_MINUTES + declared.online.at) / 2

    def restart(age: float) -> Any:
        entry = {
            "seq": -1,  # before the re-sync's entry in the log's own order
            "kind": "decision",
            "action": "restart_service",
            "target": "ollama",
            "decision": "executed",
            "source": "autonomous",
            "facts_age_minutes": age,
        }
        return story.add(clean, LogEntry(logged, entry, "decision-under-way"))

    decided_offline = restart(logged - declared.cleared.at + TIMING_SLACK_MINUTES)
    assert list(_stopped(decided_offline, declared)) == []
    # Decided once the agent was seen out of OFFLINE: an action re-sync had to stop.
    [breach] = _stopped(restart(0.0), declared)
    assert (breach.clause, breach.evidence) == (
        "SOP 5.1",
        ("decision-under-way", resync.evidence_id),
    )


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


def gone_again(history: Any, since: float, until: float) -> Any:
    """``history`` with the dispatcher dead and silent in [since, until), as the harness saw."""
    kept = [
        r
        for r in history.records
        if not (isinstance(r, DispatcherSample | EnvelopeRecord) and since <= r.at < until)
    ]
    interval = POLICY.scenario_a.api_probe_interval_minutes
    gone = [
        DispatcherSample(since + i * interval, "unreachable", "dead", f"gone-{i}")
        for i in range(int((until - since) / interval))
    ]
    return replace(history, records=(*kept, *gone))


def test_the_rto_counts_again_from_a_return_after_the_dispatcher_was_gone_again(
    story: Any,
) -> None:
    restore = 30.0
    late = story.run(restore_at=restore, resync_lag=RTO + 3)
    assert check_recovery(late, POLICY).status == "violated"
    # The same late re-sync, but the dispatcher died again 1 min after its return and came
    # back 5 min later: the RTO counts from that second return, and is kept.
    relapsed = gone_again(late, restore + 1, restore + 5)
    assert rto_clock_start(relapsed, POLICY, restore, restore + RTO + 3) >= restore + 5
    assert check_recovery(relapsed, POLICY).status == "held"


def test_a_dispatcher_gone_again_and_not_back_owes_no_rto(story: Any) -> None:
    restore = 30.0
    clean = story.run(restore_at=restore, resync_lag=RTO + 3)
    online_at = restore + RTO + 3
    # Never online in this history, the dispatcher dead from 1 min after its return on.
    stalled = story.drop(
        gone_again(clean, restore + 1, clean.end + 1),
        lambda r: isinstance(r, ModeSample) and r.at >= online_at,
    )
    assert rto_clock_start(stalled, POLICY, restore, stalled.end) is None
    assert check_recovery(stalled, POLICY).status == "held"
    # Still answering all along, the same stall is late (the agent's own fault).
    answering = story.drop(clean, lambda r: isinstance(r, ModeSample) and r.at >= online_at)
    assert judged(answering).clause == "SOP 5"
