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

from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_hung_dispatcher_is_declared_offline_only_when_scenario_a_allows(
    policy, drill, probes, faults
):
    """Dispatcher SIGSTOPped past the silence threshold: co-located, suspect and never
    OFFLINE (alive); on another host, OFFLINE in the Scenario A window."""
    rule = policy.scenario_a
    timeout = policy.deployment.api_probe_timeout_minutes
    # Past the silence, past enough timed-out probes, past the window's far end.
    hold = (
        rule.silence_minutes
        + rule.api_probe_interval_minutes * (rule.api_failures + 1)
        + timeout
        + DETECTION_TOLERANCE_MINUTES
    )
    hang = faults.hang("dispatcher")
    with drill.steady(), drill.inject(hang) as outage:
        timeline = outage.failing("timeout", "stopped", hold)
        if not drill.offline_due(outage, timeline, until=hold):
            drill.expect_no_offline(timeline(0.0), hold, "dispatcher hung past the silence")
            assert probes.process_state(hang.pid) == "stopped", "the fault must still hold"
            assert probes.agent_state()["mode"] == "suspect", (
                "a silent, timing-out dispatcher is evidence short of OFFLINE: suspect"
            )
        else:
            # A hung dispatcher's probe fails only when its timeout runs out.
            drill.expect_offline("scenario_a", outage, timeline, extra_minutes=timeout)
            assert probes.process_state(hang.pid) == "stopped", "hung, never dead"
