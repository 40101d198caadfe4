"""The SOP invariants table: invariant x drill from the verdicts in each journal entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.evidence import EvidenceRecorder
from fixtures.run_facts import environment_facts, policy_facts
from reports.build import build_report
from reports.invariants import INVARIANTS_FILE, drill_names, invariant_table, render_invariants
from reports.results import junit_address, load_results
from reports.schema import schema_problems
from sop.checker import Divergence, InvariantVerdict

KILLED = "drills/test_dispatcher_killed.py::test_killed"
SHORT = "drills/test_short_outage.py::test_short"
UNJUDGED = "drills/test_old.py::test_from_before_the_checker"


def _verdicts(*, alert_violated: bool, exercised: bool) -> list[dict[str, object]]:
    divergence = Divergence(16.2, "SOP 3.1", "one alert to 0x01", "alert to 999", ("discord#1",))
    notification = (
        InvariantVerdict("notification", "SOP 3", "violated", divergence)
        if alert_violated
        else InvariantVerdict("notification", "SOP 3", "held", None, "1 declaration(s) notified")
    )
    recovery = (
        InvariantVerdict("recovery", "SOP 5", "held", None, "1 re-sync(s) judged")
        if exercised
        else InvariantVerdict("recovery", "SOP 5", "not_exercised", None, "no re-sync")
    )
    validity = InvariantVerdict("heartbeat validity", "SOP 2A.1", "not_exercised", None, "none")
    return [v.to_dict() for v in (notification, validity, recovery)]


@pytest.fixture
def judged_run(tmp_path: Path) -> Path:
    """OUT of three drills: one violated SOP 3, one held, one judged by no checker."""
    out = tmp_path / "run"
    recorder = EvidenceRecorder(out)
    recorder.describe_run(backend="local", time_scale=60.0, suite="nightly",
                          **policy_facts(), **environment_facts())  # fmt: skip
    cases = ""
    plans = (
        (KILLED, _verdicts(alert_violated=True, exercised=True)),
        (SHORT, _verdicts(alert_violated=False, exercised=False)),
        (UNJUDGED, None),
    )
    for nodeid, verdicts in plans:
        recorder.begin_drill(nodeid, {"name": nodeid.rsplit("::", 1)[1], "test_plan": [1]})
        if verdicts is not None:
            history = {"records": 10, "samples": 8, "busy_s": 0.1, "cpu_s": 0.01}
            recorder.annotate_drill(nodeid, invariants=verdicts, history=history)
        failed = nodeid == KILLED
        recorder.end_drill(nodeid, "failed" if failed else "completed",
                           outcome="error" if failed else "passed")  # fmt: skip
        classname, name = junit_address(nodeid)
        cases += f'<testcase classname="{classname}" name="{name}" time="1"/>'
    recorder.write()
    (out / "junit.xml").write_text(
        f'<?xml version="1.0"?><testsuites><testsuite>{cases}</testsuite></testsuites>',
        encoding="utf-8",
    )
    return out


def test_the_table_has_one_row_per_invariant_and_a_cell_per_judged_drill(judged_run: Path):
    table = invariant_table(load_results(judged_run))
    assert [row.invariant for row in table.rows] == [
        "notification", "heartbeat validity", "recovery",
    ]  # fmt: skip
    assert table.judged == (KILLED, SHORT)
    statuses = table.to_dict()["invariants"][0]["statuses"]
    assert statuses == {KILLED: "violated", SHORT: "held"}


def test_invariants_no_drill_exercised_are_named(judged_run: Path):
    table = invariant_table(load_results(judged_run))
    assert [row.invariant for row in table.unexercised] == ["heartbeat validity"]
    assert table.to_dict()["not_exercised"] == ["heartbeat validity"]


def test_the_page_shows_the_first_divergence_and_the_unexercised_list(judged_run: Path):
    results = load_results(judged_run)
    html = render_invariants(invariant_table(results), drill_names(results.drills))
    assert "SOP 3.1 notification: violated at 16.20 SOP-min" in html
    assert "Exercised by no drill of this run:</b> heartbeat validity (SOP 2A.1)" in html
    assert html.count("<tr>") == 3  # the header and the two judged drills


def test_report_html_carries_the_section_and_the_evidence_its_schema(judged_run: Path):
    built = build_report(judged_run, render_allure=False)
    page = built.path.read_text(encoding="utf-8")
    assert "<h2>SOP invariants</h2>" in page
    assert page.index("SOP invariants") < page.index("SOP section 6 test plan")
    document = json.loads((judged_run / "evidence.json").read_text(encoding="utf-8"))
    assert list(schema_problems(document)) == []
    table = json.loads((judged_run / INVARIANTS_FILE).read_text(encoding="utf-8"))
    assert table["not_exercised"] == ["heartbeat validity"]
    assert table["drills"] == [KILLED, SHORT]


def test_a_malformed_verdict_is_named_not_rendered(judged_run: Path):
    path = judged_run / "evidence.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["journal"][1]["meta"]["invariants"][0]["status"] = "fine"
    path.write_text(json.dumps(document), encoding="utf-8")
    table = invariant_table(load_results(judged_run))
    assert table.judged == (KILLED,)
    assert any("status: expected one of" in problem for problem in table.problems)
    assert schema_problems(document)


def test_a_run_without_verdicts_says_so(tmp_path: Path):
    html = render_invariants(invariant_table(load_results(_empty_run(tmp_path))), {})
    assert "No checker verdicts" in html


def _empty_run(tmp_path: Path) -> Path:
    recorder = EvidenceRecorder(tmp_path)
    recorder.describe_run(backend="local", time_scale=60.0, **policy_facts())
    recorder.write()
    return tmp_path
