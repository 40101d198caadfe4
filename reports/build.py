"""Build a run's artifacts from its evidence: scrub, measure, draw, draft, write.

In order: every file already in OUT is scrubbed of the run's secrets; evidence.json is
checked against its schema and read with junit.xml; each drill is measured and drawn;
each failed drill gets its post-incident review and on-call handoff drafts; the audit
mapping and Allure's categories and environment are written; report.html last, so it
lists every artifact; then, if Java and allure-commandline are here, the Allure HTML.
The MANIFEST is not written here (``write_manifest`` signs what this leaves).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from reports.agent_incidents import incidents_section
from reports.allure import REPORT_DIR, render_allure_html, write_allure_extras
from reports.audit import AUDIT_FILE, audit_mapping
from reports.checklist import ChecklistItem, checklist
from reports.handoff import render_handoff
from reports.html import DrillView, render_report
from reports.incident import HANDOFF_DIR, PIR_DIR, incident_of, slug
from reports.invariants import INVARIANTS_FILE, invariant_table
from reports.manifest import MANIFEST_FILE, SIGNATURE_FILE, artifact_paths
from reports.measures import measure_run, run_scale
from reports.redaction import redact_artifacts, secret_values, secrets_files
from reports.results import RunResults, load_results, read_evidence
from reports.review import render_review
from reports.schema import schema_problems
from reports.timeline import render_timeline
from sop.errors import PolicyError
from sop.policy import load_policy

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class BuiltReport:
    """What ``build_report`` made: the page, the results, the drafts, what it scrubbed."""

    path: Path
    results: RunResults
    checklist: tuple[ChecklistItem, ...]
    redacted: tuple[str, ...]
    drafts: tuple[str, ...] = ()
    schema_problems: tuple[str, ...] = ()
    allure_note: str = ""


def _red_list(results: RunResults) -> frozenset[str]:
    snapshot = results.run.get("policy_snapshot")
    if isinstance(snapshot, dict) and isinstance(snapshot.get("red_list"), list):
        return frozenset(str(item.get("name")) for item in snapshot["red_list"])
    try:
        return load_policy().red_names()
    except PolicyError:
        return frozenset()


def _write_drafts(root: Path, results: RunResults, views: dict[str, DrillView]) -> list[str]:
    written = []
    scale, red_list = run_scale(results.run), _red_list(results)
    label = f"the run started {results.run.get('started_at', '(unknown)')}"
    for drill in results.drills:
        if drill.verdict == "PASS":
            continue
        incident = incident_of(drill, views[drill.nodeid].measures, red_list)
        name = slug(drill.nodeid)
        review, handoff = f"{PIR_DIR}/{name}.md", f"{HANDOFF_DIR}/{name}.md"
        for relative, text in (
            (review, render_review(incident, scale, label)),
            (handoff, render_handoff(incident, str(root))),
        ):
            (root / relative).parent.mkdir(exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
            written.append(relative)
        views[drill.nodeid] = DrillView(
            views[drill.nodeid].drill,
            views[drill.nodeid].measures,
            views[drill.nodeid].svg,
            {"post-incident review draft": review, "on-call handoff": handoff},
        )
    return written


def build_report(
    out_dir: Path, *, render_allure: bool = True, signer: str | None = None
) -> BuiltReport:
    """Write every derived artifact of OUT from OUT/evidence.json and OUT/junit.xml.

    ``signer``: the fingerprint of the key that will sign the MANIFEST, named in the
    report so that whoever reads it knows which key ``sopdrill verify`` must find."""
    root = Path(out_dir)
    evidence = read_evidence(root)
    values = secret_values(secrets_files(evidence))
    skip = (MANIFEST_FILE, SIGNATURE_FILE)
    redacted = redact_artifacts(root, values, skip=skip)
    problems = tuple(schema_problems(read_evidence(root)))
    results = load_results(root)
    items = tuple(checklist(results))
    measures = measure_run(results)
    scale = run_scale(results.run)
    views = {
        drill.nodeid: DrillView(
            drill, measures[drill.nodeid], render_timeline(drill, measures[drill.nodeid], scale), {}
        )
        for drill in results.drills
    }
    drafts = _write_drafts(root, results, views)
    # Issue 13: each card shows the incidents the agent logged, with their severity.
    views = {k: replace(v, incidents=incidents_section(root, k)) for k, v in views.items()}
    write_allure_extras(root, results)
    # The report lists itself, the manifest and the Allure render it cannot see yet.
    artifacts = sorted(
        {
            *artifact_paths(root),
            REPORT_FILE,
            AUDIT_FILE,
            INVARIANTS_FILE,
            MANIFEST_FILE,
            SIGNATURE_FILE,
        }
    )
    mapping = audit_mapping(results, artifacts)
    (root / AUDIT_FILE).write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
    table = invariant_table(results).to_dict()
    (root / INVARIANTS_FILE).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    target = root / REPORT_FILE
    target.write_text(
        render_report(
            results,
            items,
            [views[drill.nodeid] for drill in results.drills],
            artifacts=[a for a in artifacts if not a.startswith(f"{REPORT_DIR}/")],
            schema_problems=problems,
            signature_note=(
                f"signed with ed25519 key {signer} (MANIFEST.sig; sopdrill verify DIR)"
                if signer
                else "see MANIFEST.sig"
            ),
        ),
        encoding="utf-8",
    )
    note = render_allure_html(root) if render_allure else "Allure HTML not rendered: not asked"
    # A last pass over what was just written: nothing derived may carry a secret either.
    redacted += [r for r in redact_artifacts(root, values, skip=skip) if r not in redacted]
    return BuiltReport(
        path=target,
        results=results,
        checklist=items,
        redacted=tuple(redacted),
        drafts=tuple(drafts),
        schema_problems=problems,
        allure_note=note,
    )


__all__ = ["REPORT_FILE", "BuiltReport", "build_report"]
