"""bench/reliability.py's counting: SOP failures and harness errors told apart, runs kept."""

from __future__ import annotations

import json
from pathlib import Path

from reliability import Tally, read_journal


def test_outcomes_are_counted_apart_and_every_drill_that_did_not_pass_is_named() -> None:
    tally = Tally()
    tally.add(
        "smoke #1", [{"nodeid": "a", "outcome": "passed"}, {"nodeid": "b", "outcome": "passed"}]
    )
    tally.add(
        "smoke #2",
        [
            {"nodeid": "a", "outcome": "failed", "reason": "OFFLINE declared\\n early"},
            {"nodeid": "b", "outcome": "harness_error", "reason": "ConnectError"},
            {"nodeid": "c", "outcome": "skipped", "reason": "no engine"},
        ],
    )
    summary = tally.summary()
    assert (summary["runs"], summary["drills"], summary["passed"]) == (2, 5, 2)
    assert (summary["sop_failures"], summary["harness_errors"]) == (2, 1)
    assert summary["not_passed"] == [
        "smoke #2: a (failed): OFFLINE declared\\n early",
        "smoke #2: b (harness_error): ConnectError",
        "smoke #2: c (skipped): no engine",
    ]


def test_a_run_without_evidence_reads_as_none(tmp_path: Path) -> None:
    assert read_journal(tmp_path) is None
    (tmp_path / "evidence.json").write_text(json.dumps({"journal": [{"outcome": "passed"}]}))
    assert read_journal(tmp_path) == [{"outcome": "passed"}]


def test_the_largest_scale_held_is_the_last_before_the_first_that_failed() -> None:
    from time_scale import largest_held

    figures = [
        {"scale": 240.0, "clean": False},
        {"scale": 60.0, "clean": True},
        {"scale": 480.0, "clean": True},  # passing above a failure does not count
        {"scale": 120.0, "clean": True},
    ]
    assert largest_held(figures) == 120.0
    assert largest_held([{"scale": 60.0, "clean": False}]) is None
