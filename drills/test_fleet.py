"""A fleet (issue 12): the dispatcher killed under N agents that share it and one Discord bot.

Every agent must declare OFFLINE inside the Scenario A window of its own last heartbeat,
its alert must reach 0x01 exactly once although the one bot is rate limited by the storm
(each agent honours Discord's retry_after and, refused, goes on to Signal: SOP 3's order
of priority), and every agent must re-sync its log once the dispatcher is back (SOP 5).
The spread of detection and delivery over the fleet is in the report.

The fleet also tells the seeds' two severities of a silent agent apart: one agent of the
fleet silent while the others answer, and all of them silent at once.

Both backends host it: on docker each agent beyond the first is a container of its own
(fixtures/topology/docker_fleet.py). The fleet is ten agents on either (FLEET_DRILL_AGENTS,
fixtures/options.py): ten held on docker on the 2-core machine too (15 containers; OFFLINE
declared p50 15.10 / p99 15.11 SOP-min, alerts delivered p50 17.5 / max 20.0, the kill
drill 48 s), so no smaller size for docker is needed.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until


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


def open_silences(probes, since) -> dict[str, dict]:
    """Agent name (the dispatcher's) -> its open silence begun at or after ``since``."""
    found = {}
    for name, record in probes.dispatcher_agents().items():
        for silence in record.get("silences", []):
            began = datetime.fromisoformat(str(silence.get("since")))
            if began >= since and silence.get("until") is None:
                found[name] = silence
    return found


@pytest.mark.nightly
@pytest.mark.destructive
@pytest.mark.fleet
@pytest.mark.needs("fleet")
def test_one_silent_agent_of_a_fleet_is_p1_and_every_agent_silent_is_p0(
    drill, fleet, faults, probes, policy, clock
):
    """emergency-procedures.md "Severity Levels": one agent hung while the others answer is
    P1 "Agent unresponsive" in the dispatcher's record; every agent hung at once is P0 "All
    agents down" (cell0: P0 "Service down"), every open silence raised to it."""
    beat = policy.deployment.heartbeat_interval_minutes
    # A hung agent's heartbeat waits out its delivery timeout; the next round records it.
    within_s = clock.wall_seconds(2 * beat + DETECTION_TOLERANCE_MINUTES)
    # The dispatcher calls the first agent "agent" and the others by their program names.
    names = ["agent", *(member.name for member in fleet.members[1:])]
    unresponsive, all_down = (policy.severity_of(k) for k in ("agent_unresponsive", "agent_down"))
    with drill.steady(), ExitStack() as held:
        fleet.steady()
        wait_until(
            lambda: {n: r.get("status") for n, r in probes.dispatcher_agents().items()},
            lambda seen: seen == dict.fromkeys(names, "answering"),
            timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
            describe="the dispatcher hearing every agent of the fleet answer",
        )
        began = datetime.now(UTC)
        held.enter_context(faults.hang(names[1]))
        one = wait_until(
            lambda: open_silences(probes, began),
            lambda seen: names[1] in seen,
            timeout_s=within_s,
            describe=f"the dispatcher's record of {names[1]}'s silence",
        )
        assert set(one) == {names[1]}, "the others answer"
        assert one[names[1]]["severity"] == unresponsive, one
        for name in (names[0], *names[2:]):
            held.enter_context(faults.hang(name))
        every = wait_until(
            lambda: open_silences(probes, began),
            lambda seen: set(seen) == set(names),
            timeout_s=within_s,
            describe="every agent's silence recorded",
        )
        assert {n: s["severity"] for n, s in every.items()} == dict.fromkeys(names, all_down)
