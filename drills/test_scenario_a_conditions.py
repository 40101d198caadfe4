"""SOP 2A: Scenario A needs ALL its conditions; each one alone, or two of three, is no outage.

The conditions: no valid heartbeat for the silence threshold (2A.1), the last probes of
the dispatcher's API failed (2A.2), and, where the dispatcher runs on the agent's host,
its process dead or zombie (2A.3). Each case cuts one proxy link or both, so the
dispatcher itself keeps running:

- ``heartbeats_cut``: the dispatcher's heartbeats never reach the agent, its API answers;
- ``api_failing``: the agent's probes fail, valid heartbeats keep arriving;
- ``silence_and_api_failing``: both, with the process alive. Co-located, 2A.3 never comes
  true: no OFFLINE however long. On another host 2A.3 does not apply: OFFLINE is due in
  the Scenario A window, and the drill judges it there.

Each is held past the silence threshold, the probe failures and the window's far end.
"""

from __future__ import annotations

import pytest

from fixtures.lifecycle import outage_timeline
from fixtures.tolerance import held_past_detection
from sop.observations import ApiProbe, Heartbeat, ProcessCheck

#: Case -> the proxy links it disables (docs/harness.md, "Network links").
CASES = {
    "heartbeats_cut": ("agent_inbox",),
    "api_failing": ("dispatcher",),
    "silence_and_api_failing": ("dispatcher", "agent_inbox"),
}
#: What the agent's probe meets on a disabled link: nothing listens (SOP 2A.2 failure).
CUT_OUTCOME = "unreachable"


def case_timeline(case: str, policy, heartbeat_at: float, began: float, hold: float):
    """What the agent can observe in ``case``: the oracle's input."""
    every = policy.scenario_a.api_probe_interval_minutes
    beat = policy.deployment.heartbeat_interval_minutes
    if case == "silence_and_api_failing":
        return outage_timeline(policy, heartbeat_at, began, CUT_OUTCOME, "running", hold)
    probes = int(hold / every) + 1
    if case == "heartbeats_cut":
        answers = [ApiProbe(began + n * every, "ok") for n in range(probes)]
        return [Heartbeat(heartbeat_at), *answers, ProcessCheck(began, "running")]
    beats = [Heartbeat(heartbeat_at + n * beat) for n in range(int(hold / beat) + 2)]
    failures = [ApiProbe(began + n * every, CUT_OUTCOME) for n in range(1, probes + 1)]
    return [*beats, *failures, ProcessCheck(began, "running")]


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.parametrize("case", list(CASES))
def test_scenario_a_needs_all_its_conditions(case, policy, drill, faults):
    """One link or both cut, the dispatcher alive: OFFLINE only where all of 2A hold."""
    hold = held_past_detection(policy)
    with drill.steady(), drill.inject(faults.link_down(CASES[case])) as outage:

        def timeline(heartbeat_at):
            return case_timeline(case, policy, heartbeat_at, outage.began, hold)

        if not drill.offline_due(outage, timeline, until=hold):
            drill.expect_no_offline(timeline(0.0), hold, f"{' and '.join(CASES[case])} cut")
        else:
            # A cut link may make the probe wait out its timeout (SOP 2A.2).
            timeout = policy.deployment.api_probe_timeout_minutes
            drill.expect_offline("scenario_a", outage, timeline, extra_minutes=timeout)
            drill.expect_alert("scenario_a")


def dying_timeline(policy, killed_at: float, first_probe_at: float) -> list:
    """Heartbeats gone since the origin, the API answering until ``killed_at``, then each
    probe from ``first_probe_at`` on failing and the process dead."""
    rule = policy.scenario_a
    every = rule.api_probe_interval_minutes
    answered = [ApiProbe(n * every, "ok") for n in range(int(killed_at / every) + 1)]
    failed = [
        ApiProbe(first_probe_at + n * every, CUT_OUTCOME) for n in range(rule.api_failures + 1)
    ]
    return [Heartbeat(0.0), *answered, *failed, ProcessCheck(killed_at, "dead")]


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
def test_a_dispatcher_dying_after_the_silence_is_declared_after_its_failed_probes(
    policy, clock, drill, faults
):
    """Heartbeats cut past the silence while the API answers: no OFFLINE. Then the
    dispatcher dies: OFFLINE once ``api_failures`` probes failed in a row, not at the
    first (SOP 2A.2: the silence alone, or one failure, is not enough)."""
    rule = policy.scenario_a
    every = rule.api_probe_interval_minutes
    with drill.steady(), drill.inject(faults.link_down(("agent_inbox",))) as outage:
        clock.hold(rule.silence_minutes + every, "heartbeats cut past the silence, API up")
        assert drill.watch.first("offline") is None, "silence alone is not Scenario A"
        kill = faults.kill("dispatcher")
        with kill:
            # From the signal's side of the inject: the agent's probes may fail from the
            # kill on, before the harness has seen the process dead (a CI run met 18.04
            # against an early bound of 18.06 counted from the inject's end).
            killed_at = clock.sop_minutes(kill.began_at_mono - outage.origin_mono)
            # The agent's next probe comes at once at the soonest, one interval on at the
            # latest (its probes keep their own phase).
            drill.expect_offline_between(
                "scenario_a",
                outage,
                dying_timeline(policy, killed_at, killed_at),
                dying_timeline(policy, killed_at, killed_at + every),
            )
            drill.expect_alert("scenario_a")
