"""SOP 5: recovery and re-sync once the dispatcher is back.

After a Scenario A outage the dispatcher is started again. The agent must go through
``recovering`` to ``online``, stop autonomous actions first (5.1), upload its emergency log
until the dispatcher holds it entry for entry (5.2) and request an integrity check (5.3),
which the dispatcher answers ``ok``. Then the incident is closed (emergency-procedures.md
Notification Flow 5, "Close Alert -> Update all channels, Log resolution"): the resolution is
logged, and 0x01 is told once on Discord, where the alert went, within the grace the checker
gives an alert (``NOTIFY_GRACE_MINUTES``) of the return to online.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime

import pytest

from fixtures.lifecycle import offline_by_kill, one_marker, steady_state
from fixtures.tolerance import DETECTION_TOLERANCE_MINUTES
from fixtures.waiting import wait_until
from sop.checker.tolerance import NOTIFY_GRACE_MINUTES
from sop.references import NONE, Reference

#: A service on the agent's host that SOP 4 lets the agent restart while OFFLINE.
RESTARTABLE = "ollama"


def resolutions(probes, policy):
    """What 0x01 received on Discord in the resolution template (Notification Flow 5)."""
    return [m for m in probes.sink_messages("discord") if policy.is_resolution(m["content"])]


def sop_between(clock, earlier: str, later: str) -> float:
    """SOP minutes from one ISO-8601 instant to another (the agent's and a stand-in's clocks)."""
    wall_s = (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    return clock.sop_minutes(wall_s)


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(1, 5)
def test_recovery_stops_actions_uploads_log_and_requests_integrity_check(
    policy, clock, evidence, probes, faults
):
    """Dispatcher back after OFFLINE: actions stop, log re-synced entry for entry, checked;
    the alert closed on Discord, once."""
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

    # Notification Flow 5: the resolution logged, then told on Discord, where the alert went.
    [told] = wait_until(
        lambda: resolutions(probes, policy),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the resolution to 0x01 on Discord after the re-sync (Notification Flow 5)",
    )
    host = faults.agent_host().hostname
    resolved = policy.render_resolution(host, checks[-1]["status"])
    # gate4 guardrail 4: the episode's id as its marker logged it, and no issue.
    marker = one_marker(probes.emergency_log())
    reference = Reference(marker["correlation_id"], NONE)
    assert told["content"] == policy.reference.append(resolved, reference), told
    # Its outcome is logged once Discord has answered: read the log when it is there.
    entries = wait_until(
        probes.emergency_log,
        lambda seen: any(e.get("about") == "resolution" for e in seen),
        timeout_s=clock.wall_seconds(NOTIFY_GRACE_MINUTES),
        describe="the resolution's delivery in the emergency log",
    )
    online = next(e for e in entries if e.get("kind") == "state" and e.get("mode") == "online")
    [logged] = [e for e in entries if e.get("kind") == "resolution"]
    assert logged["channels"] == ["discord"], logged
    sent = [e for e in entries if e.get("about") == "resolution"]
    assert [(e["channel"], e["outcome"]) for e in sent] == [("discord", "delivered")], sent
    assert entries.index(online) < entries.index(logged) < entries.index(sent[0]), "log first"
    after_online = sop_between(clock, online["at"], told["received_at"])
    evidence.record("note", "drill", resolution_after_online_sop_minutes=round(after_online, 3))
    assert 0.0 <= after_online <= NOTIFY_GRACE_MINUTES, (
        f"resolution {after_online:.3f} SOP-min after the return to online "
        f"(within {NOTIFY_GRACE_MINUTES:g})"
    )
    # SOP 5.2's whole log: the dispatcher ends with the resolution too.
    wait_until(
        probes.dispatcher_log,
        lambda seen: logged in seen and seen == probes.emergency_log(),
        timeout_s=clock.wall_seconds(policy.rto.agent_operations_minutes),
        describe="the dispatcher's copy of the log to hold the resolution",
    )
    assert len(resolutions(probes, policy)) == 1, "told once"
    assert probes.sink_messages("signal") == [], "Discord delivered: Signal never alerted"


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
