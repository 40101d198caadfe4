"""Gitea lost while the agent is online (emergency-procedures.md severity table, P0).

The table's P0 row, "CRITICAL: Immediate — Complete system failure, lineage at risk", names
"Gitea lost": not scenario 3's stopped service (a P1, drills/test_managed_service_stopped.py)
but its data gone. The fault empties Gitea's data directory and restarts it, as a lost disk
would: Gitea answers its health check, the agent's incidents repository answers 404. The
agent logs one ``gitea_lost`` incident with the severity the policy gives it, then tells
0x01 at once (the flow's "P0 -> Immediate human alert"), once per loss however many looks
see it, and recreates nothing: restore is not on the SOP 4 green list, so the repository
stays gone until the harness puts the data back.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from fixtures.gitea import GiteaClient
from fixtures.lifecycle import decisions, sop_since, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]

#: The incident kind of the severity table (sop/offline-emergency.yaml ``severity``).
KIND = "gitea_lost"
_FOUND, _GONE = 200, 404


def incidents(entries: list[dict]) -> list[dict]:
    """The emergency log's ``gitea_lost`` incident entries."""
    return [e for e in entries if e.get("kind") == "incident" and e.get("category") == KIND]


def told(probes, severity: str) -> list[dict]:
    """The messages to 0x01 (the Discord stand-in's inbox) about the lost Gitea."""
    head = f"INCIDENT ({severity}): {KIND}"
    return [m for m in probes.sink_messages("discord") if m["content"].startswith(head)]


def test_gitea_data_lost_while_online_is_one_p0_told_to_0x01_and_nothing_recreated(
    policy, clock, evidence, probes, faults, deployment
):
    """Gitea's data lost, the agent online: one P0 logged, then told to 0x01; no restore."""
    assert deployment.credentials is not None, "the run's Gitea token reads the repository"
    gitea = GiteaClient(probes.description, deployment.credentials.gitea_token)
    severity = policy.severity_of(KIND)
    # The agent looks once a heartbeat interval, and reports at its next remediation round.
    look = policy.deployment.heartbeat_interval_minutes
    within = look + 2 * policy.deployment.remediation_interval_minutes
    within += DETECTION_TOLERANCE_MINUTES
    lose = faults.lose_gitea_data()
    steady_state("before", probes, policy, evidence)
    assert gitea.repository_status() == _FOUND
    with lose:
        assert gitea.repository_status() == _GONE, "the fault must lose the repository"
        assert probes.healthy("gitea"), "a lost Gitea still answers (not scenario 3's outage)"
        entries = wait_until(
            probes.emergency_log,
            incidents,
            timeout_s=clock.wall_seconds(within),
            describe=f"the {KIND} incident in the emergency log",
        )
        logged_sop = sop_since(clock, lose.injected_at_mono, time.monotonic())
        [incident] = incidents(entries)
        assert (incident["severity"], incident["component"]) == (severity, "gitea"), incident
        messages = wait_until(
            lambda: told(probes, severity),
            timeout_s=clock.wall_seconds(within),
            describe=f"the {severity} incident told to 0x01 at once (immediate human alert)",
        )
        told_sop = sop_since(clock, lose.injected_at_mono, time.monotonic())
        evidence.record(
            "note",
            "drill",
            gitea_lost_logged_sop_minutes=round(logged_sop, 3),
            gitea_lost_told_sop_minutes=round(told_sop, 3),
        )
        [message] = messages
        assert datetime.fromisoformat(incident["at"]) <= datetime.fromisoformat(
            message["received_at"]
        ), "logged before 0x01 was told"
        clock.hold(2 * look, "more looks with the data still gone: one incident, no restore")
        assert gitea.repository_status() == _GONE, "the agent recreated its repository"
        executed = [
            e for e in probes.emergency_log()
            if e.get("kind") == "decision" and e.get("decision") == "executed"
        ]  # fmt: skip
        assert executed == [], f"the agent acted on its own: {executed}"
        assert decisions(probes.emergency_log(), "restart_service") == []
        assert len(incidents(probes.emergency_log())) == 1, "one loss, one incident"
        assert len(told(probes, severity)) == 1, "one loss, one message to 0x01"
    assert gitea.repository_status() == _FOUND, "the harness put the data back"
    steady_state("after", probes, policy, evidence)
