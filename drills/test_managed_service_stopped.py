"""A managed service of the agent's host stopped: Ollama (emergency-procedures.md
scenario 2) and Gitea (scenario 3); SOP 4 restart_service.

While OFFLINE the agent restarts it itself; the service's own health check (Ollama's
``/api/tags``, Gitea's ``/api/v1/version``: each scenario's STEP 1) must answer again
within its RTO (Appendix B); a restarted Ollama must also have answered one test inference
(cell0-incident-runbook.md "P1 - Ollama Connection Lost", Response step 4), seen in its own
inbox. While ONLINE it sends the dispatcher a distress signal with the severity the seeds
give the outage, logged first as one ``incident`` entry of its emergency log, and waits: it
restarts the service only on a task the dispatcher assigns. Gitea's issues filed before it
went down are readable after its restart (scenario 3 STEP 3). The outage is a P1, so the
agent also files one Gitea issue for it in the incidents repository (notification flow,
step 3: "Gitea issue (P1)"), read back by the harness before the P1's escalation timeout:
at once for Ollama, once Gitea answers again for Gitea's own outage.

An Ollama whose restart fails (its model store broken on its host) is scenario 2 STEP 4's
"Ollama recovery FAILED": the agent tries the green-list restart, logs the failure and
raises one distress signal for the father, the seed's line in father-messages/DISTRESS.txt
on its own host, read by the harness from there, however often the restart is retried; the
father, unreachable while OFFLINE, holds the incident once after the re-sync.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest

from fixtures.gitea import GiteaClient
from fixtures.lifecycle import decisions, offline_by_storm, sop_since, steady_state
from fixtures.topology import ServiceState
from fixtures.waiting import wait_until
from sop.policy import Policy
from sop.references import PENDING

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


def outages_logged(entries: list[dict], kind: str) -> list[dict]:
    """The emergency log's ``incident`` entries of the outage ``kind`` (``ollama_down``)."""
    return [e for e in entries if e.get("kind") == "incident" and e.get("category") == kind]


def issues_about(gitea: GiteaClient, kind: str) -> list[dict]:
    """The incidents repository's issues whose title names the incident ``kind``."""
    return [i for i in gitea.issues() if re.search(rf"\b{kind}\b", i["title"])]


def issue_filed(gitea, policy, clock, probes, evidence, kind, component, since_mono) -> dict:
    """The agent's Gitea issue about the P1 ``kind`` on ``component``, seen before the P1's
    escalation timeout from ``since_mono`` (the flow's P1 channel comes before Level 2)."""
    bound_sop = policy.escalation.self_healing_minutes
    left_s = clock.wall_seconds(bound_sop) - (time.monotonic() - since_mono)
    issues = wait_until(
        lambda: issues_about(gitea, kind),
        timeout_s=max(left_s, probes.poll_interval_s),
        interval_s=probes.poll_interval_s,
        ignore=(httpx.HTTPError,),
        describe=f"the agent's Gitea issue about {kind} within the escalation timeout",
        hint="the agent's JSON log says why an issue is still owed ('gitea issue not filed')",
    )
    filed_sop = sop_since(clock, since_mono, time.monotonic())
    evidence.record(
        "note", "drill", gitea_issue_kind=kind, gitea_issue_sop_minutes=round(filed_sop, 3)
    )
    assert filed_sop <= bound_sop
    assert len(issues) == 1, f"one issue for the {kind} incident: {issues}"
    words = issues[0]["title"].replace(":", " ").split()
    assert policy.severity_of(kind) in words, issues[0]
    assert component in words, issues[0]
    return issues[0]


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
            if service == "ollama":
                inference_answered(restarts, probes, evidence)
    steady_state("after", probes, policy, evidence)


def inference_answered(restarts: list[dict], probes, evidence) -> None:
    """cell0 "P1 - Ollama Connection Lost" step 4, ``ollama run <model> "test"``: one
    non-streamed generate reached the restarted Ollama (its inbox is the new process's own,
    so every call in it came after the restart), on a model it lists, as the agent logged."""
    calls = [m for m in probes.sink_messages("ollama") if m["path"] == "/api/generate"]
    evidence.record("note", "drill", ollama_generate_calls=len(calls))
    assert len(calls) == 1, f"one test inference after the restart: {calls}"
    [call] = calls
    assert (call["body"]["prompt"], call["body"]["stream"]) == ("test", False), call
    # The last restart made the process whose inbox this is.
    done = [d for d in restarts if d["target"] == "ollama" and d["decision"] == "executed"][-1]
    assert done["result"]["test_inference"] == {"outcome": "ok", "model": call["model"]}, done


@pytest.mark.parametrize("service", SERVICES)
def test_a_managed_service_stopped_while_online_is_reported_and_fixed_only_on_task(
    service, policy, clock, evidence, probes, faults, topology, sut, deployment
):
    """ONLINE + the service stopped: a distress signal and one Gitea issue (P1), no
    autonomous restart, restart on a task."""
    stop = faults.stop(service)
    interval = policy.deployment.remediation_interval_minutes
    rto_wall_s = clock.wall_seconds(rto_minutes(policy, service))
    kind = f"{service}_down"
    assert deployment.credentials is not None, "the run's Gitea token reads the issues"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    filed = (gitea, policy, clock, probes, evidence, kind, service)
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
        assert incident["severity"] == policy.severity_of(kind), incident
        # Every incident reported is logged first: one entry, its severity, before the signal.
        [logged] = outages_logged(probes.emergency_log(), kind)
        assert (logged["severity"], logged["component"]) == (incident["severity"], service)
        assert datetime.fromisoformat(logged["at"]) <= datetime.fromisoformat(
            incident["timestamp"]
        ), "logged before the distress signal"
        if service != "gitea":  # Gitea's own issue waits for Gitea (below)
            issue_filed(*filed, since_mono=stop.injected_at_mono)
        clock.hold(2 * interval, "two remediation rounds: the agent must not act on its own")
        # STARTING is a restart too: only a program still stopped proves the agent waited.
        assert topology.service_state(service) in (ServiceState.STOPPED, ServiceState.EXITED), (
            "restarted without the dispatcher's mediation while online (SOP 4: offline only)"
        )
        assert decisions(probes.emergency_log(), "restart_service") == []
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
        if service == "gitea":  # owed while Gitea was down, filed once it answers: none lost
            issue_filed(*filed, since_mono=time.monotonic())
    # The report, its retries and the outage's end made one issue and one entry, no more.
    assert len(issues_about(gitea, kind)) == 1, gitea.issues()
    # gate4 guardrail 4: the signal names the incident's id, the one its log entry holds,
    # and "pending" (sent before its issue was filed); the issue names that id.
    assert incident["correlation_id"] == logged["correlation_id"], (incident, logged)
    assert incident["issue"] == PENDING, incident
    [issue] = issues_about(gitea, kind)
    assert f"Correlation ID: {incident['correlation_id']}" in issue["body"], issue["body"]
    assert len(outages_logged(probes.emergency_log(), kind)) == 1, "one outage, one entry"
    restarts = decisions(probes.emergency_log(), "restart_service")
    assert [d["source"].split(":")[0] for d in restarts] == ["task"], (
        f"only the assigned task may restart {service} while online: {restarts}"
    )
    steady_state("after", probes, policy, evidence)


def recovery_failures(entries: list[dict]) -> list[dict]:
    """The emergency log's failed-recovery incidents about Ollama (scenario 2 STEP 4)."""
    return [e for e in outages_logged(entries, "ollama_down") if e.get("recovery") == "failed"]


def failed_restarts(entries: list[dict]) -> list[dict]:
    """The gate's ``failed`` restart_service decisions about Ollama."""
    restarts = decisions(entries, "restart_service")
    return [d for d in restarts if d["target"] == "ollama" and d["decision"] == "failed"]


def test_ollama_whose_restart_fails_while_offline_raises_one_distress_signal(
    policy, clock, evidence, probes, faults, deployment
):
    """OFFLINE + Ollama stopped, its store broken: restarts tried and failed, one distress."""
    store = faults.make("break-ollama-store")
    stop = faults.stop("ollama")
    rto_sop = policy.rto.ollama_minutes
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock), store, stop:
            rto = clock.deadline(rto_sop)
            # The script's restart, retried by the remediation loop: two failures at least,
            # so that "one signal" below is one for an outage, not one for one attempt.
            wait_until(
                lambda: failed_restarts(probes.emergency_log()),
                lambda seen: len(seen) >= 2,
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe="two failed restart_service ollama decisions within Ollama's RTO",
            )
            logged = wait_until(
                lambda: recovery_failures(probes.emergency_log()),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe="the 'Ollama recovery FAILED' incident in the emergency log",
            )
            spool = deployment.locate(logged[0]["distress_file"])
            lines = wait_until(
                lambda: (deployment.read(spool) or b"").decode().splitlines(),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe=f"the distress line in the father's spool {spool}",
            )
            # Read after the spool: a signal raised before its log entry would show here.
            assert len(recovery_failures(probes.emergency_log())) == 1
            more = 2 * policy.deployment.remediation_interval_minutes
            clock.hold(more, "two more remediation rounds: retries must tell the father nothing")
            lines = (deployment.read(spool) or b"").decode().splitlines()
            tries = failed_restarts(probes.emergency_log())
            evidence.record("note", "drill", failed_restarts=len(tries), distress_lines=len(lines))
            assert len(lines) == 1, f"one distress signal for one outage: {lines}"
            assert lines[0].startswith("EMERGENCY: Ollama recovery failed at "), lines
            [incident] = recovery_failures(probes.emergency_log())
            assert incident["severity"] == policy.severity_of("ollama_down"), incident
            assert "Ollama recovery FAILED" in incident["reason"], incident
            # Only SOP 4's green-list restart, only on its own while OFFLINE.
            assert {d["source"] for d in tries} == {"autonomous"}, tries
            acted = [
                e
                for e in probes.emergency_log()
                if e.get("kind") == "decision" and e.get("decision") in ("executed", "failed")
            ]
            assert {e["action"] for e in acted} == {"restart_service"}, acted
            # The cause removed, the agent's next restart brings Ollama back.
            store.revert()
            wait_until(
                lambda: probes.healthy("ollama"),
                timeout_s=max(rto.remaining_s(), probes.poll_interval_s),
                describe="Ollama healthy again once its store is back, within its RTO",
            )
    steady_state("after", probes, policy, evidence)
    # Online again (re-sync done, SOP 5.2): the father holds the incident, once, read over HTTP.
    uploaded = recovery_failures(probes.dispatcher_log())
    assert len(uploaded) == 1, f"the dispatcher's copy: one failed recovery: {uploaded}"
