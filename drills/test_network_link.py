"""Network faults on the agent -> dispatcher link (Toxiproxy): probe failures counted right.

Latency beyond the probe timeout and a ``timeout`` toxic make each SOP 2A.2 probe a
``timeout``; ``reset_peer`` makes it ``unreachable``. Over a held number of probe
intervals the agent must count one failure per interval (its own ``/metrics``), and must
not declare OFFLINE: heartbeats (dispatcher -> agent, not faulted) still arrive, so SOP
2A.1's silence never builds up. Skips when the topology does not route the agent's
dispatcher URL through a proxy.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import assert_never_offline, steady_state
from sop.observations import ApiProbe, Heartbeat, ProcessCheck
from sop.oracle import never_offline

#: Probe intervals the toxic is held for: enough for SOP 2A.2's run of failures.
EXTRA_INTERVALS = 1
#: How far beyond the probe timeout the injected latency goes.
LATENCY_TIMEOUTS = 4
#: Toxic -> the probe outcome it must produce (docs/architecture.md, detection semantics).
OUTCOMES = {"latency": "timeout", "timeout": "timeout", "reset_peer": "unreachable"}


def toxic_attributes(toxic: str, policy, clock) -> dict[str, int]:
    """Toxiproxy attributes (wall milliseconds) for ``toxic`` at this run's time scale."""
    if toxic == "latency":
        timeout_s = clock.wall_seconds(policy.deployment.api_probe_timeout_minutes)
        return {"latency": int(timeout_s * LATENCY_TIMEOUTS * 1000)}
    return {"timeout": 0}  # timeout: hold the data forever; reset_peer: reset at once


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.parametrize("toxic", sorted(OUTCOMES))
def test_link_toxic_counts_one_probe_failure_per_interval(
    toxic, policy, clock, evidence, probes, faults, sut
):
    """A toxic on the link: each probe interval counts one failure of the right kind."""
    rule = policy.scenario_a
    outcome = OUTCOMES[toxic]
    fault = faults.network(toxic, stream="downstream", **toxic_attributes(toxic, policy, clock))
    intervals = rule.api_failures + EXTRA_INTERVALS
    held = intervals * rule.api_probe_interval_minutes
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        before = probes.agent_probe_counts().get(outcome, 0.0)
        with fault:
            clock.hold(held, f"{toxic} on the agent -> dispatcher link")
            counted = probes.agent_probe_counts().get(outcome, 0.0) - before
        # One probe per interval; the interval in flight at either end may or may not count.
        assert intervals - 1 <= counted <= intervals + 1, (
            f"{toxic}: {counted:g} {outcome} probes counted in {intervals} probe intervals"
        )
        steady_state("after", probes, policy, evidence)
    beat = policy.deployment.heartbeat_interval_minutes
    timeline = [
        *(Heartbeat(n * beat) for n in range(int(held / beat) + 1)),
        *(ApiProbe(n * rule.api_probe_interval_minutes, outcome) for n in range(1, intervals + 1)),
        ProcessCheck(0.0, "running"),
    ]
    oracle_never = never_offline(timeline, policy, co_located=sut.dispatcher_co_located, until=held)
    assert_never_offline(f"network_{toxic}", watch, evidence, oracle_never)
