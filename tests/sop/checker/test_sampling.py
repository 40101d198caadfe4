"""No false violation on a correct agent: its own probes run on another phase than the harness's.

The agent is simulated with its own observations (its probes at its own phase, every
heartbeat as it arrived) and declares where the reference model says on *them*; the
history holds only what the harness saw (its samples at its own phase and cadence, the
envelopes stamped a little late, modes polled). The checker must hold every such run.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sop.checker.detection import check_detection
from sop.history import DispatcherSample, EnvelopeRecord, History, ModeSample, Record
from sop.observations import ApiProbe, Heartbeat, Observation, ProcessCheck, RateLimitReport
from sop.oracle import first_offline
from sop.policy import load_policy

POLICY = load_policy()
HEARTBEAT = POLICY.deployment.heartbeat_interval_minutes
PROBE = POLICY.scenario_a.api_probe_interval_minutes
TICK = POLICY.deployment.detector_tick_minutes
END = 45.0


def _frange(start: float, step: float, end: float = END) -> list[float]:
    out, t = [], start
    while t < end:
        out.append(round(t, 6))
        t += step
    return out


@given(
    outage=st.floats(2.0, 25.0),
    storm=st.booleans(),
    co_located=st.booleans(),
    agent_phase=st.floats(0.0, PROBE, exclude_max=True),
    harness_phase=st.floats(0.0, 1.0, exclude_max=True),
    harness_every=st.sampled_from([0.5, 1.0]),
    poll=st.sampled_from([0.1, 0.25, 0.5]),
    stamp_delay=st.floats(0.0, 0.1),
    lag=st.floats(0.0, TICK),
)
def test_a_correct_agent_on_its_own_phase_holds(
    story: Any,
    outage: float,
    storm: bool,
    co_located: bool,
    agent_phase: float,
    harness_phase: float,
    harness_every: float,
    poll: float,
    stamp_delay: float,
    lag: float,
) -> None:
    def api(t: float) -> str:
        if t < outage:
            return "ok"
        return "rate_limited" if storm else "unreachable"

    def process(t: float) -> str:
        return "running" if storm or t < outage else "dead"

    beats = [t for t in _frange(0.0, HEARTBEAT) if storm or t < outage]
    seen: list[Observation] = []
    for t in beats:
        seen.append(Heartbeat(t, True))
        seen.append(RateLimitReport(t, storm and t >= outage))
    for t in _frange(agent_phase, PROBE):
        seen.append(ApiProbe(t, api(t)))  # type: ignore[arg-type]
        if co_located:
            seen.append(ProcessCheck(t, process(t)))  # type: ignore[arg-type]
    truth = first_offline(seen, POLICY, co_located=co_located)
    assert truth.offline_at is not None
    declared = truth.offline_at + lag

    records: list[Record] = []
    for seq, t in enumerate(beats):
        provider = "rate_limited" if storm and t >= outage else "ok"
        records.append(
            EnvelopeRecord(
                t + stamp_delay, "heartbeat", "dispatcher", True, f"hb{seq}", seq, t, provider
            )
        )
    for t in _frange(harness_phase, harness_every):
        state = process(t) if co_located else None
        records.append(DispatcherSample(t, api(t), state, f"api{t:g}"))  # type: ignore[arg-type]
    for t in _frange(0.0, poll):
        offline = t >= declared
        trigger = truth.trigger if offline else None
        records.append(ModeSample(t, "offline" if offline else "online", trigger, f"m{t:g}"))
    facts = story.facts.__class__(**{**story.facts.__dict__, "co_located": co_located})
    verdict = check_detection(History("sampled", facts, tuple(records)), POLICY)
    assert verdict.status == "held", verdict.describe()
