"""A clean drill is judged held on every invariant it exercises, and round-trips as evidence."""

from __future__ import annotations

from typing import Any

from sop.checker import InvariantVerdict, check
from sop.history import History


def test_a_clean_killed_and_restored_drill_holds_everywhere(story: Any) -> None:
    verdicts = check(story.run(), story.policy)
    assert [(v.invariant, v.status) for v in verdicts] == [
        ("detection", "held"),
        ("heartbeat validity", "not_exercised"),
        ("notification", "held"),
        ("actions", "held"),
        ("recovery", "held"),
        ("incident updates", "held"),
    ], [v.describe() for v in verdicts]


def test_not_co_located_and_never_restored_holds(story: Any) -> None:
    verdicts = check(story.run(restore_at=None, co_located=False), story.policy)
    statuses = {v.invariant: v.status for v in verdicts}
    assert statuses["detection"] == "held", [v.describe() for v in verdicts]
    assert statuses["recovery"] == "not_exercised"


def test_verdicts_survive_json(story: Any) -> None:
    history = story.drop(story.run(), lambda r: type(r).__name__ == "Delivery")
    for verdict in check(history, story.policy):
        assert InvariantVerdict.from_dict(verdict.to_dict()) == verdict


def test_an_empty_history_exercises_nothing(story: Any) -> None:
    verdicts = check(History("empty", story.facts), story.policy)
    assert {v.status for v in verdicts} == {"not_exercised"}
    assert len(verdicts) == 6
