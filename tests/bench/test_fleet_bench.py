"""bench/fleet.py's reading of a run: every fleet drill must pass; figures from the kill drill."""

from __future__ import annotations

import json
from pathlib import Path

from fleet import fleet_figures

SPREAD = {"min": 15.0, "p50": 15.1, "p99": 15.2, "max": 15.2}


def evidence(tmp_path: Path, second_outcome: str, reason: str = "") -> Path:
    kill = {
        "nodeid": "drills/test_fleet.py::test_kill",
        "outcome": "passed",
        "meta": {"fleet": {"channels": {"discord": 10}, "detection_spread": SPREAD}},
    }
    silent = {
        "nodeid": "drills/test_fleet.py::test_silent",
        "outcome": second_outcome,
        "reason": reason,
        "meta": {},
    }
    other = {"nodeid": "drills/test_other.py::test_x", "outcome": "failed", "meta": {}}
    (tmp_path / "evidence.json").write_text(
        json.dumps({"journal": {"drills": [kill, silent, other]}}), encoding="utf-8"
    )
    return tmp_path


def test_a_fleet_holds_only_when_every_fleet_drill_passed(tmp_path: Path) -> None:
    held = fleet_figures(evidence(tmp_path, "passed"))
    assert held["outcome"] == "passed"
    assert held["drills"] == {"test_kill": "passed", "test_silent": "passed"}
    assert held["detection_spread"] == SPREAD
    assert held["channels"] == {"discord": 10}


def test_one_fleet_drill_missed_is_the_verdict_with_its_reason(tmp_path: Path) -> None:
    missed = fleet_figures(evidence(tmp_path, "failed", "agent-7 not seen\n OFFLINE"))
    assert missed["outcome"] == "failed"
    assert missed["reason"] == "agent-7 not seen OFFLINE"
    assert missed["detection_spread"] == SPREAD
