"""SOP 4 kill_runaway: a process above the RAM threshold for longer than the window.

While OFFLINE a runaway in the agent's host scope is killed (SIGKILL, as the OS reports
it); one named on the policy's allowlist (``backupd``) is spared. Neither is touched while
the dispatcher is online. The burner holds resident memory rather than spinning a CPU: on
a two-core CI machine a spinner's share dips under the threshold whenever the SUT is busy,
which restarts SOP 4's window; memory held stays over it, so the drill tests the SOP and
not the scheduler.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import decisions, offline_by_storm, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
@pytest.mark.parametrize("allowlisted", [False, True], ids=["runaway", "allowlisted"])
def test_runaway_killed_offline_allowlisted_spared(
    allowlisted, policy, clock, evidence, probes, faults
):
    """RAM burner over the limit past the window: killed while offline unless allowlisted."""
    rule = policy.green_list.kill_runaway
    round_minutes = policy.deployment.remediation_interval_minutes
    # Halfway between the SOP's threshold and all of the host's memory: plainly over it.
    burner = faults.burn_ram(allowlisted=allowlisted, percent=(rule.ram_percent_above + 100) / 2)
    assert (burner.process_name in rule.allowlist) is allowlisted
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with burner:
            # Past the SOP window while online: over the limit long enough, yet not killed.
            clock.hold(
                rule.sustained_minutes + 2 * round_minutes,
                "a runaway past SOP 4's window while the dispatcher is online",
            )
            assert burner.alive(), "killed while online: SOP 4 acts only while offline"
            with offline_by_storm(faults, watch, policy, clock):
                if allowlisted:
                    clock.hold(
                        2 * round_minutes + DETECTION_TOLERANCE_MINUTES,
                        "remediation rounds while offline with an allowlisted burner",
                    )
                    assert burner.alive(), f"{burner.process_name} is allowlisted: spared"
                    assert burner.process_state() == "running", "its host's ps says it runs"
                    asked = decisions(probes.emergency_log(), "kill_runaway")
                    assert [d["decision"] for d in asked] == ["refused"], asked
                    assert asked[0]["target"] == str(burner.pid)
                else:
                    wait_until(
                        lambda: not burner.alive(),
                        timeout_s=clock.wall_seconds(
                            2 * round_minutes + DETECTION_TOLERANCE_MINUTES
                        ),
                        describe=f"the runaway {burner.process_name} (pid {burner.pid}) killed",
                    )
                    assert burner.killed_by_signal() == "SIGKILL"
                    kills = wait_until(
                        lambda: decisions(probes.emergency_log(), "kill_runaway"),
                        timeout_s=clock.wall_seconds(round_minutes),
                        describe="the kill_runaway decision in the emergency log",
                    )
                    assert [(d["target"], d["decision"]) for d in kills] == [
                        (str(burner.pid), "executed")
                    ]
    steady_state("after", probes, policy, evidence)
