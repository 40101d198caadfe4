"""Evidence to compliance artifacts: report.html, the test-plan checklist, a signed manifest.

Reads what a run left in its output directory (evidence.json, junit.xml,
allure-results/, history/) and never the harness or the SUT: imports sop only.
"""

from reports.build import REPORT_FILE, BuiltReport, build_report
from reports.checklist import ChecklistItem, PlanStep, checklist, plan_steps
from reports.errors import EvidenceUnreadable, ReportError, SigningKeyError
from reports.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    Signature,
    read_signature,
    verify_manifest,
    write_manifest,
)
from reports.results import DrillResult, RunResults, load_results
from reports.signing import load_signing_key, load_verify_key

__all__ = [
    "MANIFEST_FILE",
    "REPORT_FILE",
    "SIGNATURE_FILE",
    "BuiltReport",
    "ChecklistItem",
    "DrillResult",
    "EvidenceUnreadable",
    "PlanStep",
    "ReportError",
    "RunResults",
    "Signature",
    "SigningKeyError",
    "build_report",
    "checklist",
    "load_results",
    "load_signing_key",
    "load_verify_key",
    "plan_steps",
    "read_signature",
    "verify_manifest",
    "write_manifest",
]
