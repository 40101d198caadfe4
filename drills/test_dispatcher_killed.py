"""SOP 2A, Scenario A: the dispatcher is killed (kill -9) on the agent's host.

All three conditions come true: no valid heartbeat for ``silence_minutes``, the last
``api_failures`` probes failed, the co-located process is dead. OFFLINE must be declared
in the window, the SOP 3.1 alert delivered over Discord with host and reason, and the
SOP 3.3 marker written to the emergency log, before the dispatcher is started again.
"""

from __future__ import annotations

import pytest

from drills.lifecycle import (
    DetectionJudge,
    delivered_alerts,
    injected_after_heartbeat,
    marker_entries,
    oracle_window,
    scenario_a_timeline,
    steady_state,
)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.smoke
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 2, 4)
def test_dispatcher_killed_declares_offline_in_window_and_alerts(
    policy, clock, evidence, probes, faults, sut
):
    """Dispatcher killed: OFFLINE in the Scenario A window, alert with host and reason, marker."""
    kill = faults.kill("dispatcher")
    host = faults.agent_host().hostname
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with injected_after_heartbeat(kill, probes, policy) as silence:
            window = oracle_window(
                lambda heartbeat_at: scenario_a_timeline(
                    policy, heartbeat_at, silence.began_minutes
                ),
                silence.gap_minutes,
                policy,
                co_located=sut.dispatcher_co_located,
            )
            judge = DetectionJudge(watch, policy, clock, evidence)
            judge.await_offline("dispatcher_killed", silence.origin_mono, window, "scenario_a")
            # SOP 3.1: the alert reaches 0x01 over Discord, rendered from the SOP template.
            messages = delivered_alerts(probes, policy, clock)
            markers = marker_entries(probes.emergency_log())
            assert len(markers) == 1, f"expected one SOP 3.3 marker, found {markers}"
            marker = markers[0]
            assert marker["trigger"] == "scenario_a"
            assert marker["host"] == host
            assert marker["reason"], "the marker must say why (SOP 3.3)"
            expected = policy.render_alert(host, marker["reason"])
            assert [m["content"] for m in messages] == [expected]
            assert probes.sink_messages("signal") == [], "Discord delivered: Signal stays quiet"
    steady_state("after", probes, policy, evidence)
