"""The escalation matrix (emergency-procedures.md): Level 1 self-healing, then escalate, once.

Ollama stopped while the Dispatcher is online: the agent reports it in a distress signal
with the severity the seeds give it (P1) and does not restart it itself (SOP 4 is for
OFFLINE). Nobody resolves it; at the signal's ``escalation_timeout`` (Level 1's 5 minutes,
the policy's ``escalation.self_healing_minutes``) the agent tells 0x01, once, what failed,
since when and what was tried; never before the timeout, never again while it lasts.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures.lifecycle import decisions, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]


def escalations(probes, policy):
    """What 0x01 received on Discord that is not the SOP 3.1 alert."""
    return [m for m in probes.sink_messages("discord") if not policy.is_alert(m["content"])]


def test_an_outage_unresolved_at_its_escalation_timeout_is_escalated_once(
    policy, clock, evidence, probes, faults, topology
):
    """Ollama down while online, nobody acts: one escalation to 0x01 at the timeout, no more."""
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
