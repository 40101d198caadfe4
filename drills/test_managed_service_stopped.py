"""A managed service of the agent's host stopped: Ollama (emergency-procedures.md
scenario 2) and Gitea (scenario 3); SOP 4 restart_service.

While OFFLINE the agent restarts it itself; the service's own health check (Ollama's
``/api/tags``, Gitea's ``/api/v1/version``: each scenario's STEP 1) must answer again
within its RTO (Appendix B). While ONLINE it sends the dispatcher a distress signal with
the severity the seeds give the outage, and waits: it restarts the service only on a task
the dispatcher assigns. Gitea's issues filed before it went down are readable after its
restart (scenario 3 STEP 3).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from fixtures.gitea import GiteaClient
from fixtures.lifecycle import decisions, offline_by_storm, sop_since, steady_state
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until
from sop.policy import Policy

#: Every drill of this module: SOP section 6 step 3 (remediation), nightly and quarterly.
pytestmark = [
    pytest.mark.nightly,
    pytest.mark.quarterly,
    pytest.mark.destructive,
    pytest.mark.test_plan(3),
]

#: The managed services drilled, Ollama's the quick one of the smoke suite.
SERVICES = [pytest.param("ollama", marks=pytest.mark.smoke), "gitea"]


def rto_minutes(policy: Policy, service: str) -> float:
    """The service's RTO of emergency-procedures.md Appendix B."""
    return {"ollama": policy.rto.ollama_minutes, "gitea": policy.rto.gitea_minutes}[service]


@contextmanager
def data_kept(service: str, deployment, probes) -> Iterator[None]:
    """Gitea's scenario 3 STEP 3: an issue filed before the block is read back after it,
    as it was filed. Ollama keeps no data of ours (its models are re-downloadable)."""
    if service != "gitea":
        yield
        return
    assert deployment.credentials is not None, "the run's Gitea token files the issue"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    filed = gitea.file_issue("Drill: filed before the outage", "Must survive Gitea's restart.")
    yield
    issue = gitea.read_issue(filed.number)
    assert issue is not None, f"issue #{filed.number}, filed before the outage, is gone"
    assert (issue["title"], issue["body"]) == (filed.title, filed.body), issue


@pytest.mark.parametrize("service", SERVICES)
def test_a_managed_service_stopped_while_offline_is_restarted_within_its_rto(
    service, policy, clock, evidence, probes, faults, deployment
):
    """OFFLINE + the service stopped: the agent restarts it; healthy within its RTO."""
    stop = faults.stop(service)
    rto_sop = rto_minutes(policy, service)
    with probes.watch_modes() as watch, data_kept(service, deployment, probes):
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock), stop:
            rto = clock.deadline(rto_sop)
            wait_until(
                lambda: probes.healthy(service),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe=f"{service}'s health check to answer again within its RTO",
            )
            restored = sop_since(clock, stop.injected_at_mono, time.monotonic())
            evidence.record("note", "drill", restored_sop_minutes=round(restored, 3))
            assert restored <= rto_sop
            # Logged once the restart returned (it may trail the health check), within the RTO.
            restarts = wait_until(
                lambda: decisions(probes.emergency_log(), "restart_service"),
                lambda seen: any(
                    d["target"] == service and d["decision"] == "executed" for d in seen
                ),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe=f"the executed restart_service {service} decision, within its RTO",
            )
            assert all(d["source"] == "autonomous" for d in restarts)
    steady_state("after", probes, policy, evidence)


@pytest.mark.parametrize("service", SERVICES)
def test_a_managed_service_stopped_while_online_is_reported_and_fixed_only_on_task(
    service, policy, clock, evidence, probes, faults, topology, sut, deployment
):
    """ONLINE + the service stopped: a distress signal, no autonomous restart, restart on
    a task."""
    stop = faults.stop(service)
    interval = policy.deployment.remediation_interval_minutes
    rto_wall_s = clock.wall_seconds(rto_minutes(policy, service))
    steady_state("before", probes, policy, evidence)
    with data_kept(service, deployment, probes), stop:
        incidents = wait_until(
            probes.dispatcher_incidents,
            lambda seen: any(i.get("component") == service for i in seen),
            timeout_s=rto_wall_s,
            describe=f"the agent's distress signal about {service} at the dispatcher",
        )
        reported = [i for i in incidents if i.get("component") == service]
        assert len(reported) == 1, f"one incident for the stopped {service}: {reported}"
        incident = reported[0]
        assert incident["agent"] == "agent"
        # The seeds' severity of the outage: Ollama down and Gitea unavailable are both P1.
        assert incident["severity"] == policy.severity_of(f"{service}_down"), incident
        clock.hold(2 * interval, "two remediation rounds: the agent must not act on its own")
        # STARTING is a restart too: only a program still stopped proves the agent waited.
        assert topology.service_state(service) in (ServiceState.STOPPED, ServiceState.EXITED), (
            "restarted without the dispatcher's mediation while online (SOP 4: offline only)"
        )
        assert decisions(probes.emergency_log(), "restart_service") == []
        assert deployment.credentials is not None, "the operator's token assigns the task"
        answer = httpx.post(
            f"{sut.dispatcher}/v1/tasks",
            json={"agent": "agent", "action": "restart_service", "target": service, "params": {}},
            headers=deployment.credentials.operator_headers(),
            timeout=rto_wall_s,
            trust_env=False,
        )
        assert answer.status_code == 200, answer.text
        task = answer.json()
        assert task["delivered"], task
        assert task["agent_status"] == 200, task
        assert task["agent_response"]["decision"] == "executed", task
        wait_until(
            lambda: probes.healthy(service),
            timeout_s=rto_wall_s,
            describe=f"{service} healthy after the assigned restart task",
        )
    restarts = decisions(probes.emergency_log(), "restart_service")
    assert [d["source"].split(":")[0] for d in restarts] == ["task"], (
        f"only the assigned task may restart {service} while online: {restarts}"
    )
    steady_state("after", probes, policy, evidence)
