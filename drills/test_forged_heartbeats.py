"""SOP 2A.1 "valid heartbeat": forged and replayed heartbeats must not keep the agent quiet.

The dispatcher is killed while a bad actor sends heartbeats signed with the wrong key and
replays a validly signed, outdated one. The agent must reject every one (none accepted)
and still declare OFFLINE inside the Scenario A window, as if they had never arrived.
"""

from __future__ import annotations

import pytest

from drills.lifecycle import (
    DetectionJudge,
    injected_after_heartbeat,
    oracle_window,
    scenario_a_timeline,
    steady_state,
)
from sop.observations import Heartbeat


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_forged_and_replayed_heartbeats_do_not_delay_detection(
    policy, clock, evidence, probes, faults, sut
):
    """Forged and replayed heartbeats during an outage: all rejected, detection on time."""
    kill = faults.kill("dispatcher")
    forged = faults.forged_heartbeat()
    replayed = faults.replayed_heartbeat()
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with injected_after_heartbeat(kill, probes, policy) as silence, forged, replayed:
            killed = silence.began_minutes
            # The bad actors' envelopes are invalid heartbeats: the oracle ignores them.
            noise = [
                Heartbeat(killed + n, valid=False)
                for n in range(int(policy.scenario_a.silence_minutes))
            ]
            window = oracle_window(
                lambda heartbeat_at: [*scenario_a_timeline(policy, heartbeat_at, killed), *noise],
                silence.gap_minutes,
                policy,
                co_located=sut.dispatcher_co_located,
            )
            judge = DetectionJudge(watch, policy, clock, evidence)
            judge.await_offline("forged_heartbeats", silence.origin_mono, window, "scenario_a")
            for actor in (forged, replayed):
                assert actor.sent() > 1, f"{actor.name}: the bad actor must have kept sending"
                assert actor.accepted() == 0, f"{actor.name}: accepted {dict(actor.answers)}"
            assert all(a.startswith("401") for a in forged.answers), dict(forged.answers)
            assert all(a.startswith("409") for a in replayed.answers), dict(replayed.answers)
    steady_state("after", probes, policy, evidence)
