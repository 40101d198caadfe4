"""One verdict per invariant over many histories (the generated schedules' drill)."""

from __future__ import annotations

from sop.checker import Divergence, combine
from sop.checker.verdict import held, not_exercised, violated

BROKEN = Divergence(3.0, "SOP 2", "OFFLINE by 3", "online", ("history:mode#1",))


def test_a_violation_in_any_history_is_the_verdict_and_held_needs_one_that_held() -> None:
    first = (held("detection", "SOP 2"), not_exercised("actions", "SOP 4", "no OFFLINE"))
    second = (violated("detection", "SOP 2", BROKEN), not_exercised("actions", "SOP 4", "none"))
    third = (held("detection", "SOP 2"), held("actions", "SOP 4"))
    detection, actions = combine([first, second, third])
    assert (detection.status, detection.divergence) == ("violated", BROKEN)
    assert actions.status == "held"
    assert actions.note == "held in 1 of 3 histories, not exercised in the rest"
    (never,) = combine([(not_exercised("recovery", "SOP 5", "no outage"),)])
    assert never.status == "not_exercised"
    assert combine([]) == ()
