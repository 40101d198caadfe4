"""A fleet (issue 12): the dispatcher killed under N agents that share it and one Discord bot.

Every agent must declare OFFLINE inside the Scenario A window of its own last heartbeat,
its alert must reach 0x01 exactly once although the one bot is rate limited by the storm
(each agent honours Discord's retry_after and, refused, goes on to Signal: SOP 3's order
of priority), and every agent must re-sync its log once the dispatcher is back (SOP 5).
The spread of detection and delivery over the fleet is in the report.
"""

from __future__ import annotations

import pytest


@pytest.mark.nightly
@pytest.mark.destructive
@pytest.mark.fleet
@pytest.mark.needs("fleet")
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 2, 4, 5)
def test_a_fleet_declares_offline_in_its_windows_alerts_once_each_and_resyncs(drill, fleet, faults):
    """Dispatcher killed under a fleet: each agent in its window, one alert each, re-synced."""
    with drill.steady(), fleet.watching():
        with drill.inject(faults.kill("dispatcher")) as outage:
            fleet.expect_offline("scenario_a", outage, outage.killed())
            fleet.expect_one_alert_each(outage)
        # The fault reverted: the dispatcher runs again.
        fleet.expect_resynced(outage)
    figures = fleet.record()
    assert figures["agents"] == len(fleet.members)
