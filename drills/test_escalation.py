"""The escalation matrix (emergency-procedures.md): Level 1 self-healing, then escalate, once.

Ollama stopped while the Dispatcher is online: the agent reports it in a distress signal
with the severity the seeds give it (P1) and does not restart it itself (SOP 4 is for
OFFLINE). Nobody resolves it; at the signal's ``escalation_timeout`` (Level 1's 5 minutes,
the policy's ``escalation.self_healing_minutes``) the agent tells 0x01, once, what failed,
since when and what was tried; never before the timeout, never again while it lasts.

Level 2, the father (the dispatcher), hears nothing from the child (heartbeats unanswered):
the silence it records, still open at Level 2's end (``escalation.father_minutes`` after
it began), is escalated to Level 3 once: one line in the dispatcher host's
EMERGENCY_ALERT.txt, never before, never again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fixtures.agent_restart import AGENT, silences_since
from fixtures.gitea import GiteaClient
from fixtures.lifecycle import decisions, hold_after, steady_state, wait_after
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until
from sop.alert_file import LEVEL_3
from sop.references import PENDING, issue_path

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]


def escalations(probes, policy):
    """What 0x01 received on Discord that is not the SOP 3.1 alert."""
    return [m for m in probes.sink_messages("discord") if not policy.is_alert(m["content"])]


def filed_for(gitea, correlation_id):
    """The Gitea issues whose body names ``correlation_id`` (gate4 guardrail 4)."""
    return [i for i in gitea.issues() if f"Correlation ID: {correlation_id}" in (i["body"] or "")]


def test_an_outage_unresolved_at_its_escalation_timeout_is_escalated_once(
    policy, clock, evidence, probes, faults, topology, deployment
):
    """Ollama down while online, nobody acts: one escalation to 0x01 at the timeout, no more.
    gate4 guardrail 4: the signal and the escalation name one correlation id; the signal,
    sent before the issue is filed, says ``pending``; the escalation links the issue."""
    assert deployment.credentials is not None, "the run's Gitea token reads the issues"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    level1 = policy.escalation.self_healing_minutes
    # The agent looks once a remediation round; the sink hears it within the tolerance.
    round_and_slack = policy.deployment.remediation_interval_minutes + DETECTION_TOLERANCE_MINUTES
    steady_state("before", probes, policy, evidence)
    with faults.stop("ollama"):
        incidents = wait_until(
            probes.dispatcher_incidents,
            lambda seen: any(i.get("component") == "ollama" for i in seen),
            timeout_s=clock.wall_seconds(round_and_slack),
            describe="the agent's distress signal about Ollama at the dispatcher",
        )
        [signal] = [i for i in incidents if i.get("component") == "ollama"]
        assert signal["severity"] == policy.severity_of("ollama_down")  # P1, both tables
        since = datetime.fromisoformat(signal["timestamp"])
        timeout = datetime.fromisoformat(signal["escalation_timeout"])
        assert abs((timeout - since).total_seconds() - clock.wall_seconds(level1)) < 1.0
        assert escalations(probes, policy) == [], "told before its escalation timeout"
        cid = signal["correlation_id"]
        assert cid, signal
        assert signal["issue"] == PENDING, "sent before its P1 issue was filed"
        [entry] = [e for e in probes.emergency_log() if e.get("category") == "ollama_down"]
        assert entry["correlation_id"] == cid, "the id is the one its log entry holds"

        [told] = wait_until(
            lambda: escalations(probes, policy),
            timeout_s=clock.wall_seconds(level1 + round_and_slack),
            describe="the escalation to 0x01 once the signal's escalation_timeout passed",
        )
        assert datetime.fromisoformat(told["received_at"]) >= timeout, "escalated early"
        text = told["content"]
        assert text.startswith(f"ESCALATION ({signal['severity']}): ollama_down"), text
        for said in ("Failed: ", "ollama", f"Since: {signal['timestamp']}", "Tried: "):
            assert said in text, f"the escalation must say {said!r}: {text}"
        assert "distress signal to the Dispatcher" in text, "what was tried"
        [issue] = filed_for(gitea, cid)  # read by the harness's own client
        named = policy.reference.split(text)[1]
        assert named is not None, text
        assert named.correlation_id == cid, text
        # The agent's address of Gitea, not the harness's (docker maps ports): the same issue.
        assert issue_path(named.issue) == issue_path(issue["html_url"]), text
        # On disk before 0x01 heard it, as the marker is (SOP 3.3's rule for what it tells).
        [entry] = [
            e for e in probes.emergency_log()
            if e.get("kind") == "incident" and e.get("category") == "escalation"
        ]  # fmt: skip
        assert (entry["incident"], entry["severity"]) == ("ollama_down", signal["severity"])
        assert datetime.fromisoformat(entry["at"]) <= datetime.fromisoformat(told["received_at"])

        clock.hold(level1, "another Level 1 period: an escalation is never repeated")
        assert len(escalations(probes, policy)) == 1, "escalated once, never again"
        assert len([i for i in probes.dispatcher_incidents() if i["component"] == "ollama"]) == 1
        # Online, SOP 4 gives the agent no authority of its own: Ollama is still down.
        assert topology.service_state("ollama") in (ServiceState.STOPPED, ServiceState.EXITED)
        assert decisions(probes.emergency_log(), "restart_service") == []
    steady_state("after", probes, policy, evidence)
    assert probes.sink_messages("signal") == [], "Discord delivered: Signal quiet (SOP 3)"


def level3_lines(probes, before):
    """The lines the dispatcher's host added to its EMERGENCY_ALERT.txt since ``before``."""
    return probes.emergency_alerts("control")[len(before) :]


def test_an_agent_silence_unresolved_past_level_2_is_escalated_to_level_3_once(
    policy, clock, drill, probes, faults
):
    """Heartbeats to the agent cut for longer than Level 2 lasts (the agent still reaches
    the dispatcher: no OFFLINE): one Level 3 line at the silence's severity, not before
    ``father_minutes``, not repeated while it lasts nor once it is over."""
    father = policy.escalation.father_minutes
    beat = policy.deployment.heartbeat_interval_minutes
    with drill.steady():
        before = probes.emergency_alerts("control")
        began = datetime.now(UTC)
        fault = faults.link_down(("agent_inbox",))
        with drill.inject(fault):
            hold_after(clock, fault, father, "no Level 3 before 30")
            assert level3_lines(probes, before) == [], "Level 2 escalated before its end"
            # The silence opens at the first heartbeat after the cut (one interval at most)
            # and is escalated at the first heartbeat past Level 2's end (one more).
            due = father + 2 * beat + DETECTION_TOLERANCE_MINUTES
            lines = wait_after(
                clock,
                fault,
                due,
                lambda: level3_lines(probes, before),
                interval_s=probes.poll_interval_s,
                describe=f"one Level 3 line in the dispatcher's EMERGENCY_ALERT.txt within "
                f"{due:g} SOP-min of the cut",
                hint="the dispatcher's log (silence escalated to Level 3)",
            )
            [silence] = silences_since(probes, began)
            assert silence.get("until") is None, silence
            assert silence.get("escalated_at"), silence
            # One agent in the topology: its silence is "All agents down" (P0).
            assert silence["severity"] == policy.severity_of("agent_down"), silence
            assert [(line.severity, line.what) for line in lines] == [
                (silence["severity"], f"{LEVEL_3}: agent {AGENT} silent since {silence['since']}")
            ]
            clock.hold(3 * beat, "Level 3 is told once")
            assert level3_lines(probes, before) == lines, "Level 3 escalation repeated"
    assert level3_lines(probes, before) == lines, "Level 3 escalation repeated after the end"
    # The dispatcher answered the agent throughout: no OFFLINE, nothing to 0x01's channels.
    drill.expect_no_alarm(True)
