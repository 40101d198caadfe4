"""Each drill card shows the incidents the agent logged, with their severity (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.history_check import history_path, write_history
from reports.agent_incidents import history_file, logged_incidents, render_incidents
from reports.build import build_report
from sop.history import History, HistoryFacts, LogEntry

from .conftest import FAILED, PASSED

FACTS = HistoryFacts("ops", True, "1001", "+1555", "+1556", 60.0)
CORRUPTION = {
    "seq": 4, "kind": "incident", "category": "data_corruption", "severity": "P0",
    "component": "data", "reason": "application data failed its integrity check: data/a.db",
    "at": "2026-12-03T16:00:05+00:00", "hash": "c0ffee",
}  # fmt: skip
ESCALATION = {
    "seq": 7, "kind": "incident", "category": "escalation", "incident": "ollama_down",
    "severity": "P1", "reason": "ollama_down unresolved at its escalation timeout",
    "at": "2026-12-03T16:05:00+00:00", "hash": "e5ca1a7e",
}  # fmt: skip
STATE = {"seq": 1, "kind": "state", "mode": "offline", "hash": "5ea1"}


def _history(nodeid: str) -> History:
    # The harness reads the log from disk more than once: the same entry, recorded twice.
    records = (
        LogEntry(1.0, STATE, "log-1"),
        LogEntry(2.5, CORRUPTION, "log-2"),
        LogEntry(3.0, CORRUPTION, "log-3"),
        LogEntry(9.0, ESCALATION, "log-4"),
    )
    return History(nodeid, FACTS, records)


def _card(html: str, nodeid: str) -> str:
    """The drill's card: its section, found by its anchor."""
    anchor = "drill-" + "".join(c if c.isalnum() else "-" for c in nodeid)
    start = html.index(f"<section class='card' id='{anchor}'>")
    return html[start : html.index("</section>", start)]


def test_a_card_shows_each_incident_the_agent_logged_with_its_severity(run_dir: Path) -> None:
    write_history(run_dir, _history(PASSED))
    html = build_report(run_dir, render_allure=False).path.read_text(encoding="utf-8")
    card = _card(html, PASSED)
    assert "Incidents the agent logged (2)" in card
    rows = re.findall(r"<tr><td>([^<]+)</td><td><span class='badge [^']+'>(P\d)</span>", card)
    assert rows == [("data_corruption", "P0"), ("escalation: ollama_down", "P1")]
    assert "2026-12-03T16:00:05+00:00" in card
    assert "no history recorded" in _card(html, FAILED)


def test_incidents_are_read_once_each_in_time_order() -> None:
    found = logged_incidents(_history(PASSED))
    assert [(i.kind, i.severity, i.at_minutes) for i in found] == [
        ("data_corruption", "P0", 2.5),
        ("escalation: ollama_down", "P1", 9.0),
    ]


def test_a_drill_whose_agent_logged_no_incident_says_so() -> None:
    assert "none logged" in render_incidents(())


def test_the_history_is_looked_for_where_the_harness_writes_it(tmp_path: Path) -> None:
    nodeid = "drills/test_a.py::test_b[invalid]"
    assert history_file(tmp_path, nodeid) == history_path(tmp_path, nodeid)
