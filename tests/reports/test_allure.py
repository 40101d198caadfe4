"""Allure's extras: categories by SOP clause, the run's environment, an offline render."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reports.allure import (
    ALLURE_ENV,
    allure_command,
    allure_major,
    render_allure_html,
    write_allure_extras,
)
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


def _fake_allure(root: Path, package: str, version: str) -> Path:
    """An installed-looking allure CLI of ``package`` at ``version`` (never run here)."""
    home = root / "node_modules" / package
    home.mkdir(parents=True)
    (home / "package.json").write_text(json.dumps({"name": package, "version": version}))
    cli = home / "cli.js"
    cli.write_text("#!/usr/bin/env node\n")
    return cli


def test_no_allure_means_no_render_and_says_how_to_install(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reports.allure.TOOLS_DIR", tmp_path / "no-tools")
    note = render_allure_html(run_dir, {"PATH": str(tmp_path)})
    assert note.startswith("Allure HTML not rendered: allure is not installed (npm install")
    assert "allure@3" in note
    assert not (run_dir / "allure-report").exists()


def test_allure_3_needs_node_and_allure_2_needs_java(run_dir: Path, tmp_path: Path) -> None:
    three = _fake_allure(tmp_path / "a3", "allure", "3.18.0")
    two = _fake_allure(tmp_path / "a2", "allure-commandline", "2.34.1")
    assert (allure_major(three), allure_major(two)) == (3, 2)
    bare = str(tmp_path / "empty-path")
    note = render_allure_html(run_dir, {"PATH": bare, ALLURE_ENV: str(three)})
    assert note == "Allure HTML not rendered: Allure 3 needs Node.js on PATH (apt install nodejs)"
    note = render_allure_html(run_dir, {"PATH": bare, ALLURE_ENV: str(two)})
    assert note.startswith("Allure HTML not rendered: no Java on PATH for allure-commandline")
    assert not (run_dir / "allure-report").exists()


def _allure_runs_here() -> bool:
    command = allure_command()
    if command is None:
        return False
    return shutil.which("node" if allure_major(command) >= 3 else "java") is not None


@pytest.mark.skipif(
    not _allure_runs_here(),
    reason=f"no Allure here ({ALLURE_ENV} or tools/allure; scripts/report-tools.sh installs it)",
)
def test_the_allure_html_renders_offline(run_dir: Path) -> None:
    write_allure_extras(run_dir, load_results(run_dir))
    note = render_allure_html(run_dir)
    assert note.startswith("Allure HTML rendered offline"), note
    page = (run_dir / "allure-report" / "index.html").read_text(encoding="utf-8")
    assert "googletagmanager" not in page
