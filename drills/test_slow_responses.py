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
  whose API and heartbeats carry on: no OFFLINE, no alert;
* the Ollama on the agent's host slow, its health check answering past the P2 bound
  (cell0 "P2 - Slow Response Times": "API latency > 5 seconds", the policy's
  ``latency``) but within the check's timeout, is slow inference, a P2: one ``incident``
  entry in the emergency log and nothing more ("P2 -> Log and continue", "Log entry
  (P2/P3)"): no distress signal, no Gitea issue, no message to 0x01, no restart;
* the dispatcher's API slower than the same bound read on it (the policy's
  ``latency.network_latency_seconds``) but within the probe timeout, heartbeats flowing, is
  emergency-procedures.md's P2 "network latency": likewise one ``incident`` entry, nothing more.

The probe counts are the agent's own (``/metrics``); the verdicts on OFFLINE and alerts are
the harness's (mode watch, sinks, emergency log) and the reference model's.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import httpx
import pytest

from fixtures.gitea import GiteaClient
from fixtures.lifecycle import decisions, sop_since
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES, held_past_detection
from fixtures.waiting import wait_until
from sop.observations import ApiProbe, Heartbeat, ProcessCheck

#: Latency beyond the probe timeout, in probe timeouts: a probe meets its timeout for sure.
BEYOND_TIMEOUTS = 4
#: Latency under the probe timeout, as a share of it: slow (hundreds of times a healthy
#: answer on 127.0.0.1), and the rest of the timeout left for a loaded 2-core machine.
UNDER_TIMEOUT = 0.5
#: Where between the P2 bound and the health check's timeout Ollama's answer is put: halfway,
#: past the bound for sure and far from a timeout (that would be degraded, a P1 outage).
BETWEEN_BOUND_AND_TIMEOUT = 0.5


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


def slow_inference(entries):
    """The emergency log's slow_inference incident entries."""
    return [
        e for e in entries if e.get("kind") == "incident" and e.get("category") == "slow_inference"
    ]


def network_latency(entries):
    """The emergency log's network_latency incident entries."""
    return [
        e for e in entries if e.get("kind") == "incident" and e.get("category") == "network_latency"
    ]


def numbers(issues):
    """The numbers of Gitea issues (what a new one would change)."""
    return [i["number"] for i in issues]


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
def test_slow_inference_on_the_agents_host_is_one_p2_logged_and_nothing_more(
    policy, clock, drill, evidence, probes, faults, deployment
):
    """Ollama's health check slower than the P2 bound, within its timeout: one slow_inference
    incident, P2, in the emergency log; no distress signal, no Gitea issue, no message to
    0x01, no restart; still once after more rounds of it."""
    bound_sop_s = policy.latency.slow_inference_seconds
    timeout_sop_s = policy.deployment.api_probe_timeout_minutes * 60  # the check's timeout
    delay_sop_s = bound_sop_s + BETWEEN_BOUND_AND_TIMEOUT * (timeout_sop_s - bound_sop_s)
    # A remediation round sleeps its interval and waits for the slow check; the P2 comes
    # with the round of the slow_checks_in_a_row-th slow answer, one more round in flight.
    round_minutes = policy.deployment.remediation_interval_minutes + delay_sop_s / 60
    rounds = policy.latency.slow_checks_in_a_row + 1
    within = rounds * round_minutes + DETECTION_TOLERANCE_MINUTES
    assert deployment.credentials is not None, "the run's Gitea token reads the issues"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    slow = faults.ollama_slow(clock.wall_seconds(delay_sop_s / 60))
    with drill.steady():
        signals, issues = probes.dispatcher_incidents(), numbers(gitea.issues())
        told = probes.sink_messages("discord") + probes.sink_messages("signal")
        before = len(slow_inference(probes.emergency_log()))  # on an attached topology
        with slow:
            assert slow.injected_at_mono is not None
            entries = wait_until(
                probes.emergency_log,
                lambda seen: len(slow_inference(seen)) > before,
                timeout_s=clock.wall_seconds(within),
                describe="the slow_inference incident (P2) in the emergency log",
            )
            logged = sop_since(clock, slow.injected_at_mono, time.monotonic())
            evidence.record("note", "drill", p2_logged_sop_minutes=round(logged, 3))
            [incident] = slow_inference(entries)[before:]
            assert incident["severity"] == policy.severity_of("slow_inference")  # P2
            assert incident["component"] == "ollama", incident
            assert bound_sop_s < incident["latency_sop_seconds"] < timeout_sop_s, incident
            clock.hold(within, "more rounds with Ollama slow: no second P2, nothing else")
            assert len(slow_inference(probes.emergency_log())) == before + 1, "once an episode"
            assert probes.agent_state()["mode"] == "online"
        # "P2 -> Log and continue": the log entry alone.
        assert probes.dispatcher_incidents() == signals, "a P2 is no distress signal"
        assert numbers(gitea.issues()) == issues, "a P2 is no Gitea issue (P1 only)"
        assert probes.sink_messages("discord") + probes.sink_messages("signal") == told
        assert decisions(probes.emergency_log(), "restart_service") == [], "slow is not down"


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
def test_dispatcher_slower_than_the_p2_bound_is_one_network_latency_p2_and_nothing_more(
    policy, clock, drill, evidence, probes, faults, deployment
):
    """Latency on the agent -> dispatcher link past the P2 bound, within the probe timeout,
    heartbeats flowing: one network_latency incident, P2, in the emergency log (read from
    disk); no OFFLINE, no distress signal, no Gitea issue, no message to 0x01, no restart."""
    bound_sop_s = policy.latency.network_latency_seconds
    timeout_sop_s = policy.deployment.api_probe_timeout_minutes * 60  # the probe's timeout
    delay_sop_s = bound_sop_s + BETWEEN_BOUND_AND_TIMEOUT * (timeout_sop_s - bound_sop_s)
    # One probe per interval; the P2 comes with the slow_checks_in_a_row-th slow answer.
    rounds = policy.latency.slow_checks_in_a_row + 1
    within = rounds * policy.scenario_a.api_probe_interval_minutes + DETECTION_TOLERANCE_MINUTES
    assert deployment.credentials is not None, "the run's Gitea token reads the issues"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    # Toxiproxy's latency toxic delays the answer (downstream) by this many wall ms.
    slow = faults.network("latency", latency=int(clock.wall_seconds(delay_sop_s / 60) * 1000))
    with drill.steady():
        signals, issues = probes.dispatcher_incidents(), numbers(gitea.issues())
        told = probes.sink_messages("discord") + probes.sink_messages("signal")
        before = len(network_latency(probes.emergency_log()))
        with slow:
            began = time.monotonic()
            entries = wait_until(
                probes.emergency_log,
                lambda seen: len(network_latency(seen)) > before,
                timeout_s=clock.wall_seconds(within),
                describe="the network_latency incident (P2) in the emergency log",
            )
            logged = sop_since(clock, began, time.monotonic())
            evidence.record("note", "drill", p2_logged_sop_minutes=round(logged, 3))
            [incident] = network_latency(entries)[before:]
            assert incident["severity"] == policy.severity_of("network_latency")  # P2
            assert incident["component"] == "dispatcher", incident
            assert bound_sop_s < incident["latency_sop_seconds"] < timeout_sop_s, incident
            clock.hold(within, "more probes with the link slow: no second P2, nothing else")
            assert len(network_latency(probes.emergency_log())) == before + 1, "once an episode"
            assert probes.agent_state()["mode"] == "online"
        # "P2 -> Log and continue": the log entry alone.
        assert probes.dispatcher_incidents() == signals, "a P2 is no distress signal"
        assert numbers(gitea.issues()) == issues, "a P2 is no Gitea issue (P1 only)"
        assert probes.sink_messages("discord") + probes.sink_messages("signal") == told
        assert decisions(probes.emergency_log(), "restart_service") == [], "slow is not down"
