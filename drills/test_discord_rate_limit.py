"""SOP 3.1 under Discord's rate limit: the agent honours ``retry_after`` and delivers once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fixtures.lifecycle import offline_by_storm, one_marker, steady_state
from fixtures.waiting import wait_until
from sop.references import NONE, Reference

#: Discord's own retry_after, in wall seconds (Discord's clock does not compress); within
#: any sane client's wait budget, long enough that an early retry is plain to see.
DISCORD_RETRY_AFTER_S = 2.0
#: The 429 applies to the alert's first request only.
RATE_LIMITED_REQUESTS = 1


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(4)
def test_discord_429_is_honoured_and_alert_delivered_once(policy, clock, evidence, probes, faults):
    """Discord answers 429 with retry_after: the agent waits it, then delivers exactly once."""
    host = faults.agent_host().hostname
    limit = faults.discord_rate_limit(RATE_LIMITED_REQUESTS, DISCORD_RETRY_AFTER_S)
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with limit, offline_by_storm(faults, watch, policy, clock):
            messages = wait_until(
                lambda: probes.sink_messages("discord"),
                timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes)
                + DISCORD_RETRY_AFTER_S,
                describe="the alert in the Discord stand-in's inbox after the 429",
            )
            entries = probes.emergency_log()
        steady_state("after", probes, policy, evidence)
    marker = one_marker(entries)
    # Re-synced by now: the episode's resolution may follow the alert (Notification Flow 5).
    told = [m["content"] for m in probes.sink_messages("discord")]
    reference = Reference(marker["correlation_id"], NONE)  # gate4 guardrail 4
    assert [t for t in told if not policy.is_resolution(t)] == [
        policy.reference.append(policy.render_alert(host, marker["reason"]), reference)
    ], "delivered exactly once"
    assert probes.sink_messages("signal") == [], "Discord delivered: no failover"
    limited = [e for e in entries if e.get("outcome") == "rate_limited"]
    assert len(limited) == RATE_LIMITED_REQUESTS
    assert limited[0]["retry_after"] == pytest.approx(DISCORD_RETRY_AFTER_S)
    # The stand-in's own clock says when the message arrived; the log says when the 429 was.
    waited = datetime.fromisoformat(messages[0]["received_at"]) - datetime.fromisoformat(
        limited[0]["at"]
    )
    assert waited >= timedelta(seconds=DISCORD_RETRY_AFTER_S), (
        f"retried {waited.total_seconds():.2f} s after the 429, retry_after was "
        f"{DISCORD_RETRY_AFTER_S:g} s"
    )
