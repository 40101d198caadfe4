"""evidence.json follows its documented JSON Schema (reports/evidence.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path

from reports.schema import evidence_schema, schema_problems


def test_the_recorders_evidence_validates(run_dir: Path) -> None:
    document = json.loads((run_dir / "evidence.json").read_text(encoding="utf-8"))
    assert schema_problems(document) == []
    assert document["run"]["policy_snapshot"]["scenario_a"]["silence_minutes"] == 15
    assert document["run"]["environment"]["tools"]["sopdrill"]


def test_departures_are_named_by_their_path(run_dir: Path) -> None:
    document = json.loads((run_dir / "evidence.json").read_text(encoding="utf-8"))
    document["journal"][0]["status"] = "fine"
    del document["events"][3]["at_mono"]
    document["events"][4]["at_wall"] = "yesterday"
    problems = schema_problems(document)
    assert any(p.startswith("$.journal[0].status") for p in problems), problems
    assert any(p.startswith("$.events[3]") and "at_mono" in p for p in problems), problems
    assert any(p.startswith("$.events[4].at_wall") for p in problems), problems


def test_a_detection_event_must_carry_its_window(run_dir: Path) -> None:
    document = json.loads((run_dir / "evidence.json").read_text(encoding="utf-8"))
    detection = next(e for e in document["events"] if e["data"].get("detection"))
    del detection["data"]["within_window"]
    assert any("within_window" in p for p in schema_problems(document))


def test_the_schema_documents_every_event_kind() -> None:
    from sop.events import EVENT_KINDS

    kinds = evidence_schema()["$defs"]["event"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(EVENT_KINDS)
