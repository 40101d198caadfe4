"""An agent without a valid policy: one note at start, the inbox shut, its state saying why."""

from __future__ import annotations

from typing import Any

from sop.timescale import TimeScale
from sut.agent.clock import SopClock
from sut.agent.failclosed import FailClosed

ERROR = "sop/offline-emergency.yaml: scenario_a.silence_minutes: expected a positive number, got -3"


def test_it_announces_itself_once_in_the_emergency_log():
    recorded: list[tuple[str, dict[str, Any]]] = []

    FailClosed(ERROR).announce(lambda kind, **fields: recorded.append((kind, fields)))

    note = {"message": "policy invalid; every action refused", "error": ERROR}
    assert recorded == [("note", note)]


def test_its_inbox_refusal_and_state_name_the_policy_error():
    closed = FailClosed(ERROR)
    state = closed.state_view(SopClock(TimeScale(1)))

    assert closed.inbox_refusal == f"policy invalid; failing closed: {ERROR}"
    assert state["mode"] == FailClosed.mode == "online"
    assert state["policy_valid"] is False
    assert state["policy_error"] == ERROR
    assert state["trigger"] is None
    assert state["detected_at"] is None
