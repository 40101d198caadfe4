"""SOP 3: the alert goes Discord DM first, Signal if Discord fails, and always a local marker.

Discord down: the alert arrives over Signal, exactly once. Both down: nothing arrives, but
the marker and every failed attempt are on disk, the chain intact, and after recovery the
dispatcher holds the same log entry for entry: nothing the agent did is lost.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import offline_by_storm, one_marker, steady_state
from fixtures.waiting import wait_until
from sop.references import NONE, Reference


def notifications(entries, channel):
    """The emergency log's notification attempts on ``channel``."""
    return [e for e in entries if e.get("kind") == "notification" and e.get("channel") == channel]


#: Every drill of this module: SOP section 6 step 4 (the backchannels), nightly and quarterly.
pytestmark = [
    pytest.mark.nightly,
    pytest.mark.quarterly,
    pytest.mark.destructive,
    pytest.mark.test_plan(4),
]


@pytest.mark.smoke
def test_discord_down_fails_over_to_signal(policy, clock, evidence, probes, faults):
    """Discord down during the alert: delivered once over Signal, each attempt logged."""
    host = faults.agent_host().hostname
    discord_down = faults.discord_down()
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with discord_down, offline_by_storm(faults, watch, policy, clock):
            messages = wait_until(
                lambda: probes.sink_messages("signal"),
                timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
                describe="the SOP 3.2 alert in the Signal stand-in's inbox",
            )
            entries = probes.emergency_log()
            marker = one_marker(entries)
            reference = Reference(marker["correlation_id"], NONE)  # gate4 guardrail 4
            assert [m["body"]["message"] for m in messages] == [
                policy.reference.append(policy.render_alert(host, marker["reason"]), reference)
            ]
            tried = notifications(entries, "discord")
            assert tried, "the Discord attempt must be logged before Signal (SOP 3.1 first)"
            assert all(e["outcome"] != "delivered" for e in tried)
            assert [e["outcome"] for e in notifications(entries, "signal")] == ["delivered"]
            assert entries.index(marker) < entries.index(tried[0]), "marker first (SOP 3.3)"
    steady_state("after", probes, policy, evidence)
    # The alert once; once re-synced the episode's resolution follows it there (Notification
    # Flow 5, drilled in drills/test_recovery_resync.py).
    alerts = [m for m in probes.sink_messages("signal") if policy.is_alert(m["body"]["message"])]
    assert len(alerts) == 1, "delivered once, never repeated"


def test_both_channels_down_leaves_marker_and_loses_nothing(
    policy, clock, evidence, probes, faults
):
    """Discord and Signal down: marker and failed attempts on disk; re-sync carries them all."""
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with (
            faults.discord_down(),
            faults.signal_down(),
            offline_by_storm(faults, watch, policy, clock),
        ):
            entries = wait_until(
                probes.emergency_log,
                lambda seen: notifications(seen, "signal"),
                timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
                describe="the Signal attempt in the emergency log (both channels tried)",
            )
            marker = one_marker(entries)
            assert marker["trigger"] == "scenario_b"
            assert marker["reason"]
            attempts = notifications(entries, "discord") + notifications(entries, "signal")
            assert attempts
            assert all(e["outcome"] == "failed" for e in attempts)
        steady_state("after", probes, policy, evidence)
    on_disk = probes.emergency_log()
    assert on_disk[: len(entries)] == entries, "nothing written during the outage was lost"
    received = wait_until(
        probes.dispatcher_log,
        lambda seen: seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher to hold the agent's emergency log entry for entry",
    )
    assert marker in received
