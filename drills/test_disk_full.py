"""SOP 4 rotate_logs: disk above 90 % while OFFLINE. Logs are rotated; application data and
backups stay untouched, byte for byte; nothing is done while the dispatcher is online, nor
while the volume is under the bar."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from fixtures.lifecycle import decisions, offline_by_storm, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
def test_full_disk_while_offline_rotates_logs_and_spares_data(
    policy, clock, evidence, probes, faults
):
    """Log volume filled past the threshold: rotated only offline; data and backups intact."""
    above = policy.green_list.rotate_logs.disk_usage_percent_above
    fill = faults.fill_disk(percent=(above + 100) / 2)  # halfway between threshold and full
    host = faults.agent_host()
    protected = {str(d): probes.tree_digest(d) for d in host.protected_dirs}
    assert protected, "the agent must have protected dirs (data, backups) to spare"
    interval = policy.deployment.remediation_interval_minutes
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with fill:
            clock.hold(2 * interval, "two remediation rounds while the dispatcher is online")
            assert fill.usage_percent() > above, "no rotation without OFFLINE (SOP 4)"
            assert decisions(probes.emergency_log(), "rotate_logs") == []
            with offline_by_storm(faults, watch, policy, clock):
                wait_until(
                    fill.usage_percent,
                    lambda used: used <= above,
                    timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
                    describe=f"the log volume back at or below {above:g} %",
                )
                rotated = decisions(probes.emergency_log(), "rotate_logs")
                assert [d["decision"] for d in rotated][:1] == ["executed"]
                assert rotated[0]["source"] == "autonomous"
                # SOP 4: only logs are rotated; nothing outside the log directory is touched.
                result = rotated[0]["result"]
                touched = [PurePosixPath(p) for p in result["removed"] + result["truncated"]]
                assert touched, f"a rotation that freed space must name what it touched: {result}"
                outside = [p for p in touched if fill.log_dir not in p.parents]
                assert not outside, f"rotation touched files outside {fill.log_dir}: {outside}"
                # Read while the volume is the agent's: the audit logs retained inside the log
                # directory are on it (a mounted volume shows them only until its revert).
                for directory, before in protected.items():
                    assert probes.tree_digest(directory) == before, f"rotation touched {directory}"
    steady_state("after", probes, policy, evidence)
    for directory, before in protected.items():
        assert probes.tree_digest(directory) == before, f"{directory} changed (SOP 4 red list)"


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
def test_a_volume_under_the_bar_is_not_rotated_while_offline(
    policy, clock, evidence, probes, faults
):
    """Log volume filled to under the threshold while OFFLINE: nothing rotated (SOP 4:
    rotate only "if disk usage exceeds 90%")."""
    above = policy.green_list.rotate_logs.disk_usage_percent_above
    # As far under the bar as the over case is over it: plainly under.
    fill = faults.fill_disk(percent=above - (100 - above) / 2)
    interval = policy.deployment.remediation_interval_minutes
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with fill, offline_by_storm(faults, watch, policy, clock):
            clock.hold(
                2 * interval + DETECTION_TOLERANCE_MINUTES,
                "remediation rounds while offline with the volume under the bar",
            )
            executed = [
                d for d in decisions(probes.emergency_log(), "rotate_logs")
                if d["decision"] == "executed"
            ]  # fmt: skip
            assert executed == [], f"rotated under the bar: {executed}"
    steady_state("after", probes, policy, evidence)
