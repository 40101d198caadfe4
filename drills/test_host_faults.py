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

from drills.lifecycle import (
    DetectionJudge,
    delivered_alerts,
    injected_after_heartbeat,
    marker_entries,
    oracle_window,
    outage_timeline,
    steady_state,
)
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


def _declared_in_window(kind, policy, clock, evidence, probes, faults, sut):
    """Inject ``kind`` on the dispatcher's host; OFFLINE in the oracle's window, alerted."""
    rule = policy.scenario_a
    timeout = policy.deployment.api_probe_timeout_minutes
    fault = getattr(faults, kind)(DISPATCHER_HOST)
    outcome, process = SEEN[kind]
    co_located = sut.dispatcher_co_located
    host = faults.agent_host().hostname
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with injected_after_heartbeat(fault, probes, policy) as silence:
            began = silence.began_minutes
            until = rule.silence_minutes + rule.api_probe_interval_minutes * rule.api_failures

            def timeline(heartbeat_at):
                return outage_timeline(policy, heartbeat_at, began, outcome, process, until)

            window = oracle_window(timeline, silence.gap_minutes, policy, co_located=co_located)
            assert window.latest.offline_at is not None, (
                f"drill {kind}: the oracle says a {kind} of the dispatcher's host is never "
                f"OFFLINE ({window.latest.reason}); this drill is for a dispatcher on its own host"
            )
            judge = DetectionJudge(watch, policy, clock, evidence)
            # A probe into a silent host fails when its timeout runs out, not at once.
            judge.await_offline(
                f"dispatcher_host_{kind}",
                silence.origin_mono,
                window,
                "scenario_a",
                extra_minutes=timeout,
            )
            # SOP 3.1: the backchannel is on another host, untouched by the fault.
            messages = delivered_alerts(probes, policy, clock)
            (marker,) = marker_entries(probes.emergency_log())
            assert marker["trigger"] == "scenario_a"
            assert [m["content"] for m in messages] == [policy.render_alert(host, marker["reason"])]
    # SOP 5: the host back, the agent recovers and re-syncs; nothing it logged is lost.
    steady_state("after", probes, policy, evidence)
    wait_until(
        probes.dispatcher_log,
        lambda seen: seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher to hold the agent's emergency log entry for entry",
    )


def test_partitioned_dispatcher_host_is_declared_offline_in_window(
    policy, clock, evidence, probes, faults, sut
):
    """Control host cut off the network: OFFLINE in the Scenario A window, alert, re-sync."""
    _declared_in_window("partition", policy, clock, evidence, probes, faults, sut)


def test_paused_dispatcher_host_is_declared_offline_in_window(
    policy, clock, evidence, probes, faults, sut
):
    """Control host frozen (hung but alive, not co-located): OFFLINE in the window."""
    _declared_in_window("pause_host", policy, clock, evidence, probes, faults, sut)
