"""report.html from a run's evidence: verdicts, detection windows, SOP 6 checklist, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.checklist import plan_steps
from reports.errors import EvidenceUnreadable
from reports.results import junit_address

SECRET = "hmac-0f3a9c2e71b84d5a"
WALL = "2026-02-11T10:00:00+00:00"


def _event(kind: str, drill: str | None, mono: float, **data: Any) -> dict[str, Any]:
    if drill is not None:
        data["drill"] = drill
    return {
        "kind": kind,
        "at_wall": WALL,
        "at_mono": mono,
        "correlation_id": "drill-1",
        "source": "test",
        "data": data,
    }


def _entry(nodeid: str, status: str, outcome: str, plan: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "correlation_id": "drill-1",
        "started_at": WALL,
        "ended_at": WALL,
        "duration_s": 1.5,
        "status": status,
        "deviated": False,
        "outcome": outcome,
        "reason": extra.pop("reason", None),
        "meta": {"name": nodeid.rsplit("::", 1)[-1], "test_plan": plan, **extra},
    }


KILLED = "drills/test_dispatcher_killed.py::test_offline_declared_in_window"
LATE = "drills/test_dispatcher_killed.py::test_declared_late"
SKIPPED = "drills/test_disk_full.py::test_rotates_logs"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    secrets_file = tmp_path / "state" / "secrets.json"
    secrets_file.parent.mkdir()
    secrets_file.write_text(json.dumps({"hmac_key": SECRET}), encoding="utf-8")
    out = tmp_path / "run"
    out.mkdir()
    events = [
        _event("note", KILLED, 1.0, topology={"secrets_file": str(secrets_file)}),
        _event("fault_injected", KILLED, 2.0, fault="kill dispatcher"),
        _event(
            "state_change",
            KILLED,
            17.2,
            detection=True,
            trigger="scenario_a",
            declared_sop_minutes=15.2,
            window_start_sop_minutes=15.0,
            window_end_sop_minutes=16.5,
            within_window=True,
        ),
        _event(
            "state_change",
            LATE,
            30.0,
            detection=True,
            trigger="scenario_a",
            declared_sop_minutes=17.0,
            window_start_sop_minutes=15.0,
            window_end_sop_minutes=16.5,
            within_window=False,
        ),
        _event("note", LATE, 31.0, text="<script>alert(1)</script>"),
    ]
    journal = [
        _entry(KILLED, "completed", "passed", [1, 2], scenario="A"),
        # The drill's own assertion passed, but the recorded detection missed its window.
        _entry(LATE, "completed", "passed", [2]),
        _entry(SKIPPED, "aborted", "skipped", [3], reason="not on this backend"),
    ]
    document = {"schema": "sopdrill.evidence/1", "run": {"backend": "local"}, "events": events}
    document["journal"] = journal
    (out / "evidence.json").write_text(json.dumps(document), encoding="utf-8")
    cases = "".join(
        f'<testcase classname="{c}" name="{n}" time="1.5"/>'
        for c, n in (junit_address(KILLED), junit_address(LATE))
    )
    classname, name = junit_address(SKIPPED)
    cases += f'<testcase classname="{classname}" name="{name}"><skipped message="x"/></testcase>'
    cases += (
        '<testcase classname="drills.test_x" name="test_other">'
        f'<failure message="token {SECRET} leaked"/></testcase>'
    )
    (out / "junit.xml").write_text(
        f'<?xml version="1.0"?><testsuites><testsuite>{cases}</testsuite></testsuites>',
        encoding="utf-8",
    )
    return out


def test_junit_addresses_follow_pytests_mangling() -> None:
    assert junit_address("drills/test_a.py::TestX::test_y[p-1]") == (
        "drills.test_a.TestX",
        "test_y[p-1]",
    )


def test_the_report_gives_each_drill_its_verdict(run_dir: Path) -> None:
    built = build_report(run_dir)
    verdicts = {drill.nodeid: drill.verdict for drill in built.results.drills}
    assert verdicts == {KILLED: "PASS", LATE: "FAIL", SKIPPED: "SKIPPED"}
    assert not built.results.all_passed
    [other] = built.results.other_cases
    assert other.outcome == "failed"
    html = built.path.read_text(encoding="utf-8")
    assert built.path == run_dir / "report.html"
    assert "15.20 in window 15.00–16.50 SOP-min" in html
    assert "17.00 in window 15.00–16.50 SOP-min" in html
    assert "2 of 3 drills did not pass" in html


def test_the_sop_section_6_checklist_is_ticked_by_the_drills(run_dir: Path) -> None:
    items = {item.step.number: item.state for item in build_report(run_dir).checklist}
    # Step 2 has a passing and a failing drill; 3 only a skipped one; 4 and 5 none.
    assert items == {
        1: "verified",
        2: "failed",
        3: "not verified",
        4: "not covered",
        5: "not covered",
    }


def test_the_test_plan_is_read_from_the_sop_document() -> None:
    steps = plan_steps()
    assert [step.number for step in steps] == [1, 2, 3, 4, 5]
    assert steps[1].title == "Trigger Verification"
    assert "15 minutes" in steps[1].text


def test_no_artifact_keeps_a_secret_and_evidence_is_escaped(run_dir: Path) -> None:
    built = build_report(run_dir)
    assert built.redacted == ("junit.xml",)
    for path in run_dir.rglob("*"):
        assert SECRET not in path.read_text(encoding="utf-8"), path
    html = built.path.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_the_report_page_is_self_contained(run_dir: Path) -> None:
    html = build_report(run_dir).path.read_text(encoding="utf-8")
    for reference in ('src="', "<link", "@import", "http://", "https://"):
        # The only URI is the SVG namespace, which is not fetched.
        assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count(reference) == 0


def test_missing_or_foreign_evidence_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EvidenceUnreadable, match=r"evidence\.json: missing"):
        build_report(tmp_path)
    (tmp_path / "evidence.json").write_text('{"schema": "other"}', encoding="utf-8")
    with pytest.raises(EvidenceUnreadable, match=r"schema: expected 'sopdrill\.evidence/1'"):
        build_report(tmp_path)
