"""SOP 5: recovery and re-sync once the dispatcher is back.

After a Scenario A outage the dispatcher is started again. The agent must go through
``recovering`` to ``online``, stop autonomous actions first (5.1), upload its emergency log
until the dispatcher holds it entry for entry (5.2) and request an integrity check (5.3),
which the dispatcher answers ``ok``.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from fixtures.lifecycle import offline_by_kill, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until

#: A service on the agent's host that SOP 4 lets the agent restart while OFFLINE.
RESTARTABLE = "ollama"


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 5)
def test_recovery_stops_actions_uploads_log_and_requests_integrity_check(
    policy, clock, evidence, probes, faults
):
    """Dispatcher back after OFFLINE: actions stop, log re-synced entry for entry, checked."""
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        with offline_by_kill(faults, probes, watch, policy, clock) as offline:
            pass
        # ``recovering`` may last less than one poll; the emergency log keeps it (below).
        watch.wait_for(
            "online",
            timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
            after_mono=offline.at_mono,
        )
    steady_state("after", probes, policy, evidence)
    entries = probes.emergency_log()
    modes = [e["mode"] for e in entries if e.get("kind") == "state"]
    assert modes[:3] == ["offline", "recovering", "online"], modes
    steps = [e["step"] for e in entries if e.get("kind") == "resync"]
    assert steps[: len(policy.recovery_steps)] == list(policy.recovery_steps), steps
    stopped_at = next(i for i, e in enumerate(entries) if e.get("step") == policy.recovery_steps[0])
    acted_after = [
        e
        for e in entries[stopped_at:]
        if e.get("kind") == "decision" and e.get("source") == "autonomous"
    ]
    assert acted_after == [], "SOP 5.1: no autonomous action once re-sync began"
    received = wait_until(
        probes.dispatcher_log,
        lambda seen: seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher's copy of the emergency log to equal the agent's",
    )
    assert [e["hash"] for e in received] == [e["hash"] for e in probes.emergency_log()]
    checks = [c for c in probes.integrity_checks() if c.get("agent") == "agent"]
    assert checks, "SOP 5.3: the agent must request an integrity check"
    assert checks[-1]["status"] == "ok", checks[-1]


#: Remediation rounds the held-up re-sync spans with a service down (SOP 5.1 window).
HELD_ROUNDS = 4


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(5)
def test_no_autonomous_action_while_resync_is_held_up(policy, clock, evidence, probes, faults):
    """The dispatcher back but the agent's link to it cut: heartbeats end OFFLINE, re-sync
    cannot finish. A service that goes down meanwhile is not restarted, neither by the
    agent's own rounds nor at a local request: SOP 5.1 stops the actions taken without
    the dispatcher once re-sync begins, however long it takes."""
    interval = policy.deployment.remediation_interval_minutes
    beat = policy.deployment.heartbeat_interval_minutes
    with probes.watch_modes() as watch, ExitStack() as held:
        steady_state("before", probes, policy, evidence)
        with offline_by_kill(faults, probes, watch, policy, clock) as offline:
            held.enter_context(faults.link_down(("dispatcher",)))
        # The restarted dispatcher's heartbeats reach the agent over the other link.
        watch.wait_for(
            "recovering",
            timeout_s=clock.wall_seconds(2 * beat + DETECTION_TOLERANCE_MINUTES),
            after_mono=offline.at_mono,
        )
        held.enter_context(faults.stop(RESTARTABLE))
        clock.hold(
            HELD_ROUNDS * interval + DETECTION_TOLERANCE_MINUTES,
            f"re-sync held up with {RESTARTABLE} down",
        )
        # A person on the host asks for the restart SOP 4 would allow while OFFLINE.
        with faults.action_request("restart_service", RESTARTABLE) as asked:
            verdict = asked.verdicts["local"]
        assert verdict["status"] == 403, f"a local action during re-sync: {verdict}"
        assert probes.agent_state()["mode"] == "recovering", "re-sync must still be held up"
        assert not probes.healthy(RESTARTABLE), (
            f"{RESTARTABLE} restarted while the agent re-synced (SOP 5.1: actions stop)"
        )
        entries = probes.emergency_log()
        began = next(i for i, e in enumerate(entries) if e.get("kind") == "resync")
        acted = [e for e in entries[began:] if e.get("decision") == "executed"]
        assert acted == [], f"SOP 5.1: actions executed during re-sync: {acted}"
    steady_state("after", probes, policy, evidence)
