"""SOP 2A.1 "valid heartbeat": forged and replayed heartbeats must not keep the agent quiet.

The dispatcher is killed while a bad actor sends heartbeats signed with the wrong key and
replays a validly signed, outdated one. The agent must reject every one (none accepted)
and still declare OFFLINE inside the Scenario A window, as if they had never arrived.
"""

from __future__ import annotations

import pytest

from sop.observations import Heartbeat


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_forged_and_replayed_heartbeats_do_not_delay_detection(policy, drill, faults):
    """Forged and replayed heartbeats during an outage: all rejected, detection on time."""
    forged = faults.forged_heartbeat()
    replayed = faults.replayed_heartbeat()
    with drill.steady(), drill.inject(faults.kill("dispatcher")) as outage, forged, replayed:
        killed = outage.killed()
        # The bad actors' envelopes are invalid heartbeats: the oracle ignores them.
        noise = [
            Heartbeat(outage.began + n, valid=False)
            for n in range(int(policy.scenario_a.silence_minutes))
        ]
        drill.expect_offline("scenario_a", outage, lambda at: [*killed(at), *noise])
        for actor in (forged, replayed):
            assert actor.sent() > 1, f"{actor.name}: the bad actor must have kept sending"
            assert actor.accepted() == 0, f"{actor.name}: accepted {dict(actor.answers)}"
        assert all(a.startswith("401") for a in forged.answers), dict(forged.answers)
        assert all(a.startswith("409") for a in replayed.answers), dict(replayed.answers)
