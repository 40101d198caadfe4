"""SOP 2A.3: the dispatcher is hung (SIGSTOP) but alive on the agent's host.

Heartbeats stop and probes time out, but the co-located process is not dead or zombie:
Scenario A needs ALL its conditions, so OFFLINE must never be declared, however long the
silence. The agent may be ``suspect``; after SIGCONT it must come back online.
"""

from __future__ import annotations

import pytest

from drills.lifecycle import assert_never_offline, mark_heartbeat, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from sop.observations import ApiProbe, Heartbeat, ProcessCheck
from sop.oracle import never_offline


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_hung_dispatcher_is_never_declared_offline(policy, clock, evidence, probes, faults):
    """Dispatcher SIGSTOPped past the silence threshold: suspect, never OFFLINE (alive)."""
    rule = policy.scenario_a
    hang = faults.hang("dispatcher")
    # Past the silence, past enough timed-out probes, past the window's far end.
    hold = (
        rule.silence_minutes
        + rule.api_probe_interval_minutes * (rule.api_failures + 1)
        + policy.deployment.api_probe_timeout_minutes
        + DETECTION_TOLERANCE_MINUTES
    )
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        mark_heartbeat(probes, policy)
        with hang:
            timeline = [
                Heartbeat(0.0),
                *(
                    ApiProbe(n * rule.api_probe_interval_minutes, "timeout")
                    for n in range(1, int(hold / rule.api_probe_interval_minutes) + 1)
                ),
                ProcessCheck(0.0, "stopped"),
            ]
            oracle_never = never_offline(timeline, policy, co_located=True, until=hold)
            clock.hold(hold, "dispatcher hung past the SOP 2A.1 silence threshold")
            assert probes.process_state(hang.pid) == "stopped", "the fault must still hold"
            assert_never_offline("dispatcher_hung", watch, evidence, oracle_never)
            assert probes.agent_state()["mode"] == "suspect", (
                "a silent, timing-out dispatcher is evidence short of OFFLINE: suspect"
            )
    steady_state("after", probes, policy, evidence)
