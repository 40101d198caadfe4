"""SOP 4 kill_runaway: a process above the RAM threshold for longer than the window.

While OFFLINE a runaway in the agent's host scope is killed (SIGKILL, as the OS reports
it); one named on the policy's allowlist (``backupd``) is spared, and so is one holding
half the bar (SOP 4: ">80%"). None is touched while the dispatcher is online. The burner
holds resident memory rather than spinning a CPU: on a two-core CI machine a spinner's
share dips under the threshold whenever the SUT is busy, which restarts SOP 4's window;
memory held stays over it, so the drill tests the SOP and not the scheduler.

A process killed for its memory is an incident too: cell0-incident-runbook.md "P1 - High
Memory Usage", P1 by the policy's severity table. The killed runaway is one ``high_memory``
incident in the emergency log, P1, naming its pid, written before the kill's decision; a
spared burner is none.
"""

from __future__ import annotations

import time

import pytest

from fixtures.lifecycle import decisions, offline_by_storm, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until

#: Remediation rounds the agent is given, once OFFLINE, to decide on a candidate. SOP 4
#: states no latency for it; this is the drill's bound. Two rounds were seen to pass
#: without the allowlisted burner's refusal in CI's nightly (the refusal is logged, just
#: later), so four: still well inside the minute the SOP's window is measured in.
ROUNDS_TO_DECIDE = 4

#: Case -> (over SOP 4's bar, named on its allowlist).
CASES = {"runaway": (True, False), "allowlisted": (True, True), "under_the_bar": (False, False)}


def high_memory(entries):
    """The emergency log's high_memory incident entries (cell0 "P1 - High Memory Usage")."""
    return [
        e for e in entries if e.get("kind") == "incident" and e.get("category") == "high_memory"
    ]


def assert_one_p1_before_the_kill(policy, entries, pid: int) -> None:
    """One P1 high_memory incident about ``pid``, on disk before the kill's decision."""
    incidents = high_memory(entries)
    assert [(i["component"], i["severity"]) for i in incidents] == [
        (str(pid), policy.severity_of("high_memory"))
    ], incidents
    [kill] = [d for d in decisions(entries, "kill_runaway") if d["target"] == str(pid)]
    assert incidents[0]["seq"] < kill["seq"], "the P1 is logged before the kill"


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
@pytest.mark.parametrize("case", list(CASES))
def test_runaway_killed_offline_allowlisted_spared(case, policy, clock, evidence, probes, faults):
    """RAM burner past the window: killed while offline if over the bar and not
    allowlisted; an allowlisted one, or one under the bar, is spared."""
    over, allowlisted = CASES[case]
    rule = policy.green_list.kill_runaway
    round_minutes = policy.deployment.remediation_interval_minutes
    # Over: halfway between the SOP's bar and all of the host's memory, plainly over it.
    # Under: half the bar, plainly under it however the host's other processes move.
    percent = (rule.ram_percent_above + 100) / 2 if over else rule.ram_percent_above / 2
    burner = faults.burn_ram(allowlisted=allowlisted, percent=percent)
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
                bound = ROUNDS_TO_DECIDE * round_minutes + DETECTION_TOLERANCE_MINUTES
                if not over or allowlisted:
                    if over:
                        # The allowlisted one is considered and refused (logged), never killed.
                        asked = wait_until(
                            lambda: decisions(probes.emergency_log(), "kill_runaway"),
                            timeout_s=clock.wall_seconds(bound),
                            describe=f"the kill_runaway decision on {burner.process_name}",
                        )
                    else:
                        # One under the bar is no candidate at all, however long it runs.
                        clock.hold(bound, f"remediation rounds while offline, burner {case}")
                        asked = decisions(probes.emergency_log(), "kill_runaway")
                    assert burner.alive(), f"{burner.process_name} is {case}: spared"
                    assert burner.process_state() == "running", "its host's ps says it runs"
                    assert [d["decision"] for d in asked] == (["refused"] if over else []), asked
                    if asked:
                        assert asked[0]["target"] == str(burner.pid)
                    assert high_memory(probes.emergency_log()) == [], "spared: no P1 logged"
                else:
                    wait_until(
                        lambda: not burner.alive(),
                        timeout_s=clock.wall_seconds(bound),
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
                    assert_one_p1_before_the_kill(policy, probes.emergency_log(), burner.pid)
    steady_state("after", probes, policy, evidence)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
def test_a_runaway_that_starts_offline_is_killed_only_after_the_window(
    policy, clock, evidence, probes, faults
):
    """A runaway born while OFFLINE: killed once it has been over the bar for more than
    the SOP window, never sooner (SOP 4: ">80% CPU/RAM for >5 minutes"), its P1 logged first."""
    rule = policy.green_list.kill_runaway
    round_minutes = policy.deployment.remediation_interval_minutes
    burner = faults.burn_ram(allowlisted=False, percent=(rule.ram_percent_above + 100) / 2)
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_storm(faults, watch, policy, clock):
            # Before the burner starts (its fault is stamped once its memory is held, which
            # takes a while): it cannot be older.
            born = time.monotonic()
            with burner:
                wait_until(
                    lambda: not burner.alive(),
                    timeout_s=clock.wall_seconds(
                        rule.sustained_minutes + 2 * round_minutes + DETECTION_TOLERANCE_MINUTES
                    ),
                    describe=f"the runaway {burner.process_name} (pid {burner.pid}) killed",
                )
                # Seen dead after the fact: the measured life can only be longer than it was.
                lived = clock.sop_minutes(time.monotonic() - born)
                assert lived > rule.sustained_minutes, (
                    f"killed {lived:.2f} SOP-min after it began: not over the bar for more "
                    f"than {rule.sustained_minutes:g} min"
                )
                assert burner.killed_by_signal() == "SIGKILL"
                entries = wait_until(
                    probes.emergency_log,
                    lambda seen: bool(decisions(seen, "kill_runaway")),
                    timeout_s=clock.wall_seconds(round_minutes),
                    describe="the kill_runaway decision in the emergency log",
                )
                assert_one_p1_before_the_kill(policy, entries, burner.pid)
    steady_state("after", probes, policy, evidence)
