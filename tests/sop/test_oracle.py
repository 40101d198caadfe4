"""The reference model against the SOP's own scenarios and against a brute-force reading."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sop.observations import ApiProbe, Heartbeat, Observation, ProcessCheck, RateLimitReport
from sop.oracle import (
    Verdict,
    detection_window,
    first_offline,
    never_offline,
    scenario_a_holds,
    scenario_b_holds,
)
from sop.policy import Policy, load_policy

POLICY = load_policy()
SILENCE = POLICY.scenario_a.silence_minutes
FAILURES = POLICY.scenario_a.api_failures
PROBE_INTERVAL = POLICY.scenario_a.api_probe_interval_minutes
LIMITED = POLICY.scenario_b.rate_limited_minutes

#: Every instant the generated timelines use is a multiple of this (and so are the
#: generated thresholds); a grid twice as fine therefore contains every instant where a
#: scenario can start to hold, and the brute-force reading below can walk it.
STEP = 0.25
GRID = STEP / 2
HORIZON = 60.0

instants = st.integers(0, int(HORIZON / STEP)).map(lambda i: i * STEP)
heartbeats = st.builds(Heartbeat, instants, st.booleans())
probes = st.builds(
    ApiProbe,
    instants,
    st.sampled_from(["ok", "server_error", "timeout", "unreachable", "rate_limited"]),
)
process_checks = st.builds(
    ProcessCheck, instants, st.sampled_from(["running", "stopped", "zombie", "dead"])
)
reports = st.builds(RateLimitReport, instants, st.booleans())
observations = st.one_of(heartbeats, probes, process_checks, reports)
timelines = st.lists(observations, max_size=30)
#: Random timelines that end in a total outage, so Scenario A is common, not a rarity.
outages = timelines.map(
    lambda timeline: [
        *timeline,
        *(ApiProbe(HORIZON + i, "unreachable") for i in range(4)),
        ProcessCheck(HORIZON, "dead"),
    ]
)
any_timelines = st.one_of(timelines, outages)
starts = st.sampled_from([0.0, 2.5, 7.0])


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The shipped policy with its detection numbers varied (on the STEP grid)."""
    a = dataclasses.replace(
        POLICY.scenario_a,
        silence_minutes=draw(st.sampled_from([2.0, 5.0, SILENCE])),
        api_failures=draw(st.integers(1, 4)),
    )
    b = dataclasses.replace(
        POLICY.scenario_b, rate_limited_minutes=draw(st.sampled_from([1.0, 2.25, LIMITED]))
    )
    return dataclasses.replace(POLICY, scenario_a=a, scenario_b=b)


def grid(start: float, end: float) -> list[float]:
    """Every GRID instant in [start, end]."""
    first = int(Fraction(start) / Fraction(GRID)) + (Fraction(start) % Fraction(GRID) != 0)
    last = int(Fraction(end) / Fraction(GRID))
    return [i * GRID for i in range(first, last + 1)]


def brute_first(
    timeline: list[Observation], policy: Policy, co_located: bool, start: float
) -> float | None:
    """The first GRID instant where either scenario holds, asked instant by instant."""
    for t in grid(start, HORIZON + max(SILENCE, LIMITED) + 1):
        if scenario_a_holds(
            timeline, policy, co_located=co_located, start=start, at=t
        ) or scenario_b_holds(timeline, policy, at=t):
            return t
    return None


def verdict(
    timeline: list[Observation],
    *,
    co_located: bool = False,
    start: float = 0.0,
    until: float | None = None,
    policy: Policy = POLICY,
) -> Verdict:
    return first_offline(timeline, policy, co_located=co_located, start=start, until=until)


# --- the SOP's own scenarios --------------------------------------------------------------


def killed_dispatcher(kill_at: float) -> list[Observation]:
    """Heartbeats each minute up to the kill, probes each minute, ps after the kill."""
    timeline: list[Observation] = []
    for minute in range(int(kill_at) + 1):
        timeline.append(Heartbeat(float(minute)))
    for minute in range(40):
        at = minute + 0.5
        timeline.append(ApiProbe(at, "ok" if at < kill_at else "unreachable"))
        timeline.append(ProcessCheck(at, "running" if at < kill_at else "dead"))
    return timeline


@pytest.mark.parametrize("co_located", [True, False])
def test_killed_dispatcher_is_offline_exactly_silence_after_last_heartbeat(co_located: bool):
    timeline = killed_dispatcher(kill_at=10.0)
    result = verdict(timeline, co_located=co_located)
    assert result.trigger == "scenario_a"
    assert result.offline_at == 10.0 + SILENCE
    assert "SOP 2A.1" in result.reason


def test_killed_dispatcher_is_not_offline_a_moment_before_the_threshold():
    timeline = killed_dispatcher(kill_at=10.0)
    almost = 10.0 + SILENCE - 0.01
    assert not scenario_a_holds(timeline, POLICY, co_located=True, start=0.0, at=almost)
    assert never_offline(timeline, POLICY, co_located=True, until=almost)


def test_hung_dispatcher_is_never_offline_when_co_located():
    # SIGSTOP: the process is alive ("stopped"), so SOP 2A.3 is not met on the same host.
    timeline: list[Observation] = [Heartbeat(float(m)) for m in range(6)]
    for minute in range(6, 60):
        timeline.append(ApiProbe(minute + 0.5, "timeout"))
        timeline.append(ProcessCheck(minute + 0.5, "stopped"))
    assert never_offline(timeline, POLICY, co_located=True)
    remote = verdict(timeline, co_located=False)
    assert remote.trigger == "scenario_a"
    assert remote.offline_at == 5.0 + SILENCE


def test_429_storm_of_four_minutes_is_scenario_b_three_minutes_after_it_starts():
    storm_start = 5.0
    timeline: list[Observation] = [Heartbeat(float(m)) for m in range(20)]
    for minute in range(20):
        inside = storm_start <= minute < storm_start + 4
        timeline.append(ApiProbe(minute + 0.0, "rate_limited" if inside else "ok"))
        timeline.append(RateLimitReport(float(minute), inside))
    result = verdict(timeline)
    assert result.trigger == "scenario_b"
    assert result.offline_at == storm_start + LIMITED
    assert scenario_b_holds(timeline, POLICY, at=storm_start + LIMITED)
    assert not scenario_b_holds(timeline, POLICY, at=storm_start + LIMITED - 0.001)


def test_429_storm_of_two_and_a_half_minutes_never_declares_offline():
    storm_start = 5.0
    timeline: list[Observation] = [Heartbeat(float(m)) for m in range(20)]
    for step in range(40):
        at = step * 0.5
        inside = storm_start <= at < storm_start + 2.5
        timeline.append(ApiProbe(at, "rate_limited" if inside else "ok"))
    assert never_offline(timeline, POLICY, co_located=False)


def test_silence_without_three_failed_probes_is_not_scenario_a():
    timeline: list[Observation] = [ApiProbe(20.0 + i, "timeout") for i in range(FAILURES - 1)]
    assert never_offline(timeline, POLICY, co_located=False, until=HORIZON)
    timeline.append(ApiProbe(30.0, "unreachable"))
    assert verdict(timeline).offline_at == 30.0


def test_a_rate_limited_probe_breaks_the_consecutive_failures():
    # SOP 2A.2 asks for 5xx or timeouts; a 429 is an answer, so the count starts over.
    outcomes = ["server_error"] * (FAILURES - 1) + ["rate_limited"] + ["timeout"] * (FAILURES - 1)
    timeline: list[Observation] = [ApiProbe(20.0 + i, o) for i, o in enumerate(outcomes)]
    timeline.append(RateLimitReport(20.0 + FAILURES, False))  # the 429 was a blip, not B
    assert verdict(timeline, until=HORIZON).trigger != "scenario_a"
    timeline.append(ApiProbe(40.0, "unreachable"))
    result = verdict(timeline, until=HORIZON)
    assert (result.trigger, result.offline_at) == ("scenario_a", 40.0)


def test_silence_counts_from_the_start_when_no_heartbeat_came():
    timeline: list[Observation] = [ApiProbe(float(m), "unreachable") for m in range(40)]
    assert verdict(timeline, start=7.0).offline_at == 7.0 + SILENCE


def test_until_cuts_the_search():
    timeline = killed_dispatcher(kill_at=10.0)
    assert verdict(timeline, until=10.0 + SILENCE).offline_at == 10.0 + SILENCE
    assert verdict(timeline, until=10.0 + SILENCE - 0.5).offline_at is None


def test_until_before_start_is_refused():
    with pytest.raises(ValueError, match="until"):
        verdict([], start=5.0, until=1.0)


def test_detection_window_is_one_probe_interval_plus_tolerance_wide():
    result = verdict(killed_dispatcher(kill_at=10.0))
    early, late = detection_window(result, POLICY, tolerance_minutes=0.25)
    assert early == result.offline_at
    assert late == pytest.approx(early + PROBE_INTERVAL + 0.25)


def test_detection_window_needs_a_declaration_and_a_sane_tolerance():
    with pytest.raises(ValueError, match="never due"):
        detection_window(Verdict(None, None, "nothing"), POLICY, 0.1)
    with pytest.raises(ValueError, match="tolerance"):
        detection_window(Verdict(3.0, "scenario_b", "x"), POLICY, -1.0)


# --- properties ---------------------------------------------------------------------------


@given(any_timelines, policies(), st.booleans(), starts)
def test_first_offline_is_the_first_instant_a_scenario_holds(timeline, policy, co_located, start):
    result = verdict(timeline, co_located=co_located, start=start, policy=policy)
    assert result.offline_at == brute_first(timeline, policy, co_located, start)
    if result.trigger == "scenario_a":
        assert scenario_a_holds(
            timeline, policy, co_located=co_located, start=start, at=result.offline_at
        )
    elif result.trigger == "scenario_b":
        assert scenario_b_holds(timeline, policy, at=result.offline_at)
        assert not scenario_a_holds(
            timeline, policy, co_located=co_located, start=start, at=result.offline_at
        )
    else:
        assert result.offline_at is None


@given(outages, st.booleans(), starts)
def test_scenario_a_never_before_last_valid_heartbeat_plus_silence(timeline, co_located, start):
    result = verdict(timeline, co_located=co_located, start=start)
    assume(result.trigger == "scenario_a")
    assert result.offline_at is not None
    seen = [o.at for o in timeline if isinstance(o, Heartbeat) and o.valid]
    seen = [at for at in seen if at <= result.offline_at]
    assert result.offline_at >= max(seen, default=start) + SILENCE


@st.composite
def steady_heartbeats(draw: st.DrawFn) -> tuple[list[Observation], float]:
    """Valid heartbeats never further apart than the silence, and the end of that cover."""
    gaps = draw(st.lists(st.integers(1, int(SILENCE / STEP) - 1), min_size=1, max_size=12))
    beats, at = [], 0.0
    for gap in gaps:
        at += gap * STEP
        beats.append(Heartbeat(at))
    cover_until = at + SILENCE - STEP
    noise = draw(st.lists(st.one_of(heartbeats, probes, process_checks, reports), max_size=30))
    return beats + noise, cover_until


@given(steady_heartbeats(), st.booleans())
def test_steady_heartbeats_never_yield_scenario_a(case, co_located):
    timeline, cover_until = case
    result = verdict(timeline, co_located=co_located, until=cover_until)
    assert result.trigger != "scenario_a"
    for t in grid(0.0, cover_until):
        assert not scenario_a_holds(timeline, POLICY, co_located=co_located, start=0.0, at=t)


@st.composite
def short_storms(draw: st.DrawFn) -> list[Observation]:
    """Rate-limited runs, each shorter than the threshold and ended by an all-clear."""
    timeline: list[Observation] = []
    at = draw(instants)
    for _ in range(draw(st.integers(1, 4))):
        length = draw(st.integers(0, int(LIMITED / STEP) - 1)) * STEP
        signals = draw(st.lists(st.sampled_from(["probe", "report"]), min_size=1, max_size=6))
        for i, signal in enumerate(signals):
            when = at + length * i / len(signals)
            timeline.append(
                ApiProbe(when, "rate_limited") if signal == "probe" else RateLimitReport(when, True)
            )
        end = at + length + STEP
        timeline.append(draw(st.sampled_from([ApiProbe(end, "ok"), RateLimitReport(end, False)])))
        at = end + draw(instants)
    return timeline


@given(short_storms())
def test_rate_limiting_shorter_than_the_threshold_never_yields_scenario_b(timeline):
    assert verdict(timeline).trigger != "scenario_b"
    for t in grid(0.0, max(o.at for o in timeline) + LIMITED):
        assert not scenario_b_holds(timeline, POLICY, at=t)


@given(any_timelines, st.booleans(), starts)
def test_invalid_heartbeats_change_nothing(timeline, co_located, start):
    valid_only = [o for o in timeline if not (isinstance(o, Heartbeat) and not o.valid)]
    assert verdict(timeline, co_located=co_located, start=start) == verdict(
        valid_only, co_located=co_located, start=start
    )


@given(any_timelines, st.booleans(), starts, st.data())
def test_an_extra_valid_heartbeat_only_postpones_or_cancels(timeline, co_located, start, data):
    before = verdict(timeline, co_located=co_located, start=start)
    assume(before.offline_at is not None)
    # Within the window: with no heartbeat the silence counts from ``start`` (the watch
    # began there), so one known to be older than ``start`` rightly brings OFFLINE forward
    # (hypothesis found it: start 2.5, a beat at 0, OFFLINE at 15 instead of 17.5).
    first = math.ceil(start / STEP)
    beat = Heartbeat(
        data.draw(
            st.integers(first, max(first, int(before.offline_at / STEP))).map(lambda i: i * STEP)
        )
    )
    after = verdict([*timeline, beat], co_located=co_located, start=start)
    assert after.offline_at is None or after.offline_at >= before.offline_at
    if before.trigger == "scenario_b":
        # A heartbeat is no evidence about the provider: B still holds where it did.
        assert after == before


@given(any_timelines, st.sampled_from(["running", "stopped"]), starts)
def test_co_located_live_process_never_yields_scenario_a(timeline, state, start):
    alive = [
        dataclasses.replace(o, state=state) if isinstance(o, ProcessCheck) else o for o in timeline
    ]
    assert verdict(alive, co_located=True, start=start).trigger != "scenario_a"


@given(any_timelines, starts)
def test_process_checks_do_not_matter_when_not_co_located(timeline, start):
    without = [o for o in timeline if not isinstance(o, ProcessCheck)]
    assert verdict(timeline, start=start) == verdict(without, start=start)


@given(any_timelines, st.booleans(), starts, st.randoms(use_true_random=False))
def test_arrival_order_across_instants_does_not_matter(timeline, co_located, start, rnd):
    groups: dict[float, list[Observation]] = {}
    for obs in timeline:
        groups.setdefault(obs.at, []).append(obs)
    instants_seen = list(groups)
    rnd.shuffle(instants_seen)
    # Same-instant observations keep their recorded order; only distinct instants move.
    shuffled = [obs for at in instants_seen for obs in groups[at]]
    assert verdict(shuffled, co_located=co_located, start=start) == verdict(
        timeline, co_located=co_located, start=start
    )
