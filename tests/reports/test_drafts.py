"""A failed drill's post-incident review and on-call handoff, filled from the evidence."""

from __future__ import annotations

import re
from pathlib import Path

from reports.build import build_report

from .conftest import FAILED

PIR_HEADINGS = [
    "# Post-Incident Review:",
    "## Summary",
    "## Timeline",
    "## Root Cause",
    "## Resolution",
    "## Prevention",
    "## Action Items",
    "## Lessons Learned",
]
HANDOFF_FIELDS = [
    "Incident ID",
    "Severity",
    "Affected lane",
    "Start time (UTC)",
    "Current status",
    "Correlation IDs",
    "Impact summary",
    "Guardrails confirmed",
    "Platform API only",
    "No provider-direct client calls",
    "Risk fail-closed preserved",
    "Verification commands executed",
    "Remaining risks",
    "Owner team",
    "Review handoff target issue(s)",
    "Next decision checkpoint time (UTC)",
]


def test_only_the_failed_drill_gets_drafts(run_dir: Path) -> None:
    built = build_report(run_dir, render_allure=False)
    assert built.drafts == (
        "pir/test_recovery_resync.test_recovery_uploads_log.md",
        "handoff/test_recovery_resync.test_recovery_uploads_log.md",
    )
    html = built.path.read_text(encoding="utf-8")
    assert "href='pir/test_recovery_resync.test_recovery_uploads_log.md'" in html


def test_the_review_follows_the_pir_template_and_is_filled(run_dir: Path) -> None:
    build_report(run_dir, render_allure=False)
    text = next((run_dir / "pir").iterdir()).read_text(encoding="utf-8")
    positions = [text.index(heading) for heading in PIR_HEADINGS]
    assert positions == sorted(positions), "the template's order"
    assert "- **Severity:** P1" in text  # SOP 5 is a recovery control
    assert "Fault injected: kill:dispatcher [fault-1]" in text
    assert "after the window closed at 16.50" in text
    assert re.search(r"- \[ \] \[Owner\] - .+ - \d{4}-\d{2}-\d{2}", text)
    assert FAILED in text


def test_the_handoff_follows_the_gate4_template_and_is_filled(run_dir: Path) -> None:
    build_report(run_dir, render_allure=False)
    text = next((run_dir / "handoff").iterdir()).read_text(encoding="utf-8")
    positions = [text.index(f"- {field}:") for field in HANDOFF_FIELDS]
    assert positions == sorted(positions)
    assert "Affected lane: runtime" in text
    assert "fault-1" in text
    # The drill's restart_service was executed, but it is on the green list.
    assert "Risk fail-closed preserved: yes: no red-list action was executed" in text
