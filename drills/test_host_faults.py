"""Whole-host faults on the dispatcher's host (Scenario A, dispatcher not co-located).

A partition (the control host cut off the network: the orphaned-child scenario of
emergency-procedures.md, the agent alone with its own host) and a frozen host (paused:
hung but alive). With the dispatcher on another host SOP 2A.3 does not apply, so 15
minutes of silence and three failed probes are enough: OFFLINE is due in the Scenario A
window, the alert goes out over the backchannel (still reachable) and the marker is
written. Once the host is back the agent recovers and re-syncs. These drills need hosts
that are machines of their own; a backend without them leaves them out.
"""

from __future__ import annotations

import pytest

from fixtures.waiting import wait_until

#: The host the dispatcher runs on, as the topology names it.
DISPATCHER_HOST = "control"
#: Fault -> (what the agent's probes see, what the dispatcher's process is meanwhile).
SEEN = {"partition": ("unreachable", "running"), "pause_host": ("timeout", "stopped")}


#: Every drill here: Scenario A with the dispatcher on a host of its own (container hosts).
pytestmark = [
    pytest.mark.nightly,
    pytest.mark.quarterly,
    pytest.mark.destructive,
    pytest.mark.scenario("A"),
    pytest.mark.test_plan(1, 2, 4, 5),
    pytest.mark.needs("containers"),
]


def _declared_in_window(kind, policy, clock, drill, probes, faults):
    """Inject ``kind`` on the dispatcher's host; OFFLINE in the oracle's window, alerted."""
    rule = policy.scenario_a
    timeout = policy.deployment.api_probe_timeout_minutes
    outcome, process = SEEN[kind]
    until = rule.silence_minutes + rule.api_probe_interval_minutes * rule.api_failures
    with drill.steady(), drill.inject(getattr(faults, kind)(DISPATCHER_HOST)) as outage:
        timeline = outage.failing(outcome, process, until)
        assert drill.offline_due(outage, timeline, until=until), (
            f"drill {kind}: the oracle says a {kind} of the dispatcher's host is never "
            "OFFLINE; this drill is for a dispatcher on its own host"
        )
        # A probe into a silent host fails when its timeout runs out, not at once.
        drill.expect_offline("scenario_a", outage, timeline, extra_minutes=timeout)
        # SOP 3.1: the backchannel is on another host, untouched by the fault.
        drill.expect_alert("scenario_a")
    # SOP 5: the host back, the agent recovers and re-syncs; nothing it logged is lost.
    wait_until(
        probes.dispatcher_log,
        lambda seen: seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher to hold the agent's emergency log entry for entry",
    )


def test_partitioned_dispatcher_host_is_declared_offline_in_window(
    policy, clock, drill, probes, faults
):
    """Control host cut off the network: OFFLINE in the Scenario A window, alert, re-sync."""
    _declared_in_window("partition", policy, clock, drill, probes, faults)


def test_paused_dispatcher_host_is_declared_offline_in_window(policy, clock, drill, probes, faults):
    """Control host frozen (hung but alive, not co-located): OFFLINE in the window."""
    _declared_in_window("pause_host", policy, clock, drill, probes, faults)
