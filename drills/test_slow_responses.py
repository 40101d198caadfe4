"""emergency-procedures.md P2: slow inference and network latency, counted as SOP 2A.2 says.

SOP 2A.2 counts a direct API call to the dispatcher that "return[s] 5xx errors or time[s]
out"; a slow answer is an answer. So:

* the dispatcher's API slower than the agent's probe timeout
  (``deployment.api_probe_timeout_minutes``), latency on the agent -> dispatcher link, is
  one failure per probe interval; with the heartbeats cut as well (SOP 2A.1's silence
  holds) OFFLINE is due in the Scenario A window, late by one probe timeout, wherever
  SOP 2A.3 allows it (the dispatcher's process is alive: co-located, never);
* the dispatcher's API slow but answering within the timeout counts nothing: with the
  heartbeats cut, no OFFLINE, no alert, on any topology;
* the model provider slow (inference beyond its timeout) is no outage of the dispatcher,
  whose API and heartbeats carry on: no OFFLINE, no alert.

The probe counts are the agent's own (``/metrics``); the verdicts on OFFLINE and alerts are
the harness's (mode watch, sinks, emergency log) and the reference model's.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import httpx
import pytest

from fixtures.tolerance import held_past_detection
from fixtures.waiting import wait_until
from sop.observations import ApiProbe, Heartbeat, ProcessCheck

#: Latency beyond the probe timeout, in probe timeouts: a probe meets its timeout for sure.
BEYOND_TIMEOUTS = 4
#: Latency under the probe timeout, as a share of it: slow (hundreds of times a healthy
#: answer on 127.0.0.1), and the rest of the timeout left for a loaded 2-core machine.
UNDER_TIMEOUT = 0.5


def latency_ms(policy, clock, timeouts: float) -> int:
    """Toxiproxy latency (wall milliseconds) of ``timeouts`` probe timeouts at this scale."""
    return int(clock.wall_seconds(policy.deployment.api_probe_timeout_minutes) * timeouts * 1000)


def counted_per_interval(counted: float, elapsed_minutes: float, policy) -> None:
    """One probe per interval over ``elapsed_minutes``; the ones in flight at either end
    may or may not have been counted (SOP 2A.2's cadence)."""
    intervals = elapsed_minutes / policy.scenario_a.api_probe_interval_minutes
    assert intervals - 2 <= counted <= intervals + 1, (
        f"{counted:g} probe timeouts counted in {intervals:.1f} probe intervals"
    )


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_dispatcher_slower_than_the_probe_timeout_counts_as_failures(
    policy, clock, drill, probes, faults
):
    """Latency beyond the probe timeout with the heartbeats cut: a timeout per interval,
    and OFFLINE in the Scenario A window where SOP 2A.3 allows (never when co-located)."""
    timeout = policy.deployment.api_probe_timeout_minutes
    hold = held_past_detection(policy)
    slow = faults.network("latency", latency=latency_ms(policy, clock, BEYOND_TIMEOUTS))
    with drill.steady(), ExitStack() as held:
        before = probes.agent_probe_counts().get("timeout", 0.0)
        held.enter_context(slow)
        started = time.monotonic()
        outage = held.enter_context(drill.inject(faults.link_down(("agent_inbox",))))
        timeline = outage.failing("timeout", "running", hold)
        if drill.offline_due(outage, timeline, until=hold):
            drill.expect_offline("scenario_a", outage, timeline, extra_minutes=timeout)
            drill.expect_alert("scenario_a", channel="discord")
        else:
            drill.expect_no_offline(timeline(0.0), hold, "API timing out, silence, alive")
            assert probes.agent_state()["mode"] == "suspect", (
                "timed-out probes and silence are evidence short of OFFLINE: suspect"
            )
        counted = probes.agent_probe_counts().get("timeout", 0.0) - before
        counted_per_interval(counted, clock.sop_minutes(time.monotonic() - started), policy)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_dispatcher_slow_but_answering_within_the_timeout_counts_nothing(
    policy, clock, drill, probes, faults
):
    """Latency under the probe timeout with the heartbeats cut past the silence: every probe
    is an answer, SOP 2A.2 never holds: no OFFLINE, no alert, no timeout counted."""
    rule = policy.scenario_a
    hold = held_past_detection(policy)
    slow = faults.network("latency", latency=latency_ms(policy, clock, UNDER_TIMEOUT))
    with drill.steady(), ExitStack() as held:
        before = probes.agent_probe_counts()
        held.enter_context(slow)
        held.enter_context(drill.inject(faults.link_down(("agent_inbox",))))
        count = int(hold / rule.api_probe_interval_minutes)
        timeline = [
            Heartbeat(0.0),
            *(ApiProbe(n * rule.api_probe_interval_minutes, "ok") for n in range(1, count + 1)),
            ProcessCheck(0.0, "running"),
        ]
        drill.expect_no_offline(timeline, hold, "the dispatcher's API slow but answering")
        after = probes.agent_probe_counts()
    failed = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("timeout", "unreachable")}
    assert failed == {"timeout": 0.0, "unreachable": 0.0}, f"slow answers counted: {failed}"
    answered = after.get("ok", 0.0) - before.get("ok", 0.0)
    assert answered >= count - 2, f"{answered:g} slow answers counted as ok in {count} intervals"


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
def test_slow_inference_is_no_outage_of_the_dispatcher(policy, clock, drill, probes, faults, sut):
    """The model provider slower than its timeout: the dispatcher reports it and keeps
    answering and heartbeating; no OFFLINE, no alert (SOP 2 counts the dispatcher)."""
    rule = policy.scenario_a
    beat = policy.deployment.heartbeat_interval_minutes
    hold = held_past_detection(policy)
    delay_s = clock.wall_seconds(policy.deployment.api_probe_timeout_minutes) * BEYOND_TIMEOUTS
    with drill.steady(), drill.inject(faults.provider_slow(delay_s)):
        # The harness's own look at the dispatcher: its provider calls now time out.
        wait_until(
            lambda: httpx.get(f"{sut.dispatcher}/v1/status", timeout=2.0, trust_env=False),
            lambda answer: answer.json().get("provider") == "error",
            timeout_s=clock.wall_seconds(2 * beat + policy.deployment.api_probe_timeout_minutes),
            describe="the dispatcher to report its slow provider as failing",
            ignore=(httpx.HTTPError, ValueError),
        )
        timeline = [
            *(Heartbeat(n * beat) for n in range(int(hold / beat) + 1)),
            *(ApiProbe(n * rule.api_probe_interval_minutes, "ok") for n in range(1, 4)),
            ProcessCheck(0.0, "running"),
        ]
        drill.expect_no_offline(timeline, hold, "slow inference at the dispatcher's provider")
