"""report.html and its companions from a run's evidence: verdicts, figures, checklist, audit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reports.audit import AUDIT_FILE
from reports.build import build_report
from reports.checklist import plan_steps
from reports.errors import EvidenceUnreadable
from reports.results import HARNESS_VERDICT, DrillResult, JunitCase, junit_address
from sop.evidence import Detection

from .conftest import FAILED, PASSED


def test_junit_addresses_follow_pytests_mangling() -> None:
    assert junit_address("drills/test_a.py::TestX::test_y[p-1]") == (
        "drills.test_a.TestX",
        "test_y[p-1]",
    )


def test_each_drill_gets_its_verdict_and_the_sop_figures(run_dir: Path) -> None:
    built = build_report(run_dir, render_allure=False)
    verdicts = {drill.nodeid: drill.verdict for drill in built.results.drills}
    assert verdicts == {PASSED: "PASS", FAILED: "FAIL"}
    html = built.path.read_text(encoding="utf-8")
    assert "FAIL: 1 of 2 drills did not pass" in html
    assert "15.20 min" in html
    assert "17.10 min" in html
    assert "target 15.00–16.50 min" in html
    assert "target RTO 15 min" in html
    assert html.count("<svg") == 2, "one timeline picture per drill"


def test_a_failed_drill_shows_its_first_divergence(run_dir: Path) -> None:
    html = build_report(run_dir, render_allure=False).path.read_text(encoding="utf-8")
    assert "First divergence from the reference model" in html
    assert "after the window closed at 16.50" in html
    assert "scenario_a at 15" in html


def test_the_checklist_maps_each_sop_6_step_to_drills_and_evidence(run_dir: Path) -> None:
    built = build_report(run_dir, render_allure=False)
    states = {item.step.number: item.state for item in built.checklist}
    assert states == {1: "verified", 2: "verified", 3: "not covered", 4: "not covered", 5: "failed"}
    html = built.path.read_text(encoding="utf-8")
    assert "faults injected: kill:dispatcher" in html
    assert "re-sync steps: upload_emergency_log" in html


def test_the_audit_mapping_ties_drills_and_artifacts_to_clauses(run_dir: Path) -> None:
    build_report(run_dir, render_allure=False)
    mapping = json.loads((run_dir / AUDIT_FILE).read_text(encoding="utf-8"))
    clauses = {clause["ref"]: clause for clause in mapping["clauses"]}
    assert set(clauses) == {"A1.3", "CC7.5", "8.5 e)"}
    assert {d["nodeid"] for d in clauses["A1.3"]["drills"]} == {PASSED, FAILED}
    # CC7.5 (recovery activities): the SOP 5 drill, not the detection drill.
    assert [d["nodeid"] for d in clauses["CC7.5"]["drills"]] == [FAILED]
    assert not clauses["CC7.5"]["all_passed"]
    assert "pir/" in clauses["8.5 e)"]["artifacts"]
    assert mapping["drills"][PASSED]["sop"] == ["2A", "6.1", "6.2"]


def test_the_test_plan_is_read_from_the_sop_document() -> None:
    steps = plan_steps()
    assert [step.number for step in steps] == [1, 2, 3, 4, 5]
    assert steps[1].title == "Trigger Verification"
    assert "15 minutes" in steps[1].text


def test_evidence_is_escaped(run_dir: Path) -> None:
    document = json.loads((run_dir / "evidence.json").read_text(encoding="utf-8"))
    document["events"][0]["data"]["text"] = "<script>alert(1)</script>"
    document["events"][0]["data"]["drill"] = PASSED
    (run_dir / "evidence.json").write_text(json.dumps(document), encoding="utf-8")
    html = build_report(run_dir, render_allure=False).path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_the_report_page_is_self_contained(run_dir: Path) -> None:
    html = build_report(run_dir, render_allure=False).path.read_text(encoding="utf-8")
    for reference in ("src=", "<link", "@import", "<script", "<iframe"):
        assert reference not in html
    # url() only for the SVG's own clip paths, by fragment.
    assert not re.findall(r"url\((?!#)", html)
    # Links stay inside the run directory: fragments and relative paths only.
    assert not re.findall(r"href=['\"](?!#|pir/|handoff/)", html)
    assert not re.findall(r"xlink:href=['\"](?!#)", html)


def test_missing_or_foreign_evidence_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EvidenceUnreadable, match=r"evidence\.json: missing"):
        build_report(tmp_path)
    (tmp_path / "evidence.json").write_text('{"schema": "other"}', encoding="utf-8")
    with pytest.raises(EvidenceUnreadable, match=r"schema: expected 'sopdrill\.evidence/1'"):
        build_report(tmp_path)


def _ended(outcome: str, *, late: bool = False) -> DrillResult:
    detection = Detection.judge("scenario_a", 17.0 if late else 15.1, (15.0, 16.5))
    return DrillResult(
        "drills/test_x.py::test_x", "cid", "2026-12-03T00:00:00+00:00",
        "2026-12-03T00:00:01+00:00", 1.0, "failed", False, outcome, "boom", {},
        detection=detection,
        junit=JunitCase("drills.test_x", "test_x", "failed", "boom", 1.0),
    )  # fmt: skip


def test_a_harness_error_is_neither_a_pass_nor_a_fail_of_the_sop() -> None:
    assert _ended("harness_error").verdict == HARNESS_VERDICT
    assert _ended("failed").verdict == "FAIL"
    # A declaration seen outside the window is a FAIL whatever ended the drill after it.
    assert _ended("harness_error", late=True).verdict == "FAIL"
