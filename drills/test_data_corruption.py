"""Data corruption while OFFLINE (cell0-incident-runbook.md "P0 - Data Corruption").

The application's data fails its integrity check (a byte of one data file flipped; its
manifest still names the good digest) while the Dispatcher is offline. The runbook's
recovery (restore from a backup) is not on the SOP 4 green list, and deleting data or
backups is on its red list: the agent reports a P0 incident (logged first, told to 0x01 at
once) and never deletes, restores or overwrites data or backups on its own. Data and
backups are byte-identical to what the corruption left until the harness puts them back.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures.lifecycle import offline_by_storm, one_marker, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until

pytestmark = [pytest.mark.nightly, pytest.mark.quarterly, pytest.mark.destructive]


def incidents(entries, category):
    """The emergency log's incident entries of ``category``."""
    return [e for e in entries if e.get("kind") == "incident" and e.get("category") == category]


def test_corrupt_data_while_offline_is_reported_p0_and_left_as_it_is(
    policy, clock, evidence, probes, faults
):
    """A corrupted data file while OFFLINE: a P0 incident to 0x01; nothing restored or deleted."""
    host = faults.agent_host()
    protected = [str(d) for d in host.protected_dirs]
    assert protected, "the agent must have protected dirs (data, backups)"
    before = {d: probes.tree_digest(d) for d in protected}
    interval = policy.deployment.remediation_interval_minutes
    # The agent verifies the data once a remediation round: two of them, and the tolerance.
    within = 2 * interval + DETECTION_TOLERANCE_MINUTES
    corrupt = faults.corrupt_data()
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock):
            wait_until(
                lambda: [
                    m for m in probes.sink_messages("discord") if policy.is_alert(m["content"])
                ],
                timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
                describe="the SOP 3.1 alert on Discord before the data is corrupted",
            )
            with corrupt:
                left = {d: probes.tree_digest(d) for d in protected}
                assert left != before, "the harness's corruption must show in the digests"
                entries = wait_until(
                    probes.emergency_log,
                    lambda seen: incidents(seen, "data_corruption"),
                    timeout_s=clock.wall_seconds(within),
                    describe="the data_corruption incident in the emergency log",
                )
                [incident] = incidents(entries, "data_corruption")
                assert incident["severity"] == policy.severity_of("data_corruption")  # P0
                assert incident["files"] == [corrupt.path], incident
                told = wait_until(
                    lambda: [
                        m for m in probes.sink_messages("discord")
                        if not policy.is_alert(m["content"])
                    ],
                    timeout_s=clock.wall_seconds(within),
                    describe="the P0 incident told to 0x01 at once (P0: immediate human alert)",
                )  # fmt: skip
                [message] = told
                assert message["content"].startswith("INCIDENT (P0): data_corruption")
                assert corrupt.path.rsplit("/", 1)[-1] in message["content"]
                assert datetime.fromisoformat(incident["at"]) <= datetime.fromisoformat(
                    message["received_at"]
                ), "logged before 0x01 was told"
                clock.hold(
                    2 * interval + DETECTION_TOLERANCE_MINUTES,
                    "remediation rounds with the data corrupt: nothing restored or deleted",
                )
                # Byte-identical to what the corruption left: no restore, no delete, no rewrite.
                assert {d: probes.tree_digest(d) for d in protected} == left
                executed = [
                    e for e in probes.emergency_log()
                    if e.get("kind") == "decision" and e.get("decision") == "executed"
                ]  # fmt: skip
                assert executed == [], f"the agent acted on its own: {executed}"
                assert len([m for m in probes.sink_messages("discord") if m in told]) == 1
                assert len(incidents(probes.emergency_log(), "data_corruption")) == 1
            one_marker(probes.emergency_log())  # one OFFLINE, one marker (SOP 3.3)
    steady_state("after", probes, policy, evidence)
    assert {d: probes.tree_digest(d) for d in protected} == before, "the harness restored them"
