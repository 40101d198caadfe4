"""SOP 2B, Scenario B: the model provider rate-limits the dispatcher (429 storm).

Longer than ``rate_limited_minutes``: OFFLINE in the window with trigger scenario_b and the
alert delivered. Shorter: no alarm at all. The harness sees the storm reach the dispatcher
itself, by probing the dispatcher's ``/v1/status`` (429 "Rate Limit Exceeded").
"""

from __future__ import annotations

import time

import pytest

from fixtures.lifecycle import (
    DetectionJudge,
    assert_never_offline,
    delivered_alerts,
    marker_entries,
    one_marker,
    oracle_window,
    sop_since,
    steady_state,
    storm_offline_within,
)
from fixtures.waiting import wait_until
from sop.observations import RateLimitReport
from sop.oracle import never_offline
from sop.references import NONE, Reference

#: The dispatcher's answer while its provider rate-limits it (SOP 2B).
TOO_MANY_REQUESTS = 429
#: Heartbeats the storm outlasts the declaration by: each must leave OFFLINE latched.
LATCHED_BEATS = 2


def first_seen(probes, policy, status: int) -> tuple[float, float]:
    """(last poll that did not see ``status``, first that did) on the dispatcher's API,
    within two heartbeat intervals (the dispatcher calls its provider with each heartbeat)."""
    within_minutes = 2 * policy.deployment.heartbeat_interval_minutes
    previous = time.monotonic()

    def look() -> int | None:
        nonlocal previous
        seen = probes.dispatcher_status()
        if seen != status:
            previous = time.monotonic()
        return seen

    wait_until(
        look,
        lambda seen: seen == status,
        timeout_s=probes.clock.wall_seconds(within_minutes),
        interval_s=probes.poll_interval_s,
        describe=f"the dispatcher's /v1/status to answer {status}",
    )
    return previous, time.monotonic()


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.smoke
@pytest.mark.destructive
@pytest.mark.scenario("B")
@pytest.mark.test_plan(2)
def test_storm_longer_than_threshold_declares_offline(policy, clock, evidence, probes, faults, sut):
    """429 storm past SOP 2B's threshold: OFFLINE (scenario_b) in the window, alert sent."""
    storm = faults.provider_storm()
    host = faults.agent_host().hostname
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with storm:
            lower, upper = first_seen(probes, policy, TOO_MANY_REQUESTS)
            gap = sop_since(clock, lower, upper)
            window = oracle_window(
                lambda reported_at: [RateLimitReport(reported_at, True)],
                gap,
                policy,
                co_located=sut.dispatcher_co_located,
            )
            judge = DetectionJudge(watch, policy, clock, evidence)
            judge.await_offline(
                "provider_storm_long",
                upper,
                window,
                "scenario_b",
                wait_minutes=storm_offline_within(policy),
            )
            messages = delivered_alerts(probes, policy, clock)
            marker = one_marker(probes.emergency_log())
            assert marker["trigger"] == "scenario_b"
            alert = policy.render_alert(host, marker["reason"])
            reference = Reference(marker["correlation_id"], NONE)  # gate4 guardrail 4
            assert [m["content"] for m in messages] == [policy.reference.append(alert, reference)]
            # SOP 2B: the dispatcher's heartbeats keep coming through the storm; they prove
            # it reachable, not the provider back: OFFLINE latches while the storm goes on.
            beat = policy.deployment.heartbeat_interval_minutes
            clock.hold(LATCHED_BEATS * beat, "heartbeats arriving while the 429 storm goes on")
            declared = watch.first("offline", after_mono=upper)
            assert declared is not None, "OFFLINE was seen above"
            left = [c.mode for c in watch.changes if c.at_mono > declared.at_mono]
            assert left == [], f"OFFLINE left during the storm: {left}"
    steady_state("after", probes, policy, evidence)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("B")
def test_storm_shorter_than_threshold_raises_no_alarm(policy, clock, evidence, probes, faults, sut):
    """429 storm that ends before SOP 2B's threshold: never OFFLINE, no alert."""
    storm = faults.provider_storm()
    held = policy.scenario_b.rate_limited_minutes / 2  # well short of "more than 3 minutes"
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with storm:
            _, origin = first_seen(probes, policy, TOO_MANY_REQUESTS)
            clock.hold(held, "a 429 storm shorter than SOP 2B's threshold")
        _, ended_at = first_seen(probes, policy, 200)
        ended = sop_since(clock, origin, ended_at)
        timeline = [RateLimitReport(0.0, True), RateLimitReport(ended, False)]
        oracle_never = never_offline(
            timeline, policy, co_located=sut.dispatcher_co_located, until=ended
        )
        steady_state("after", probes, policy, evidence)
        assert_never_offline("provider_storm_short", watch, evidence, oracle_never)
        assert probes.sink_messages("discord") == [], "no alarm: nothing sent to 0x01"
        assert marker_entries(probes.emergency_log()) == []
