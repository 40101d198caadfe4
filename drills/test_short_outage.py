"""SOP 2A.1: a dispatcher outage shorter than the silence threshold must NOT trigger.

The dispatcher is killed (probes fail, the process is dead: two of Scenario A's three
conditions) and started again well before ``silence_minutes`` pass. OFFLINE must never be
declared: an early alarm is a false positive and a failure.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import assert_never_offline, mark_heartbeat, sop_since, steady_state
from sop.observations import ApiProbe, Heartbeat, ProcessCheck
from sop.oracle import never_offline


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.smoke
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_short_outage_never_declares_offline(policy, clock, evidence, probes, faults, sut):
    """Dispatcher down for half the silence threshold: never OFFLINE."""
    rule = policy.scenario_a
    outage = rule.silence_minutes / 2  # well short of the threshold, probes fail meanwhile
    kill = faults.kill("dispatcher")
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        _, origin = mark_heartbeat(probes, policy)
        with kill:
            clock.hold(outage, "a dispatcher outage shorter than SOP 2A.1's silence")
        # The dispatcher's first heartbeat after its restart ends the silence.
        _, resumed_at = mark_heartbeat(probes, policy)
        resumed = sop_since(clock, origin, resumed_at)
        failures = [
            ApiProbe(n * rule.api_probe_interval_minutes, "unreachable")
            for n in range(1, int(outage / rule.api_probe_interval_minutes) + 1)
        ]
        timeline = [
            Heartbeat(0.0),
            *failures,
            ProcessCheck(0.0, "dead"),
            ProcessCheck(resumed, "running"),
            Heartbeat(resumed),
        ]
        oracle_never = never_offline(
            timeline, policy, co_located=sut.dispatcher_co_located, until=resumed
        )
        steady_state("after", probes, policy, evidence)
        assert_never_offline("short_outage", watch, evidence, oracle_never)
