"""The detector against SOP 2: worked examples, a stateful model, and the reference model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sop.errors import SopdrillError
from sop.observations import (
    FAILED_PROBES,
    GONE_STATES,
    MODES,
    ApiProbe,
    Heartbeat,
    Observation,
    ProbeOutcome,
    ProcessCheck,
    ProcessState,
    RateLimitReport,
)
from sop.oracle import first_offline
from sop.policy import load_policy
from sut.agent.detector import Detector, DetectorError, DetectorState, Transition

POLICY = load_policy()
SILENCE = POLICY.scenario_a.silence_minutes
FAILURES = POLICY.scenario_a.api_failures
PROBE_EVERY = POLICY.scenario_a.api_probe_interval_minutes
LIMITED = POLICY.scenario_b.rate_limited_minutes
TICK = POLICY.deployment.detector_tick_minutes
HEARTBEAT_EVERY = POLICY.deployment.heartbeat_interval_minutes

OUTCOMES: tuple[ProbeOutcome, ...] = (
    "ok",
    "server_error",
    "timeout",
    "unreachable",
    "rate_limited",
)
PROCESS_STATES: tuple[ProcessState, ...] = ("running", "stopped", "zombie", "dead")


def run(
    detector: Detector, timeline: list[Observation], until: float, start: float = 0.0
) -> list[Transition]:
    """Feed ``timeline`` (sorted) with a tick every TICK, as the agent's loops do."""
    transitions = []
    pending = sorted(timeline, key=lambda obs: obs.at)
    step = 0
    while (now := start + step * TICK) <= until:
        while pending and pending[0].at <= now:
            transitions.append(detector.observe(pending.pop(0)))
        transitions.append(detector.tick(now))
        step += 1
    return [t for t in transitions if t is not None]


def offline(transitions: list[Transition]) -> list[Transition]:
    return [t for t in transitions if t.to_mode == "offline"]


def probes(outcome: ProbeOutcome, first: float, count: int) -> list[Observation]:
    """``count`` probes one probe interval apart (SOP 2A.2), from ``first``."""
    return [ApiProbe(first + i * PROBE_EVERY, outcome) for i in range(count)]


# ---- worked examples ---------------------------------------------------------------------


def test_killed_dispatcher_is_declared_offline_at_the_silence_threshold() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    timeline = [Heartbeat(1.0), *probes("unreachable", 2.0, 20)]
    declared = offline(run(detector, timeline, until=1.0 + SILENCE + 1.0))
    assert len(declared) == 1
    assert 1.0 + SILENCE <= declared[0].at <= 1.0 + SILENCE + TICK
    assert declared[0].trigger == "scenario_a"
    failed = sum(1 for obs in timeline if isinstance(obs, ApiProbe) and obs.at <= declared[0].at)
    assert f"{failed} consecutive API failures" in declared[0].reason
    assert detector.state.detected_at == declared[0].at


def test_silence_alone_never_declares_offline() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    timeline = probes("ok", 1.0, 40)
    assert offline(run(detector, timeline, until=40.0)) == []


def test_short_outage_never_declares_offline() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    # Probes fail for 14 minutes, then a valid heartbeat arrives before the 15 are up.
    timeline = [Heartbeat(0.0), *probes("timeout", 1.0, 13), Heartbeat(SILENCE - 0.5)]
    transitions = run(detector, timeline, until=SILENCE + 5.0)
    assert offline(transitions) == []
    assert detector.state.mode == "suspect"


def test_two_failed_probes_are_not_enough() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    timeline = [*probes("server_error", 1.0, FAILURES - 1), ApiProbe(5.0, "ok")]
    timeline += probes("server_error", 6.0, FAILURES - 1)
    assert offline(run(detector, timeline, until=SILENCE + 10.0)) == []
    assert detector.state.consecutive_api_failures == FAILURES - 1


@pytest.mark.parametrize("alive", ["running", "stopped"])
def test_live_co_located_process_blocks_scenario_a(alive: ProcessState) -> None:
    detector = Detector(POLICY, co_located=True, start=0.0)
    timeline = [*probes("timeout", 1.0, 30), ProcessCheck(2.0, alive)]
    assert offline(run(detector, timeline, until=30.0)) == []


@pytest.mark.parametrize("gone", sorted(GONE_STATES))
def test_dead_or_zombie_co_located_process_completes_scenario_a(gone: ProcessState) -> None:
    detector = Detector(POLICY, co_located=True, start=0.0)
    timeline = [*probes("unreachable", 1.0, 30), ProcessCheck(SILENCE + 2.0, gone)]
    declared = offline(run(detector, timeline, until=30.0))
    assert [(t.at, t.trigger) for t in declared] == [(SILENCE + 2.0, "scenario_a")]
    assert f"dispatcher process {gone}" in declared[0].reason


def test_no_process_check_yet_blocks_scenario_a_when_co_located() -> None:
    detector = Detector(POLICY, co_located=True, start=0.0)
    assert offline(run(detector, probes("unreachable", 1.0, 30), until=30.0)) == []


def test_invalid_heartbeats_do_not_reset_the_silence() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    forged = [Heartbeat(float(m), valid=False) for m in range(1, 20)]
    declared = offline(run(detector, [*forged, *probes("timeout", 1.0, 20)], until=20.0))
    assert len(declared) == 1
    assert SILENCE <= declared[0].at <= SILENCE + TICK
    assert detector.state.last_heartbeat_at is None


def test_rate_limit_beyond_threshold_declares_scenario_b() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    timeline: list[Observation] = [Heartbeat(float(m)) for m in range(10)]
    timeline += [RateLimitReport(2.0, True), *probes("rate_limited", 2.5, 5)]
    declared = offline(run(detector, timeline, until=10.0))
    assert len(declared) == 1
    assert declared[0].trigger == "scenario_b"
    assert 2.0 + LIMITED <= declared[0].at <= 2.0 + LIMITED + TICK
    assert detector.state.rate_limited_since == 2.0


def test_rate_limit_shorter_than_threshold_never_declares() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    timeline: list[Observation] = [Heartbeat(float(m)) for m in range(12)]
    timeline += [RateLimitReport(2.0, True), RateLimitReport(2.0 + LIMITED - 0.1, False)]
    timeline += [RateLimitReport(6.0, True), ApiProbe(6.0 + LIMITED - 0.1, "ok")]
    assert offline(run(detector, timeline, until=12.0)) == []
    assert detector.state.mode == "online"


def test_both_scenarios_at_the_same_instant_name_scenario_a() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    # A's silence and B's duration are both reached at minute SILENCE.
    timeline = [*probes("server_error", 1.0, 20), RateLimitReport(SILENCE - LIMITED, True)]
    declared = offline(run(detector, timeline, until=SILENCE + 1.0))
    assert [(t.at, t.trigger) for t in declared] == [(SILENCE, "scenario_a")]


def test_threshold_crossed_between_ticks_is_declared_by_the_next_observation() -> None:
    # No tick between the crossing (3.0 after the run began) and the ok probe that ends it:
    # the SOP still says OFFLINE at the crossing, so the probe must not swallow it.
    detector = Detector(POLICY, co_located=False, start=0.0)
    assert detector.observe(ApiProbe(0.5, "rate_limited")) is not None  # online -> suspect
    late = 0.5 + LIMITED + TICK / 2
    declared = detector.observe(ApiProbe(late, "ok"))
    assert declared is not None
    assert (declared.to_mode, declared.trigger, declared.at) == ("offline", "scenario_b", late)
    recovered = detector.tick(late + TICK)
    assert recovered is not None
    assert recovered.to_mode == "recovering"


def test_heartbeats_during_a_rate_limit_storm_do_not_unlatch_offline() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    storm: list[Observation] = []
    for minute in range(12):
        # The dispatcher keeps sending valid heartbeats saying its provider rate-limits it.
        storm += [Heartbeat(float(minute)), RateLimitReport(float(minute), True)]
    transitions = run(detector, storm, until=11.5)
    assert [t.to_mode for t in transitions] == ["suspect", "offline"]
    ended = [Heartbeat(12.0), RateLimitReport(12.0, False)]
    transitions = run(detector, ended, until=12.0, start=12.0)
    assert [(t.from_mode, t.to_mode) for t in transitions] == [("offline", "recovering")]
    assert detector.state.trigger == "scenario_b"
    assert detector.state.detected_at == pytest.approx(LIMITED, abs=TICK)


def test_recovery_resync_and_a_second_outage() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    run(detector, probes("unreachable", 1.0, 20), until=SILENCE + 1.0)
    detected = detector.state.detected_at
    assert detector.state.mode == "offline"
    back = detector.observe(Heartbeat(SILENCE + 2.0))
    assert back is not None
    assert (back.from_mode, back.to_mode) == ("offline", "recovering")
    assert detector.state.detected_at == detected
    assert detector.state.trigger == "scenario_a"
    # Still recovering when the dispatcher dies again: OFFLINE again, from recovering.
    again = offline(
        run(detector, probes("unreachable", SILENCE + 3.0, 20), until=2 * SILENCE + 3.0)
    )
    assert len(again) == 1
    assert again[0].from_mode == "recovering"
    assert again[0].at >= SILENCE + 2.0 + SILENCE
    detector.observe(ApiProbe(2 * SILENCE + 4.0, "ok"))
    done = detector.resynced(2 * SILENCE + 5.0)
    assert (done.from_mode, done.to_mode) == ("recovering", "online")
    assert detector.state.detected_at is None
    assert detector.state.trigger is None


def test_resync_when_not_recovering_is_refused() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    with pytest.raises(DetectorError, match="only a recovering agent re-syncs"):
        detector.resynced(1.0)
    assert isinstance(DetectorError("x"), SopdrillError)
    assert detector.state.mode == "online"


def test_failed_probe_makes_suspect_and_an_answer_clears_it() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    suspect = detector.observe(ApiProbe(0.5, "timeout"))
    assert suspect is not None
    assert (suspect.to_mode, suspect.at) == ("suspect", 0.5)
    cleared = detector.observe(ApiProbe(1.0, "ok"))
    assert cleared is not None
    assert cleared.to_mode == "online"


def test_silence_above_two_heartbeat_intervals_makes_suspect() -> None:
    detector = Detector(POLICY, co_located=False, start=0.0)
    detector.observe(Heartbeat(1.0))
    assert detector.tick(1.0 + 2 * HEARTBEAT_EVERY) is None
    suspect = detector.tick(1.0 + 2 * HEARTBEAT_EVERY + TICK)
    assert suspect is not None
    assert suspect.to_mode == "suspect"


# ---- the stateful model ------------------------------------------------------------------


@dataclass
class Evidence:
    """The test's own account of what the detector has been told (a second, naive reading)."""

    start: float
    co_located: bool
    last_heartbeat: float | None = None
    failures: int = 0
    process: ProcessState | None = None
    limited_since: float | None = None
    answers: list[float] = field(default_factory=list)  # valid heartbeats and ok probes

    def copy(self) -> Evidence:
        return Evidence(
            self.start,
            self.co_located,
            self.last_heartbeat,
            self.failures,
            self.process,
            self.limited_since,
            list(self.answers),
        )

    def silence_since(self) -> float:
        return self.start if self.last_heartbeat is None else self.last_heartbeat

    def a_holds(self, t: float) -> bool:
        gone = not self.co_located or self.process in GONE_STATES
        # Compared as "t >= mark + minutes", as the oracle does, so a crossing holds exactly.
        return self.failures >= FAILURES and gone and t >= self.silence_since() + SILENCE

    def b_holds(self, t: float) -> bool:
        return self.limited_since is not None and t >= self.limited_since + LIMITED

    def suspicious(self, t: float) -> bool:
        return (
            self.failures > 0
            or self.limited_since is not None
            or t - self.silence_since() > 2 * HEARTBEAT_EVERY
        )


class DetectorMachine(RuleBasedStateMachine):
    """Random observation streams; the detector must agree with the naive evidence account."""

    detector: Detector
    evidence: Evidence
    now: float

    @initialize(co_located=st.booleans(), start=st.sampled_from([0.0, 7.25, 1000.0]))
    def begin(self, co_located: bool, start: float) -> None:
        self.detector = Detector(POLICY, co_located=co_located, start=start)
        self.evidence = Evidence(start, co_located)
        self.now = start
        self.settled = True

    def _feed(self, obs: Observation) -> None:
        before = self.evidence.copy()
        state_before = self.detector.state
        self._fold(obs)
        transition = self.detector.observe(obs)
        self.settled = True
        if transition is not None:
            self._check(transition, state_before, before, self.evidence)

    def _fold(self, obs: Observation) -> None:
        ev = self.evidence
        if isinstance(obs, Heartbeat):
            ev.last_heartbeat = obs.at
            ev.answers.append(obs.at)
        elif isinstance(obs, ApiProbe):
            ev.failures = ev.failures + 1 if obs.outcome in FAILED_PROBES else 0
            if obs.outcome == "ok":
                ev.limited_since = None
                ev.answers.append(obs.at)
            elif obs.outcome == "rate_limited" and ev.limited_since is None:
                ev.limited_since = obs.at
        elif isinstance(obs, ProcessCheck):
            ev.process = obs.state
        elif not obs.limited:
            ev.limited_since = None
        elif ev.limited_since is None:
            ev.limited_since = obs.at

    def _check(
        self, tr: Transition, state_before: DetectorState, before: Evidence, after: Evidence
    ) -> None:
        note(f"transition {tr}")
        assert tr.from_mode == state_before.mode
        assert tr.at >= state_before.since
        if tr.to_mode == "offline":
            held = [ev for ev in (before, after) if ev.a_holds(tr.at) or ev.b_holds(tr.at)]
            assert held, f"offline declared while neither scenario held: {tr}"
            if tr.trigger == "scenario_a":
                # Never before the silence threshold, never while the co-located process lives.
                assert any(ev.a_holds(tr.at) for ev in held)
                assert any(tr.at >= ev.silence_since() + SILENCE for ev in held)
                if self.evidence.co_located:
                    assert any(ev.process in GONE_STATES for ev in held)
            else:
                assert tr.trigger == "scenario_b"
                assert any(ev.b_holds(tr.at) for ev in held)
        elif tr.to_mode == "recovering":
            detected = state_before.detected_at
            assert state_before.mode == "offline"
            assert detected is not None
            assert any(at >= detected for at in after.answers), "recovered without an answer"
            assert not after.a_holds(tr.at)
            assert not after.b_holds(tr.at)

    @rule(dt=st.sampled_from([0.0, 0.25, 1.0, 4.0]), valid=st.booleans())
    def heartbeat(self, dt: float, valid: bool) -> None:
        self.now += dt
        if valid:
            self._feed(Heartbeat(self.now))
            return
        before = self.detector.state
        assert self.detector.observe(Heartbeat(self.now, valid=False)) is None
        self.settled = self.settled and dt == 0.0  # nothing was evaluated at the new instant
        assert self.detector.state == before, "an invalid heartbeat changed the detector"

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0]), outcome=st.sampled_from(OUTCOMES))
    def probe(self, dt: float, outcome: ProbeOutcome) -> None:
        self.now += dt
        self._feed(ApiProbe(self.now, outcome))

    @rule(dt=st.sampled_from([0.0, 1.0]), process=st.sampled_from(PROCESS_STATES))
    def process_check(self, dt: float, process: ProcessState) -> None:
        self.now += dt
        self._feed(ProcessCheck(self.now, process))

    @rule(dt=st.sampled_from([0.0, 1.0, 2.5]), limited=st.booleans())
    def rate_limit_report(self, dt: float, limited: bool) -> None:
        self.now += dt
        self._feed(RateLimitReport(self.now, limited))

    @rule(dt=st.floats(min_value=0.0, max_value=8.0, allow_nan=False))
    def advance(self, dt: float) -> None:
        state_before = self.detector.state
        self.now += dt
        transition = self.detector.tick(self.now)
        self.settled = True
        if transition is not None:
            self._check(transition, state_before, self.evidence, self.evidence)
        if self.detector.state.mode == "offline":
            # Liveness of recovery: once answered and clear, a tick must move on.
            detected = self.detector.state.detected_at
            assert detected is not None
            answered = any(at >= detected for at in self.evidence.answers)
            clear = not (self.evidence.a_holds(self.now) or self.evidence.b_holds(self.now))
            assert not (answered and clear), "offline kept after the dispatcher answered"

    @precondition(lambda self: self.detector.state.mode == "recovering")
    @rule()
    def resync(self) -> None:
        transition = self.detector.resynced(self.now)
        assert (transition.from_mode, transition.to_mode) == ("recovering", "online")
        self.settled = False  # re-sync does not re-evaluate

    @precondition(lambda self: self.detector.state.mode != "recovering")
    @rule()
    def resync_out_of_turn(self) -> None:
        before = self.detector.state
        with pytest.raises(DetectorError):
            self.detector.resynced(self.now)
        assert self.detector.state == before

    @invariant()
    def mode_is_known(self) -> None:
        assert self.detector.state.mode in MODES

    @invariant()
    def counters_match_the_evidence(self) -> None:
        state, ev = self.detector.state, self.evidence
        assert state.consecutive_api_failures == ev.failures
        assert state.last_heartbeat_at == ev.last_heartbeat
        assert state.rate_limited_since == ev.limited_since

    @invariant()
    def a_scenario_holding_means_offline(self) -> None:
        ev = self.evidence
        if self.settled and (ev.a_holds(self.now) or ev.b_holds(self.now)):
            assert self.detector.state.mode == "offline"

    @invariant()
    def incident_fields_follow_the_mode(self) -> None:
        state = self.detector.state
        in_incident = state.mode in ("offline", "recovering")
        assert (state.detected_at is not None) == in_incident
        assert (state.trigger is not None) == in_incident

    @invariant()
    def suspect_means_evidence(self) -> None:
        state = self.detector.state
        if not self.settled or state.mode not in ("online", "suspect"):
            return
        assert (state.mode == "suspect") == self.evidence.suspicious(self.now)


DetectorMachine.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestDetectorMachine = DetectorMachine.TestCase


# ---- against the reference model ---------------------------------------------------------

# Observation instants on a 1/64-minute grid: exact in binary, so thresholds compare exactly.
GRID = 1 / 64


@st.composite
def timelines(draw: st.DrawFn) -> list[Observation]:
    """A timeline with one observation per instant, as the agent stamps them (never two alike).

    A live detector decides on what it has been told so far; the oracle sees every
    observation of an instant at once. The agent stamps each observation with its own
    clock reading, so instants are distinct and the two readings coincide.
    """
    # Weighted towards failing probes so that Scenario A (15 min of them) is reached often.
    kinds = st.sampled_from(["failure"] * 4 + ["probe"] * 2 + ["heartbeat", "process", "report"])
    steps = draw(st.lists(st.tuples(st.integers(1, 8 * 64), kinds), max_size=30))
    timeline: list[Observation] = []
    at = 0.0
    for gap, kind in steps:
        at += gap * GRID
        if kind == "failure":
            timeline.append(ApiProbe(at, draw(st.sampled_from(sorted(FAILED_PROBES)))))
        elif kind == "probe":
            timeline.append(ApiProbe(at, draw(st.sampled_from(OUTCOMES))))
        elif kind == "heartbeat":
            timeline.append(Heartbeat(at, draw(st.booleans())))
        elif kind == "process":
            timeline.append(ProcessCheck(at, draw(st.sampled_from(PROCESS_STATES))))
        else:
            timeline.append(RateLimitReport(at, draw(st.booleans())))
    return timeline


# Tick instants k * TICK are not on the grid; their rounding may land within an ulp-sized
# hair beyond oracle + TICK. A nanominute is far below any SOP-meaningful difference.
FLOAT_SLACK = 1e-9


@settings(deadline=None)
@given(timeline=timelines(), co_located=st.booleans())
def test_detector_declares_where_the_oracle_says(
    timeline: list[Observation], co_located: bool
) -> None:
    until = (timeline[-1].at if timeline else 0.0) + SILENCE + 1.0
    until = int(until / TICK) * TICK
    detector = Detector(POLICY, co_located=co_located, start=0.0)
    declared = offline(run(detector, timeline, until=until))
    verdict = first_offline(timeline, POLICY, co_located=co_located, start=0.0, until=until)
    note(f"oracle: {verdict}; detector: {declared[:1]}")
    event(f"oracle: {verdict.trigger or 'never'}")
    if verdict.offline_at is None:
        assert declared == []
        return
    assert declared, f"detector never declared; oracle: {verdict.reason}"
    first = declared[0]
    assert verdict.offline_at <= first.at <= verdict.offline_at + TICK + FLOAT_SLACK
    assert first.trigger == verdict.trigger
