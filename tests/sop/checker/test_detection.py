"""SOP 2 detection and SOP 2A.1 validity: recorded violations, clean runs, generated timelines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.checker import TIMING_SLACK_MINUTES, check, latest_declaration
from sop.checker.detection import check_detection, check_validity
from sop.checker.timeline import judge_envelopes, observations
from sop.history import EnvelopeRecord, IntegrityCheck, LogEntry, ModeSample
from sop.oracle import first_offline
from sop.policy import load_policy

POLICY = load_policy()
PROBE = POLICY.scenario_a.api_probe_interval_minutes
POLL = 0.25
#: How far past the oracle a declaration may come and hold (the checker's named bound).
LATE = latest_declaration(0.0, POLICY)


def oracle_at(history: Any) -> float:
    verdict = first_offline(
        observations(history, POLICY), POLICY, co_located=history.facts.co_located
    )
    assert verdict.offline_at is not None
    return verdict.offline_at


def is_mode(mode: str) -> Any:
    return lambda r: isinstance(r, ModeSample) and r.mode == mode


def test_an_early_declaration_is_violated_where_it_was_seen(story: Any) -> None:
    history = story.run(declare_lag=-0.6)
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.at == pytest.approx(oracle_at(history) - 0.5)
    assert "no OFFLINE before a scenario holds" in verdict.divergence.required
    assert verdict.divergence.evidence[0].startswith("mode-")


def test_a_late_declaration_is_violated_at_the_named_bound(story: Any) -> None:
    history = story.run(declare_lag=LATE + 1.0)
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.at == pytest.approx(oracle_at(history) + LATE)
    assert verdict.divergence.required.startswith("OFFLINE by")


def test_a_declaration_that_never_comes_is_violated(story: Any) -> None:
    history = story.edit(
        story.run(restore_at=None), is_mode("offline"), mode="online", trigger=None
    )
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.observed.startswith("mode online")


def test_the_wrong_trigger_is_violated(story: Any) -> None:
    history = story.edit(story.run(), is_mode("offline"), trigger="scenario_b")
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.observed == "trigger scenario_b"


def test_leaving_offline_without_an_answer_is_violated(story: Any) -> None:
    history = story.run(restore_at=None)
    late = oracle_at(history) + 5
    history = story.edit(
        history,
        lambda r: isinstance(r, ModeSample) and r.at >= late,
        mode="recovering",
        trigger=None,
    )
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.at == pytest.approx(late)
    assert "no answer from the dispatcher" in verdict.divergence.observed


def test_online_without_resync_is_violated(story: Any) -> None:
    history = story.drop(
        story.run(),
        lambda r: (
            isinstance(r, IntegrityCheck)
            or (isinstance(r, LogEntry) and r.entry.get("kind") == "resync")
        ),
    )
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.clause == "SOP 5"


def test_detection_without_polled_modes_is_not_exercised(story: Any) -> None:
    history = story.drop(story.run(), lambda r: isinstance(r, ModeSample))
    assert check_detection(history, POLICY).status == "not_exercised"


def forged(at: float) -> EnvelopeRecord:
    return EnvelopeRecord(at, "heartbeat", "forged", True, "forge-1", 10**9, at, "ok")


def test_an_agent_that_counts_a_forged_heartbeat_breaks_validity(story: Any) -> None:
    clean = story.run(restore_at=None)
    at = oracle_at(clean) - 2
    # The agent took the forged heartbeat at `at` for a real one: its silence restarted.
    history = story.add(
        story.run(restore_at=None, declare_lag=at + 15 - oracle_at(clean)), forged(at)
    )
    verdict = check_validity(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.evidence[0] == "forge-1"
    assert "forged by the harness" in verdict.divergence.observed


def test_an_agent_that_ignores_a_forged_heartbeat_holds(story: Any) -> None:
    clean = story.run(restore_at=None)
    history = story.add(clean, forged(oracle_at(clean) - 2))
    assert check_validity(history, POLICY).status == "held"
    assert check_validity(clean, POLICY).status == "not_exercised"


def test_replays_and_stale_envelopes_are_invalid(story: Any) -> None:
    age = POLICY.deployment.max_envelope_age_minutes
    history = story.add(
        story.run(restore_at=None),
        # the latest envelope again, byte for byte: a replay
        EnvelopeRecord(4.5, "heartbeat", "dispatcher", True, "again", 1004, 4.0, "ok"),
        EnvelopeRecord(4.6, "heartbeat", "delayed", True, "late", 1005, 4.6 - age - 0.1, "ok"),
        EnvelopeRecord(4.7, "heartbeat", "delayed", True, "fine", 1006, 4.6, "ok"),
    )
    judged = {j.envelope.evidence_id: j for j in judge_envelopes(history, POLICY)}
    assert not judged["again"].valid
    assert "a replay" in judged["again"].why
    assert not judged["late"].valid
    assert judged["fine"].valid
    assert judged["hb-1004"].valid


kills = st.floats(1.0, 30.0).map(lambda t: round(t, 2))
cases = st.one_of(
    st.builds(lambda k, co: {"kill_at": k, "co_located": co}, kills, st.booleans()),
    st.builds(
        lambda k, c: {"kill_at": k + c, "cut_at": k},
        kills,
        st.floats(0.0, 20.0).map(lambda t: round(t, 2)),
    ),
    st.builds(lambda s: {"kill_at": None, "storm_at": s}, kills),
)


@given(cases, st.floats(0.0, LATE))
def test_an_oracle_consistent_declaration_holds(
    story: Any, case: dict[str, Any], lag: float
) -> None:
    history = story.run(restore_at=None, rotate=False, declare_lag=lag, **case)
    verdict = check_detection(history, POLICY)
    assert verdict.status == "held", verdict.describe()


@given(cases, st.floats(PROBE + TIMING_SLACK_MINUTES + POLL + 0.01, 10.0))
def test_a_declaration_before_the_oracle_is_violated(
    story: Any, case: dict[str, Any], shift: float
) -> None:
    # Earlier than the oracle by more than the harness's sampling can hide (one probe
    # interval of the harness's own API samples, the timing slack and one mode poll).
    history = story.run(restore_at=None, rotate=False, declare_lag=-shift, **case)
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.at < oracle_at(history)


@given(cases, st.floats(LATE + POLL + 0.01, 20.0))
def test_a_declaration_after_the_tolerance_is_violated(
    story: Any, case: dict[str, Any], lag: float
) -> None:
    history = story.run(restore_at=None, rotate=False, declare_lag=lag, **case)
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.at == pytest.approx(oracle_at(history) + LATE)


def test_the_whole_checker_holds_on_a_storm_that_keeps_heartbeating(story: Any) -> None:
    history = story.run(kill_at=None, storm_at=4.3, restore_at=None)
    statuses = {v.invariant: v.status for v in check(history, POLICY)}
    assert statuses["detection"] == "held"
    assert statuses["notification"] == "held"


invalid_envelopes = st.sampled_from(["forged", "replayed", "stale"])


def invalid(kind: str, at: float) -> EnvelopeRecord:
    """An envelope SOP 2A.1 must not count, delivered at ``at``."""
    age = POLICY.deployment.max_envelope_age_minutes
    if kind == "forged":
        return EnvelopeRecord(at, "heartbeat", "forged", True, "bad", 10**9, at, "ok")
    if kind == "replayed":
        return EnvelopeRecord(at, "heartbeat", "dispatcher", True, "bad", 1000, at, "ok")
    return EnvelopeRecord(at, "heartbeat", "delayed", True, "bad", 10**9, at - age - 0.5, "ok")


@given(kills, invalid_envelopes, st.floats(1.0, 12.0))
def test_invalid_envelopes_never_reset_the_silence(
    story: Any, kill_at: float, kind: str, after: float
) -> None:
    clean = story.run(kill_at=kill_at, restore_at=None, rotate=False)
    due = oracle_at(clean)
    at = due - after  # inside the silence, after the last valid heartbeat
    ignored = story.add(clean, invalid(kind, at))
    assert check_validity(ignored, POLICY).status == "held"
    # An agent that took it for a real heartbeat declares a full silence after it.
    silence = POLICY.scenario_a.silence_minutes
    counted = story.run(
        kill_at=kill_at, restore_at=None, rotate=False, declare_lag=at + silence - due
    )
    verdict = check_validity(story.add(counted, invalid(kind, at)), POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.evidence[0] == "bad"


def test_leaving_offline_while_a_storm_still_holds_is_violated(story: Any) -> None:
    history = story.run(kill_at=None, storm_at=4.3, restore_at=None)
    late = oracle_at(history) + 5
    history = story.edit(
        history,
        lambda r: isinstance(r, ModeSample) and r.at >= late,
        mode="recovering",
        trigger=None,
    )
    verdict = check_detection(history, POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.observed == "mode recovering while a scenario still held"


def test_an_answer_the_agent_saw_before_the_harness_releases_the_latch(story: Any) -> None:
    # The inbox link stays cut after the restore: only the API answers, and the agent's
    # own probe found it before the harness's next sample did.
    history = story.drop(
        story.run(kill_at=5.0, restore_at=30.0),
        lambda r: isinstance(r, EnvelopeRecord) and r.at >= 30.0,
    )
    assert check_detection(history, POLICY).status == "held"


def test_a_divergence_with_another_cause_is_not_blamed_on_an_invalid_envelope(
    story: Any,
) -> None:
    history = story.edit(story.run(), is_mode("offline"), trigger="scenario_b")
    history = story.add(history, forged(oracle_at(history) - 2))
    assert check_detection(history, POLICY).status == "violated"
    assert check_validity(history, POLICY).status == "held"


def _storm_seen_by_samples(last_heartbeat_limited: bool) -> Any:
    """CI's generated schedule: a 429 storm from 0.5 to 3.25, sampled by heartbeats a
    minute apart (0.7 ... 3.7) and the harness's probes (1.0 ... 4.0); the agent stays
    online throughout."""
    from sop.history import DispatcherSample, History

    from .conftest import FACTS

    records: list[Any] = []
    for index, at in enumerate((0.7, 1.7, 2.7, 3.7, 4.7)):
        limited = at < 3.25 or (at == 3.7 and last_heartbeat_limited)
        provider = "rate_limited" if limited else "ok"
        records.append(
            EnvelopeRecord(at, "heartbeat", "dispatcher", True, f"hb-{index}", index, at, provider)
        )
    for at in (1.0, 2.0, 3.0, 4.0):
        api = "rate_limited" if at < 3.25 else "ok"
        records.append(DispatcherSample(at, api, "running", f"api-{at:g}"))
    t = 0.0
    while t < 8.0:
        records.append(ModeSample(t, "online", None, f"mode-{t:g}"))
        t += POLL
    return History("drills/test_generated_schedules.py::storm", FACTS, tuple(records))


def test_a_storm_whose_end_the_samples_see_late_requires_nothing() -> None:
    # Between the last limited sample (3.0) and the heartbeat saying fine (3.7) the storm
    # may already be over: 0.7 .. 3.0 is no 3-minute run the agent had to declare on.
    verdict = check_detection(_storm_seen_by_samples(False), POLICY)
    assert verdict.status == "held", verdict.divergence


def test_a_storm_the_samples_saw_for_three_minutes_requires_offline() -> None:
    verdict = check_detection(_storm_seen_by_samples(True), POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.required.startswith("OFFLINE by")
    assert "scenario_b at 3.7" in verdict.divergence.required


def _kill_sampled_once_a_minute(declared_at: float) -> Any:
    """The quarterly's scale-1 drill (a dispatcher dying after the silence): heartbeats cut
    after 1.95, the dispatcher killed at 17.96, just before the harness's sample at 18.02;
    its samples a minute apart see it gone at 18.02 and 19.02 and back at 20.02 (the drill
    reverts once OFFLINE is seen); the agent's own probes, at another phase, fail at 17.97,
    18.97 and 19.97."""
    from sop.history import DispatcherSample, History

    from .conftest import FACTS

    records: list[Any] = [
        EnvelopeRecord(at, "heartbeat", "dispatcher", True, f"hb-{n}", n, at, "ok")
        for n, at in enumerate((0.95, 1.95))
    ]
    for minute in range(21):
        at = minute + 0.02
        gone = 18 <= minute <= 19
        api, process = ("unreachable", "dead") if gone else ("ok", "running")
        records.append(DispatcherSample(at, api, process, f"api-{minute}"))
    t = 0.0
    while t < 20.5:
        mode = "offline" if t >= declared_at else ("suspect" if t >= 4.0 else "online")
        records.append(ModeSample(t, mode, "scenario_a" if mode == "offline" else None, f"m-{t}"))
        t += POLL
    records.append(ModeSample(declared_at, "offline", "scenario_a", "emergency_log#0"))
    return History("drills/test_scenario_a_conditions.py::dying", FACTS, tuple(records))


def test_a_third_failure_between_two_samples_is_no_early_declaration() -> None:
    # The run of failures lasted until the answer at 20.02: the agent's probe after 19.02
    # may have failed too, so three failures by 19.99 is on time, not early ("due never").
    verdict = check_detection(_kill_sampled_once_a_minute(19.99), POLICY)
    assert verdict.status == "held", verdict.divergence


def test_a_declaration_after_one_failed_sample_is_still_early() -> None:
    verdict = check_detection(_kill_sampled_once_a_minute(18.3), POLICY)
    assert verdict.status == "violated"
    assert verdict.divergence is not None
    assert verdict.divergence.required.startswith("no OFFLINE before a scenario holds")
