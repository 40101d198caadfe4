"""Escalation matrix: a distress signal unresolved at its timeout is escalated once, not again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sop.policy import load_policy
from sut.agent.escalation import EscalationWatch, attempts
from sut.agent.incidents import distress_signal

POLICY = load_policy()
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEVEL1 = timedelta(minutes=POLICY.escalation.self_healing_minutes)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def signal(component: str = "ollama") -> dict[str, object]:
    return distress_signal(
        "ops",
        component,
        f"{component} is down",
        severity=POLICY.severity_of("ollama_down"),
        last_success=None,
        attempts=1,
        escalation_wall_s=LEVEL1.total_seconds(),
        now=T0,
    )


def watching(clock: Clock, key: str = "service:ollama") -> EscalationWatch:
    watch = EscalationWatch(now=clock)
    watch.open(key, "ollama_down", signal(), decisions_before=0)
    return watch


def test_a_signal_is_escalated_at_its_timeout_not_before_and_only_once():
    clock = Clock()
    watch = watching(clock)
    clock.now = T0 + LEVEL1 - timedelta(seconds=1)
    assert watch.due([]) == []
    clock.now = T0 + LEVEL1
    [overdue] = watch.due([])
    assert overdue.kind == "ollama_down"
    assert overdue.severity == "P1"
    clock.now = T0 + 10 * LEVEL1
    assert watch.due([]) == [], "never repeated"
    assert watch.is_open("service:ollama"), "escalated, still open until resolved"


def test_a_resolved_signal_is_never_escalated_and_a_new_outage_is_a_new_signal():
    clock = Clock()
    watch = watching(clock)
    watch.resolve("service:ollama")
    clock.now = T0 + 2 * LEVEL1
    assert watch.due([]) == []
    watch.open("service:ollama", "ollama_down", signal(), decisions_before=0)  # a new outage
    assert len(watch.due([])) == 1  # its timeout (from the signal) has passed


def test_a_second_signal_about_the_same_thing_keeps_the_first_one_s_timeout():
    clock = Clock()
    watch = watching(clock)
    later = {**signal(), "escalation_timeout": (T0 + 3 * LEVEL1).isoformat()}
    watch.open("service:ollama", "ollama_down", later, decisions_before=0)
    clock.now = T0 + LEVEL1
    assert len(watch.due([])) == 1


def test_the_escalation_says_what_failed_since_when_and_what_was_tried():
    clock = Clock()
    earlier = [{"action": "restart_service", "target": "ollama", "decision": "refused"}]
    watch = EscalationWatch(now=clock)
    watch.open("service:ollama", "ollama_down", signal(), decisions_before=len(earlier))
    decisions = [
        *earlier,
        {"action": "restart_service", "target": "ollama", "decision": "executed"},
        {"action": "restart_service", "target": "ollama", "decision": "executed"},
        {"action": "rotate_logs", "target": "log_dir", "decision": "executed"},
    ]
    clock.now = T0 + LEVEL1
    [overdue] = watch.due(decisions)
    assert overdue.tried[1:] == ("restart_service executed 2x",)  # the earlier one is not
    assert "distress signal to the Dispatcher" in overdue.tried[0]
    text = overdue.alert_text("ops-1")
    assert text.startswith("ESCALATION (P1): ollama_down")
    for said in ("Host: ops-1", "ollama is down", T0.isoformat(), "restart_service executed 2x"):
        assert said in text
    assert not POLICY.is_alert(text), "an escalation is not the SOP 3.1 alert"
    fields = overdue.log_fields()
    assert (fields["category"], fields["severity"], fields["since"]) == (
        "escalation",
        "P1",
        T0.isoformat(),
    )


def test_nothing_tried_is_said_so():
    clock = Clock()
    watch = watching(clock)
    clock.now = T0 + LEVEL1
    [overdue] = watch.due([{"action": "kill_runaway", "target": "42", "decision": "executed"}])
    assert overdue.tried[1:] == ("no action",)


def test_attempts_are_counted_per_action_and_verdict():
    decisions = [
        {"action": "restart_service", "target": "nginx", "decision": "refused"},
        {"action": "restart_service", "target": "nginx", "decision": "refused"},
        {"action": "restart_service", "target": "redis", "decision": "executed"},
    ]
    assert attempts(decisions, "nginx") == ("restart_service refused 2x",)
