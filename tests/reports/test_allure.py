"""Allure's extras: categories by SOP clause, the run's environment, an offline render."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reports.allure import ALLURE_ENV, allure_command, render_allure_html, write_allure_extras
from reports.results import load_results


def test_categories_group_failures_by_sop_section(run_dir: Path) -> None:
    write_allure_extras(run_dir, load_results(run_dir))
    categories = json.loads((run_dir / "allure-results" / "categories.json").read_text())
    by_name = {c["name"]: c for c in categories}
    recovery = by_name["SOP 5: recovery and re-sync"]
    # Allure matches the whole trace (Java's matches()): the seeded failure's trace is ours.
    trace = "drills/test_recovery_resync.py:40: boom"
    assert re.fullmatch(recovery["traceRegex"], trace, flags=re.DOTALL)
    elsewhere = "drills/test_red_list.py:12: boom"
    for category in categories:
        if "traceRegex" in category:
            assert not re.fullmatch(category["traceRegex"], elsewhere, flags=re.DOTALL)
    environment = (run_dir / "allure-results" / "environment.properties").read_text()
    assert "policy_version=2026-02-11-draft" in environment
    assert "suite=nightly" in environment


def test_no_java_means_no_render_and_one_line_why(run_dir: Path, tmp_path: Path) -> None:
    note = render_allure_html(run_dir, {"PATH": str(tmp_path)})
    assert note == "Allure HTML not rendered: no Java on PATH"
    assert not (run_dir / "allure-report").exists()


@pytest.mark.skipif(
    not (allure_command() and shutil.which("java")),
    reason=f"no allure-commandline ({ALLURE_ENV} or tools/allure) or no Java here",
)
def test_the_allure_html_renders_offline(run_dir: Path) -> None:
    write_allure_extras(run_dir, load_results(run_dir))
    note = render_allure_html(run_dir)
    assert note.startswith("Allure HTML rendered offline"), note
    page = (run_dir / "allure-report" / "index.html").read_text(encoding="utf-8")
    assert "googletagmanager" not in page
