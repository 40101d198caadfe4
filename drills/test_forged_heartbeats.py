"""SOP 2A.1 "valid heartbeat": forged, replayed and stale heartbeats must not keep the agent quiet.

The dispatcher is killed while bad actors send heartbeats signed with the wrong key,
replay a validly signed, outdated one, send validly signed ones older than the maximum
age (a heartbeat delayed on the network), and send one genuine heartbeat, then replay
that latest envelope again and again. The agent must reject every invalid one and still
declare OFFLINE inside the Scenario A window counted from the genuine one, as if the
others had never arrived.
"""

from __future__ import annotations

import pytest

from sop.observations import Heartbeat

#: How often per heartbeat interval the latest envelope is replayed.
REPLAYS_PER_INTERVAL = 10


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_forged_and_replayed_heartbeats_do_not_delay_detection(policy, clock, drill, faults):
    """Forged, replayed and stale heartbeats during an outage: all rejected, detection on
    time; one genuine heartbeat counts once, and its replays never."""
    beat = policy.deployment.heartbeat_interval_minutes
    forged = faults.forged_heartbeat()
    replayed = faults.replayed_heartbeat()
    stale = faults.stale_heartbeat()
    # Often enough that a replay accepted while still young would push detection late.
    latest = faults.replayed_latest(every_sop_minutes=beat / REPLAYS_PER_INTERVAL)
    kill = faults.kill("dispatcher")
    with drill.steady(), drill.inject(kill) as outage, forged, replayed, stale, latest:
        killed = outage.killed()
        # The one genuine heartbeat the replayer sent first is the last valid one.
        genuine = clock.sop_minutes(latest.injected_at_mono - outage.origin_mono)
        # The bad actors' envelopes are invalid heartbeats: the oracle ignores them.
        noise = [
            Heartbeat(outage.began + n, valid=False)
            for n in range(int(policy.scenario_a.silence_minutes))
        ]
        drill.expect_offline(
            "scenario_a", outage, lambda at: [*killed(at), Heartbeat(genuine), *noise]
        )
        for actor in (forged, replayed, stale, latest):
            assert actor.sent() > 1, f"{actor.name}: the bad actor must have kept sending"
        for actor in (forged, replayed, stale):
            assert actor.accepted() == 0, f"{actor.name}: accepted {dict(actor.answers)}"
        assert latest.accepted() == 1, f"the genuine one only: {dict(latest.answers)}"
        assert all(a.startswith("401") for a in forged.answers), dict(forged.answers)
        assert all(a.startswith("409") for a in replayed.answers), dict(replayed.answers)
        assert all(a.startswith("409 stale") for a in stale.answers), dict(stale.answers)
        assert all(a.startswith(("202", "409")) for a in latest.answers), dict(latest.answers)
