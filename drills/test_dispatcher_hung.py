"""SOP 2A.3: the dispatcher is hung (SIGSTOP) but alive.

Heartbeats stop and probes time out, but the process is not dead or zombie. Scenario A
needs ALL its conditions: where the dispatcher is co-located with the agent, 2A.3 (dead
or zombie) never comes true, so OFFLINE must never be declared however long the silence
(the agent may be ``suspect``); where it runs on another host, 2A.3 does not apply and
OFFLINE is due in the Scenario A window. The topology says which; the oracle says when.
After SIGCONT the agent must come back online.
"""

from __future__ import annotations

import pytest

from drills.lifecycle import (
    DetectionJudge,
    assert_never_offline,
    injected_after_heartbeat,
    oracle_window,
    outage_timeline,
    steady_state,
)
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from sop.oracle import never_offline


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_hung_dispatcher_is_declared_offline_only_when_scenario_a_allows(
    policy, clock, evidence, probes, faults, sut
):
    """Dispatcher SIGSTOPped past the silence threshold: co-located, suspect and never
    OFFLINE (alive); on another host, OFFLINE in the Scenario A window."""
    rule = policy.scenario_a
    co_located = sut.dispatcher_co_located
    timeout = policy.deployment.api_probe_timeout_minutes
    hang = faults.hang("dispatcher")
    # Past the silence, past enough timed-out probes, past the window's far end.
    hold = (
        rule.silence_minutes
        + rule.api_probe_interval_minutes * (rule.api_failures + 1)
        + timeout
        + DETECTION_TOLERANCE_MINUTES
    )
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with injected_after_heartbeat(hang, probes, policy) as silence:
            hung = silence.began_minutes

            def timeline(heartbeat_at):
                return outage_timeline(policy, heartbeat_at, hung, "timeout", "stopped", hold)

            window = oracle_window(timeline, silence.gap_minutes, policy, co_located=co_located)
            if window.latest.offline_at is None:
                oracle_never = never_offline(
                    timeline(0.0), policy, co_located=co_located, until=hold
                )
                clock.hold(hold, "dispatcher hung past the SOP 2A.1 silence threshold")
                assert probes.process_state(hang.pid) == "stopped", "the fault must still hold"
                assert_never_offline("dispatcher_hung", watch, evidence, oracle_never)
                assert probes.agent_state()["mode"] == "suspect", (
                    "a silent, timing-out dispatcher is evidence short of OFFLINE: suspect"
                )
            else:
                judge = DetectionJudge(watch, policy, clock, evidence)
                # A hung dispatcher's probe fails only when its timeout runs out.
                judge.await_offline(
                    "dispatcher_hung",
                    silence.origin_mono,
                    window,
                    "scenario_a",
                    extra_minutes=timeout,
                )
                assert probes.process_state(hang.pid) == "stopped", "hung, never dead"
    steady_state("after", probes, policy, evidence)
