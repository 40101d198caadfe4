"""Build a run's report from its evidence: scrub secrets, read results, write report.html."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reports.checklist import ChecklistItem, checklist
from reports.html import render_report
from reports.manifest import MANIFEST_FILE, SIGNATURE_FILE
from reports.redaction import redact_artifacts, secret_values, secrets_files
from reports.results import RunResults, load_results, read_evidence

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class BuiltReport:
    """What ``build_report`` made: the page, the results it shows, the files it scrubbed."""

    path: Path
    results: RunResults
    checklist: tuple[ChecklistItem, ...]
    redacted: tuple[str, ...]


def build_report(out_dir: Path) -> BuiltReport:
    """Write OUT/report.html from OUT/evidence.json and OUT/junit.xml.

    First every artifact is scrubbed of the run's secrets (those still readable from
    the secrets files the evidence names), so neither the page nor any file beside it
    can carry one.
    """
    root = Path(out_dir)
    values = secret_values(secrets_files(read_evidence(root)))
    redacted = redact_artifacts(root, values, skip=(MANIFEST_FILE, SIGNATURE_FILE))
    results = load_results(root)
    items = tuple(checklist(results))
    target = root / REPORT_FILE
    target.write_text(render_report(results, items), encoding="utf-8")
    return BuiltReport(path=target, results=results, checklist=items, redacted=tuple(redacted))


__all__ = ["REPORT_FILE", "BuiltReport", "build_report"]
