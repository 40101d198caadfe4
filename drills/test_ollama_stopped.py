"""Ollama stopped (emergency-procedures.md scenario 2; SOP 4 restart_service).

While OFFLINE the agent restarts it itself; ``/api/tags`` must answer again within the
Ollama RTO. While ONLINE it sends the dispatcher a distress signal and waits: it restarts
Ollama only on a task the dispatcher assigns.
"""

from __future__ import annotations

import time

import httpx
import pytest

from fixtures.lifecycle import decisions, offline_by_storm, sop_since, steady_state
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until

#: Every drill of this module: SOP section 6 step 3 (remediation), nightly and quarterly.
pytestmark = [
    pytest.mark.nightly,
    pytest.mark.quarterly,
    pytest.mark.destructive,
    pytest.mark.test_plan(3),
]


@pytest.mark.smoke
def test_ollama_stopped_while_offline_is_restarted_within_rto(
    policy, clock, evidence, probes, faults
):
    """OFFLINE + Ollama stopped: the agent restarts it; /api/tags healthy within the RTO."""
    stop = faults.stop("ollama")
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock), stop:
            rto = clock.deadline(policy.rto.ollama_minutes)
            wait_until(
                lambda: probes.healthy("ollama"),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe="Ollama's /api/tags to answer again within its RTO",
            )
            restored = sop_since(clock, stop.injected_at_mono, time.monotonic())
            evidence.record("note", "drill", ollama_restored_sop_minutes=round(restored, 3))
            assert restored <= policy.rto.ollama_minutes
            # Logged once the restart returned (it may trail /api/tags), and within the RTO.
            restarts = wait_until(
                lambda: decisions(probes.emergency_log(), "restart_service"),
                lambda seen: any(
                    d["target"] == "ollama" and d["decision"] == "executed" for d in seen
                ),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe="the executed restart_service ollama decision, within Ollama's RTO",
            )
            assert all(d["source"] == "autonomous" for d in restarts)
    steady_state("after", probes, policy, evidence)


def test_ollama_stopped_while_online_is_reported_and_fixed_only_on_task(
    policy, clock, evidence, probes, faults, topology, sut, deployment
):
    """ONLINE + Ollama stopped: a distress signal, no autonomous restart, restart on a task."""
    stop = faults.stop("ollama")
    interval = policy.deployment.remediation_interval_minutes
    steady_state("before", probes, policy, evidence)
    with stop:
        incidents = wait_until(
            probes.dispatcher_incidents,
            lambda seen: any(i.get("component") == "ollama" for i in seen),
            timeout_s=clock.wall_seconds(policy.rto.ollama_minutes),
            describe="the agent's distress signal about Ollama at the dispatcher",
        )
        reported = [i for i in incidents if i.get("component") == "ollama"]
        assert len(reported) == 1, f"one incident for the stopped Ollama: {reported}"
        incident = reported[0]
        assert incident["agent"] == "agent"
        clock.hold(2 * interval, "two remediation rounds: the agent must not act on its own")
        # STARTING is a restart too: only a program still stopped proves the agent waited.
        assert topology.service_state("ollama") in (ServiceState.STOPPED, ServiceState.EXITED), (
            "restarted without the dispatcher's mediation while online (SOP 4: offline only)"
        )
        assert decisions(probes.emergency_log(), "restart_service") == []
        assert deployment.credentials is not None, "the operator's token assigns the task"
        answer = httpx.post(
            f"{sut.dispatcher}/v1/tasks",
            json={"agent": "agent", "action": "restart_service", "target": "ollama", "params": {}},
            headers=deployment.credentials.operator_headers(),
            timeout=clock.wall_seconds(policy.rto.ollama_minutes),
            trust_env=False,
        )
        assert answer.status_code == 200, answer.text
        task = answer.json()
        assert task["delivered"], task
        assert task["agent_status"] == 200, task
        assert task["agent_response"]["decision"] == "executed", task
        wait_until(
            lambda: probes.healthy("ollama"),
            timeout_s=clock.wall_seconds(policy.rto.ollama_minutes),
            describe="Ollama healthy after the assigned restart task",
        )
    restarts = decisions(probes.emergency_log(), "restart_service")
    assert [d["source"].split(":")[0] for d in restarts] == ["task"], (
        f"only the assigned task may restart Ollama while online: {restarts}"
    )
    steady_state("after", probes, policy, evidence)
