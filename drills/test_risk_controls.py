"""Risk controls failing (gate4-incident-runbooks.md guardrail 3): side effects stay blocked.

"Side-effecting commands remain blocked when risk controls fail." The agent's risk controls
are its policy file. Made invalid or unreadable while the agent runs: ``/healthz`` says
degraded with the reason; the Dispatcher goes OFFLINE and the SOP 3.1 alert still goes out;
Ollama stops, which SOP 4 would have the agent restart, and every action (its own and an
operator's) is refused, each refusal logged with the reason; nothing is done. Restored, the
agent is healthy again. An agent that starts with an invalid policy fails closed: every
action refused with the policy's error, logged, and ``/healthz`` failing closed.
"""

from __future__ import annotations

import pytest

from fixtures.faults.policy_file import HOW
from fixtures.lifecycle import decisions, offline_by_storm, one_marker, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until
from sop.references import NONE, Reference

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]

#: What a refusal for failed risk controls says (sut's gate; the reason is the evidence).
BLOCKED = "risk controls failed"


@pytest.mark.parametrize("how", HOW)
def test_risk_controls_failing_while_running_block_every_action_yet_the_alert_goes_out(
    policy, clock, evidence, probes, faults, topology, how
):
    """The policy file broken while the agent runs: OFFLINE alerted, every action refused."""
    interval = policy.deployment.remediation_interval_minutes
    # The agent re-reads its policy once a remediation round: two of them, and the tolerance.
    within = 2 * interval + DETECTION_TOLERANCE_MINUTES
    broken = faults.break_policy(how)
    stop = faults.stop("ollama")
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with broken:
            _, health = wait_until(
                probes.agent_health,
                lambda seen: seen[0] == 503,
                timeout_s=clock.wall_seconds(within),
                describe="the agent's /healthz degraded once its policy file broke",
            )
            assert health["status"] == "degraded", health
            assert health["reason"].startswith(BLOCKED), health
            with offline_by_storm(faults, watch, policy, clock):
                alerts = wait_until(
                    lambda: [
                        m for m in probes.sink_messages("discord")
                        if policy.is_alert(m["content"])
                    ],
                    timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
                    describe="the SOP 3.1 alert on Discord: detection and alert go on",
                )  # fmt: skip
                marker = one_marker(probes.emergency_log())
                host = faults.agent_host().hostname
                reference = Reference(marker["correlation_id"], NONE)  # gate4 guardrail 4
                alert = policy.render_alert(host, marker["reason"])
                assert [m["content"] for m in alerts] == [policy.reference.append(alert, reference)]
                with stop:
                    refused = wait_until(
                        lambda: decisions(probes.emergency_log(), "restart_service"),
                        timeout_s=clock.wall_seconds(within),
                        describe="the agent's own restart of Ollama, refused and logged",
                    )
                    request = faults.action_request("restart_service", "ollama")
                    with request:
                        verdict = request.verdicts["local"]
                    assert verdict["status"] == 403, verdict
                    assert BLOCKED in verdict["answer"]["reason"], verdict
                    clock.hold(2 * interval, "remediation rounds with the risk controls failed")
                    # The harness's own look: Ollama was not restarted.
                    stopped = (ServiceState.STOPPED, ServiceState.EXITED)
                    assert topology.service_state("ollama") in stopped
                    refused = decisions(probes.emergency_log(), "restart_service")
                    sources = {d["source"].split(":")[0] for d in refused}
                    assert sources == {"autonomous", "local"}, refused
                    for decision in refused:
                        assert decision["decision"] == "refused", decision
                        assert BLOCKED in decision["reason"], decision
        incident = [
            e for e in probes.emergency_log()
            if e.get("kind") == "incident" and e.get("category") == "risk_controls_failed"
        ]  # fmt: skip
        assert [e["severity"] for e in incident] == [policy.severity_of("risk_controls_failed")]
        wait_until(
            lambda: probes.agent_health()[0],
            lambda seen: seen == 200,
            timeout_s=clock.wall_seconds(within),
            describe="the agent healthy again once its policy file was restored",
        )
    steady_state("after", probes, policy, evidence)


def test_an_agent_started_with_an_invalid_policy_fails_closed(
    policy, clock, evidence, probes, faults
):
    """Restarted with an invalid policy: every action refused with its error, logged."""
    steady_state("before", probes, policy, evidence)
    with faults.break_policy("invalid"):
        with faults.stop("agent"):
            pass  # started again on revert, reading the invalid file
        _, health = wait_until(
            probes.agent_health,
            lambda seen: seen[0] == 503,
            timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
            describe="the restarted agent's /healthz failing closed",
            ignore=(Exception,),
        )
        assert health["status"] == "failing_closed", health
        assert "sopdrill_fault" in health["policy_error"], health
        for red_or_green in ("restart_service", "rotate_logs"):
            request = faults.action_request(red_or_green, "ollama")
            with request:
                verdict = request.verdicts["local"]
            assert verdict["status"] == 403, verdict
            assert "policy invalid" in verdict["answer"]["reason"], verdict
        logged = [e for e in probes.emergency_log() if e.get("kind") == "decision"]
        assert [(e["action"], e["decision"]) for e in logged] == [
            ("restart_service", "refused"),
            ("rotate_logs", "refused"),
        ]
        assert all("policy invalid" in e["reason"] for e in logged)
    with faults.stop("agent"):
        pass  # started again, with its policy restored
    steady_state("after", probes, policy, evidence)
