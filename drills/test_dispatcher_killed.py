"""SOP 2A, Scenario A: the dispatcher is killed (kill -9) on the agent's host.

All three conditions come true: no valid heartbeat for ``silence_minutes``, the last
``api_failures`` probes failed, the co-located process is dead. OFFLINE must be declared
in the window, the SOP 3.1 alert delivered over Discord with host and reason, and the
SOP 3.3 marker written to the emergency log, before the dispatcher is started again.
"""

from __future__ import annotations

import pytest


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.smoke
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 2, 4)
def test_dispatcher_killed_declares_offline_in_window_and_alerts(drill, faults):
    """Dispatcher killed: OFFLINE in the Scenario A window, alert with host and reason, marker."""
    with drill.steady(), drill.inject(faults.kill("dispatcher")) as outage:
        drill.expect_offline("scenario_a", outage, outage.killed())
        # SOP 3.1: the alert reaches 0x01 over Discord, rendered from the SOP template.
        drill.expect_alert("scenario_a", channel="discord")
