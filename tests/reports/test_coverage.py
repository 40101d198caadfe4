"""report.html's "Seeds coverage": each clause of the seeds with this run's drills and verdicts.

The run is small and real: the harness's own ``EvidenceRecorder`` writes evidence.json for
five drills (a parametrized one twice) under the node ids ``sopdrill run`` gives them. The
map is a copy of the shipped one with one row set back to a gap (the shipped map may have
none left): emergency-procedures.md P0, one of whose drills ran.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from fixtures.evidence import EvidenceRecorder
from fixtures.run_facts import environment_facts, policy_facts
from reports import coverage as report_coverage
from reports.build import build_report
from reports.coverage import CoverageRow, coverage_rows
from sop.coverage import COVERAGE_MAP_PATH, NOT_YET_DRILLED, OUT_OF_SCOPE, seeds_coverage
from sop.errors import CoverageError
from sop.seeds import seed_clauses

KILLED = (
    "drills/test_dispatcher_killed.py::test_dispatcher_killed_declares_offline_in_window_and_alerts"
)
RECOVERY = (
    "drills/test_recovery_resync.py::"
    "test_recovery_stops_actions_uploads_log_and_requests_integrity_check"
)
RUNAWAY = "drills/test_runaway_process.py::test_runaway_killed_offline_allowlisted_spared"
ONLINE_OLLAMA = (
    "drills/test_managed_service_stopped.py::"
    "test_a_managed_service_stopped_while_online_is_reported_and_fixed_only_on_task"
)
UNSTARTABLE = (
    "drills/test_agent_failure.py::"
    "test_agent_that_cannot_start_again_is_alerted_p0_once_unresolved_and_comes_back_freed"
)
#: Node id -> (status, outcome) as the plugin ends it.
RUN = {
    KILLED: ("completed", "passed"),
    RECOVERY: ("failed", "failed"),
    f"{RUNAWAY}[runaway]": ("completed", "passed"),
    f"{RUNAWAY}[allowlisted]": ("failed", "failed"),
    ONLINE_OLLAMA: ("aborted", "skipped"),
    UNSTARTABLE: ("completed", "passed"),
}


#: The row the copied map sets back to a gap, and the reason it gives.
GAP = ("emergency-procedures.md", "P0")
GAP_REASON = "Set back to a gap by this test: no drill of it counts as drilling it."


def gapped_map(tmp_path: Path) -> Path:
    """A copy of the shipped map whose ``GAP`` row is not yet drilled, partly by UNSTARTABLE."""
    text = COVERAGE_MAP_PATH.read_text(encoding="utf-8")
    head = f'["{GAP[0]}"."{GAP[1]}"]\n'
    start = text.index(head)
    end = text.index("\n[", start + len(head))
    row = f'{head}not_yet_drilled = "{GAP_REASON}"\npartly = ["{UNSTARTABLE}"]\n'
    path = tmp_path / COVERAGE_MAP_PATH.name
    path.write_text(text[:start] + row + text[end:], encoding="utf-8")
    return path


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """report.html of a run of the drills of ``RUN``, over the map with its gap."""
    gapped = seeds_coverage(map_path=gapped_map(tmp_path))
    monkeypatch.setattr(report_coverage, "seeds_coverage", lambda: gapped)
    recorder = EvidenceRecorder(tmp_path)
    recorder.describe_run(backend="local", time_scale=60.0, suite="nightly",
                          **policy_facts(), **environment_facts())  # fmt: skip
    for nodeid, (status, outcome) in RUN.items():
        recorder.begin_drill(nodeid, {"name": nodeid.rsplit("::", 1)[1], "markers": ["nightly"]})
        recorder.steady_state("before", True, "agent online")
        recorder.end_drill(nodeid, status, outcome=outcome)
    recorder.write()
    return build_report(tmp_path, render_allure=False)


def rows_of(built) -> dict[tuple[str, str], CoverageRow]:
    return {(row.clause.seed, row.clause.id): row for row in coverage_rows(built.results)}


def html_row(html: str, ident: str) -> str:
    """The report's table row of the clause ``ident`` (first seed that has it)."""
    found = re.search(rf"<tr><td><code>{re.escape(ident)}</code></td>.*?</tr>", html)
    assert found, f"no row for {ident} in the Seeds coverage section"
    return found[0]


def test_each_clause_gets_this_runs_drills_and_state(built) -> None:
    rows = rows_of(built)
    assert len(rows) == len(seed_clauses())
    sop = "offline-emergency-sop.md"

    def seen(seed: str, ident: str) -> tuple[str, list[tuple[str, str]]]:
        row = rows[(seed, ident)]
        return row.state, [(d.nodeid, d.verdict) for d in row.runs]

    # Four drills prove 2A; one ran and passed.
    assert seen(sop, "2A") == ("verified", [(KILLED, "PASS")])
    assert seen(sop, "5.3") == ("failed", [(RECOVERY, "FAIL")])
    # Every case of a parametrized drill counts: one failed, so the clause failed.
    assert seen(sop, "4.Allowed.4") == (
        "failed",
        [(f"{RUNAWAY}[runaway]", "PASS"), (f"{RUNAWAY}[allowlisted]", "FAIL")],
    )
    assert seen("emergency-procedures.md", "Distress Signal Format") == (
        "not verified",
        [(ONLINE_OLLAMA, "SKIPPED")],
    )
    assert seen(sop, "3.2") == ("not run", [])
    # A gap stays a gap, whatever of it ran; the out of scope stay out of scope.
    assert seen(*GAP) == (NOT_YET_DRILLED, [(UNSTARTABLE, "PASS")])
    step = rows[("emergency-procedures.md", "Scenario 5 / STEP 2")]
    assert (step.state, step.coverage.ruled_with) == (OUT_OF_SCOPE, "Scenario 5")


def test_the_report_shows_the_map_with_verdicts_gaps_and_reasons(built) -> None:
    html = built.path.read_text(encoding="utf-8")
    section = html[html.index("<h2>Seeds coverage</h2>") : html.index("<h2>Artifacts of this run")]
    states = Counter(row.state for row in coverage_rows(built.results))
    assert f"{len(seed_clauses())} clauses: {states['verified']} verified, " in section
    assert f"{states['failed']} failed, {states['not verified']} not verified, " in section
    row = html_row(section, "4.Allowed.4")
    assert '<span class="badge failed">failed</span>' in row
    assert 'allowlisted_<wbr>spared[runaway]</code></a> <span class="badge PASS">' in row
    assert 'spared[allowlisted]</code></a> <span class="badge FAIL">' in row
    assert "href='#drill-drills-test-runaway-process-py--test-runaway" in row
    row = html_row(section, "3.2")
    assert "not run" in row
    assert "none of its drills ran: <code>drills/<wbr>test_<wbr>backchannel_<wbr>failover" in row
    row = html_row(section, GAP[1])
    assert '<span class="badge not-covered">not yet drilled</span>' in row
    assert GAP_REASON in row
    row = html_row(section, "Scenario 5")
    assert '<span class="badge muted">out of scope</span>' in row
    assert "provisioning new VPSs at a cloud provider" in row
    assert "with Scenario 5 (above)" in html_row(section, "Scenario 5 / STEP 2")


def test_an_unreadable_map_is_named_in_the_section_not_a_crash(
    built, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken():
        raise CoverageError("seeds-coverage.toml: 1 problem(s)")

    monkeypatch.setattr(report_coverage, "seeds_coverage", broken)
    html = report_coverage.render_coverage(built.results, str)
    assert "The coverage map could not be read" in html
    assert "seeds-coverage.toml: 1 problem(s)" in html
