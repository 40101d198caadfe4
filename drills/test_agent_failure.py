"""emergency-procedures.md scenario 1 (P0): complete agent failure, the agent killed or hung.

Level 1 self-healing (the escalation matrix) must bring a new agent process up within the
Agent Operations RTO (Appendix B): supervisord restarts a killed agent (autorestart), and
the watchdog beside it kills a hung one (SIGSTOP: alive, answering nothing) so that
supervisord does. The restarted agent resumes from its emergency log: the same hash chain,
no entry lost, and its OFFLINE state as it was (SOP 2's latch), so it neither alerts twice
for an OFFLINE it already reported (SOP 3: one alert per declaration) nor forgets it.

* While online: the dispatcher's heartbeats go unanswered meanwhile; the dispatcher
  records the silence (``GET /v1/agents``) with the severity the seeds give it: its only
  agent silent is emergency-procedures.md's P0 "All agents down" (cell0: P0 "Service
  down"; one agent of several is P1 "Agent unresponsive", drills/test_fleet.py), and the
  restarted agent raises no alarm.
* While the dispatcher is down and the agent already OFFLINE with its alert sent: the
  restarted agent stays OFFLINE, sends nothing more, and once the dispatcher is back
  re-syncs the whole log, the old process's entries included (SOP 5.2).

Every assertion is the harness's own observation: process manager and process table,
health checks, stand-in sinks, the emergency log on disk, the dispatcher's API.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fixtures.agent_restart import AGENT, await_restart, log_continues, silences_since
from fixtures.lifecycle import hold_after, marker_entries, wait_after
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES, WATCHDOG_LOOK_WALL_S
from fixtures.waiting import wait_until
from sop.alert_file import AGENT_FAILURE

#: How the agent fails -> the fault that makes it fail that way.
FAILURES = ("kill", "hang")


def failure(faults, how: str):
    """The agent killed (kill -9) or hung (SIGSTOP)."""
    return faults.kill(AGENT) if how == "kill" else faults.hang(AGENT)


def redeclared_within(policy) -> float:
    """SOP minutes a restarted agent that forgot its OFFLINE would take to declare it again
    (and alert again): the silence from its start, the probes that confirm it, slack."""
    rule = policy.scenario_a
    return (
        rule.silence_minutes
        + rule.api_probe_interval_minutes * (rule.api_failures + 1)
        + DETECTION_TOLERANCE_MINUTES
    )


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.parametrize("how", FAILURES)
def test_agent_failure_while_online_is_healed_within_the_rto_and_seen_by_the_dispatcher(
    how, policy, clock, drill, probes, faults, topology
):
    """Agent killed or hung while online: a new process answers within the RTO, the
    dispatcher recorded the unanswered heartbeats as a P0 silence (its only agent: all
    agents down), the log is whole, no alarm."""
    beat = policy.deployment.heartbeat_interval_minutes
    with drill.steady():
        before = probes.emergency_log()
        failed_pid = topology.pid(AGENT)
        began = datetime.now(UTC)
        fault = failure(faults, how)
        with drill.inject(fault):
            assert fault.injected_at_mono is not None
            restart = await_restart(
                topology,
                probes,
                clock,
                policy,
                failed_pid=failed_pid,
                failed_mono=fault.injected_at_mono,
            )
        # Heartbeats are due every interval: a failure that outlasted two of them was seen.
        if restart.took_minutes >= 2 * beat:
            silences = wait_until(
                lambda: silences_since(probes, began),
                lambda found: any(s.get("until") for s in found),
                timeout_s=clock.wall_seconds(2 * beat),
                describe="the dispatcher's record of the agent's silence, ended by its answer",
            )
            assert silences[0]["missed"] >= 1, silences
            # emergency-procedures.md "Severity Levels": the only agent silent is P0 CRITICAL
            # "All agents down" (cell0: P0 "Service down"); one of several is P1 "Agent
            # unresponsive" (drills/test_fleet.py).
            all_down = policy.severity_of("agent_down")
            assert [s.get("severity") for s in silences] == [all_down] * len(silences)
        log_continues(before, probes.emergency_log())
    # The dispatcher never stopped answering: nothing to declare, nothing to tell 0x01.
    drill.expect_no_alarm(True)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 4, 5)
@pytest.mark.parametrize("how", FAILURES)
def test_agent_failure_while_offline_resumes_offline_without_a_second_alert(
    how, policy, clock, drill, probes, faults, topology
):
    """Dispatcher down, agent OFFLINE and 0x01 alerted, then the agent killed or hung: a new
    process within the RTO, still OFFLINE, the same chain, no second marker or alert; once
    the dispatcher is back it re-syncs every entry, the old process's too."""
    with drill.steady(), drill.inject(faults.kill("dispatcher")) as outage:
        drill.expect_offline("scenario_a", outage, outage.killed())
        drill.expect_alert("scenario_a", channel="discord")
        before = probes.emergency_log()
        alerted = probes.sink_messages("discord")
        offline = drill.watch.first("offline")
        assert offline is not None
        failed_pid = topology.pid(AGENT)
        with failure(faults, how) as fault:
            assert fault.injected_at_mono is not None
            restart = await_restart(
                topology,
                probes,
                clock,
                policy,
                failed_pid=failed_pid,
                failed_mono=fault.injected_at_mono,
            )
        # Long enough for a restarted agent that forgot its OFFLINE to declare it again.
        clock.hold(redeclared_within(policy), "the restarted agent must not declare again")
        assert [c.mode for c in drill.watch.changes if c.at_mono > offline.at_mono] == [], (
            "SOP 2: OFFLINE latches across the restart until the dispatcher answers"
        )
        state = probes.agent_state()
        assert (state["mode"], state["trigger"]) == ("offline", "scenario_a"), state
        after = probes.emergency_log()
        log_continues(before, after)
        assert len(marker_entries(after)) == 1, "SOP 3.3: one marker per declaration"
        assert probes.sink_messages("discord") == alerted, "SOP 3: no second alert"
        assert probes.sink_messages("signal") == [], "Discord delivered: Signal quiet"
        assert restart.pid == topology.pid(AGENT), "the restarted agent kept running"
    # The dispatcher is back (the kill's revert): recovering, re-sync, online (SOP 5).
    entries = probes.emergency_log()
    held = wait_until(
        probes.dispatcher_log,
        lambda seen: seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher's copy of the emergency log to equal the agent's",
    )
    hashes = {e["hash"] for e in held}
    assert all(e["hash"] in hashes for e in before), "SOP 5.2: the old process's entries too"
    assert len(held) >= len(entries)


def attempted_everywhere(entries) -> bool:
    """The SOP 3.3 marker is on disk and both backchannels were tried after it (and failed)."""
    channels = {e.get("channel") for e in entries if e.get("kind") == "notification"}
    return len(marker_entries(entries)) == 1 and {"discord", "signal"} <= channels


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(4)
def test_agent_killed_owing_its_alert_sends_it_once_restarted(
    policy, clock, drill, probes, faults, topology
):
    """OFFLINE declared while both backchannels were down, so the alert never went out;
    the channels back, the agent killed: the restarted agent sends the alert it owed, once,
    over Discord, under the one marker already on disk."""
    rto = policy.rto.agent_operations_minutes
    with drill.steady(), drill.inject(faults.kill("dispatcher")) as outage:
        with faults.discord_down(), faults.signal_down():
            drill.expect_offline("scenario_a", outage, outage.killed())
            before = wait_until(
                probes.emergency_log,
                attempted_everywhere,
                timeout_s=clock.wall_seconds(rto),
                describe="the marker and an attempt on each backchannel, both down",
            )
        failed_pid = topology.pid(AGENT)
        with faults.kill(AGENT) as fault:
            assert fault.injected_at_mono is not None
            await_restart(
                topology,
                probes,
                clock,
                policy,
                failed_pid=failed_pid,
                failed_mono=fault.injected_at_mono,
            )
        # SOP 3: one marker, one alert in the template on Discord, Signal quiet.
        drill.expect_alert("scenario_a", channel="discord")
        log_continues(before, probes.emergency_log())


def alerts_on_disk(probes, before):
    """The lines the agent's host added to its EMERGENCY_ALERT.txt since ``before``."""
    return probes.emergency_alerts("ops")[len(before) :]


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
def test_agent_that_cannot_start_again_is_alerted_p0_once_unresolved_and_comes_back_freed(
    policy, clock, drill, probes, faults, topology
):
    """Scenario 1 past Level 1: the agent killed and kept from starting again (its port
    taken), so every restart (STEP 2, STEP 3) fails. Once it has not come back within the
    Agent Operations RTO its host's EMERGENCY_ALERT.txt gets one line "P0: Agent failure"
    (STEP 4, "Immediate if unresolved"): never before the RTO, never twice; no OFFLINE, no
    alert to 0x01's channels; freed, it comes back by itself, its log whole."""
    rto = policy.rto.agent_operations_minutes
    # The watchdog looks once per probe interval (SOP 2A.2's cadence), a round lasting as
    # long as a look that waits out its timeout (the port's holder accepts, never answers):
    # the failure is first seen within one round of the kill, the alert at the first round
    # one RTO after that.
    interval = policy.scenario_a.api_probe_interval_minutes
    look = max(policy.deployment.api_probe_timeout_minutes, clock.sop_minutes(WATCHDOG_LOOK_WALL_S))
    watchdog_round = max(interval, look)
    with drill.steady():
        log_before = probes.emergency_log()
        before = probes.emergency_alerts("ops")
        fault = faults.make("port-taken", {"service": AGENT})
        with drill.inject(fault):
            hold_after(clock, fault, rto, "no P0 before the RTO")
            assert alerts_on_disk(probes, before) == [], "STEP 4: reported before the RTO"
            due = rto + 2 * watchdog_round + DETECTION_TOLERANCE_MINUTES
            alerts = wait_after(
                clock,
                fault,
                due,
                lambda: alerts_on_disk(probes, before),
                interval_s=probes.poll_interval_s,
                describe=f"one P0 line in the agent host's EMERGENCY_ALERT.txt within {due:g} "
                "SOP-min of the kill (RTO + two watchdog rounds + tolerance)",
                hint="the watchdog's log beside the agent's",
            )
            assert [(a.severity, a.what) for a in alerts] == [
                (policy.severity_of("agent_down"), AGENT_FAILURE)
            ], alerts
            # Still unresolved a while later: still the one line (once per failure).
            clock.hold(interval * policy.scenario_a.api_failures, "no second P0")
            assert alerts_on_disk(probes, before) == alerts, "STEP 4: one alert per failure"
            assert not probes.healthy(AGENT), "the port is still taken: the agent is down"
        # Freed (the revert ends the holder): back by its host's own doing, within the RTO.
        assert fault.started_by_revert is False, "the agent did not come back by itself"
        assert fault.back_after_s is not None
        assert clock.sop_minutes(fault.back_after_s) <= rto
        log_continues(log_before, probes.emergency_log())
    assert alerts_on_disk(probes, before) == alerts, "back: no further alert"
    # The dispatcher never stopped answering: no OFFLINE, nothing to 0x01's channels.
    drill.expect_no_alarm(True)
