"""report.html: one self-contained page (no script, no external file) an auditor can file.

Top to bottom: the verdict and the run's facts; a table of drills with the SOP's targets
and the measured values side by side; the SOP section 6 test-plan checklist with the
drills and evidence behind each step; the audit mapping (SOC 2 A1.3, CC7.5, ISO 22301
8.5 e)); one card per drill with its timeline picture, its first divergence from the
reference model when it failed, its generated schedules (reports/schedules.py) and its
events; then the seeds' coverage in this run (reports/coverage.py). Every value from the
evidence is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from reports.audit import CLAUSES, framework_clauses, sop_clauses
from reports.checklist import ChecklistItem
from reports.coverage import render_coverage
from reports.fleet import render_fleet
from reports.invariants import drill_names, invariant_table, render_invariants
from reports.measures import DrillMeasures, Figure
from reports.results import DrillResult, RunResults
from reports.schedules import render_schedules
from reports.style import STYLE
from sop.events import Event

_SUMMARY_SKIP = frozenset({"drill", "topology"})
_NO_CLAIM = "<span class='muted'>no drill claims this step</span>"
_NO_DRILL = "<p>No drill ran.</p>"


@dataclass(frozen=True)
class DrillView:
    """What the page shows of one drill: its result, measures, picture and draft links."""

    drill: DrillResult
    measures: DrillMeasures
    svg: str
    drafts: Mapping[str, str]  # label -> relative path (PIR, handoff)
    incidents: str = ""  # the agent's logged incidents (reports/agent_incidents.py)


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _badge(text: str, css: str | None = None) -> str:
    return f'<span class="badge {_e(css or text.replace(" ", "-"))}">{_e(text)}</span>'


def _name(drill: DrillResult) -> str:
    """The drill's test name, breakable at its underscores in a narrow column."""
    return _e(drill.name).replace("_", "_<wbr>")


def _anchor(nodeid: str) -> str:
    return "drill-" + "".join(c if c.isalnum() else "-" for c in nodeid)


def _figure(figure: Figure | None) -> str:
    if figure is None:
        return '<div class="fig muted">not measured</div>'
    mark = "" if figure.met is None else " " + _badge("met" if figure.met else "missed")
    target = f"<small>target {_e(figure.target)}</small>"
    return f'<div class="fig">{_e(figure.measured)}{mark}{target}</div>'


def _facts(run: Mapping[str, Any], signature_note: str) -> str:
    found = run.get("environment")
    environment: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    digest = run.get("policy_digest")
    rows = (
        ("suite", run.get("suite") or "not recorded"),
        ("backend", run.get("backend")),
        ("time scale", f"{run.get('time_scale')} SOP seconds per wall second"),
        ("SOP policy version", run.get("policy_version") or run.get("policy_error")),
        ("policy digest (SHA-256)", digest),
        ("project version", f"sopdrill {run.get('project_version') or 'unknown'}"),
        ("host", run.get("host")),
        (
            "python / platform",
            f"{environment.get('python', '?')} on {environment.get('platform', '?')}",
        ),
        ("started (UTC)", run.get("started_at")),
        ("ended (UTC)", run.get("written_at")),
        ("CI", environment.get("ci") or "no (run by hand)"),
        ("manifest", signature_note),
    )
    cells = "".join(
        f"<div><dt>{_e(label)}</dt><dd><code>{_e(value)}</code></dd></div>"
        for label, value in rows
        if value not in (None, "")
    )
    return f'<dl class="facts">{cells}</dl>'


def _drill_table(views: Sequence[DrillView]) -> str:
    head = (
        "<tr><th>#</th><th>drill</th><th>SOP clauses</th><th>verdict</th>"
        "<th>detection<br><small>measured / SOP window</small></th>"
        "<th>notification latency<br><small>measured / SOP 3</small></th>"
        "<th>time to recovery<br><small>measured / RTO</small></th><th>wall s</th></tr>"
    )
    rows = []
    for number, view in enumerate(views, start=1):
        drill = view.drill
        doc = (
            f"<br><span class='muted'>{_e(drill.meta.get('doc'))}</span>"
            if drill.meta.get("doc")
            else ""
        )
        clauses = ", ".join(c for c in sop_clauses(drill) if not c.startswith("6."))
        rows.append(
            f"<tr><td class='num'>{number}</td>"
            f"<td><a href='#{_anchor(drill.nodeid)}'><code>{_name(drill)}</code></a>{doc}</td>"
            f"<td>{_e(clauses or '—')}</td><td>{_badge(drill.verdict)}</td>"
            f"<td>{_figure(view.measures.detection)}</td>"
            f"<td>{_figure(view.measures.notification)}</td>"
            f"<td>{_figure(view.measures.recovery)}</td>"
            f"<td class='num'>{drill.duration_s:.1f}</td></tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="8">No drill ran.</td></tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _step_evidence(step: int, view: DrillView) -> list[str]:
    """What of a drill proves test-plan ``step`` (SOP 6), one line each."""
    drill, figures = view.drill, view.measures
    events = drill.events
    lines = []
    faults = sorted({str(e.data.get("fault")) for e in events if e.kind == "fault_injected"})
    if step in (1, 3) and faults:
        lines.append("faults injected: " + ", ".join(faults))
    if step == 2 and figures.detection is not None:
        lines.append(f"detection {figures.detection.measured} (window {figures.detection.target})")
    if step == 3:
        actions = [e for e in events if e.kind == "action"]
        done = sorted({f"{e.data.get('action')} {e.data.get('decision')}" for e in actions})
        lines.append("action-gate decisions: " + (", ".join(done) if done else "none recorded"))
    if step == 4 and figures.notification is not None:
        lines.append(f"alert: {figures.notification.measured}")
    if step == 5:
        steps = [str(e.data.get("step")) for e in events if e.kind == "resync"]
        lines.append("re-sync steps: " + (" → ".join(steps) if steps else "none recorded"))
        if figures.recovery is not None:
            lines.append(f"back online in {figures.recovery.measured} ({figures.recovery.target})")
    checks = [e for e in events if e.source == "steady_state"]
    if checks:
        held = all(e.data.get("ok") for e in checks)
        lines.append(f"steady state before/after: {'held' if held else 'did NOT hold'}")
    return lines


def _checklist(items: Sequence[ChecklistItem], views: Mapping[str, DrillView]) -> str:
    rows = []
    for item in items:
        proofs = []
        for nodeid in item.drills:
            view = views.get(nodeid)
            if view is None:
                continue
            evidence = "".join(
                f"<li>{_e(line)}</li>" for line in _step_evidence(item.step.number, view)
            )
            proofs.append(
                f"<div><a href='#{_anchor(nodeid)}'><code>{_name(view.drill)}</code></a> "
                f"{_badge(view.drill.verdict)}<ul class='evidence'>{evidence}</ul></div>"
            )
        rows.append(
            f"<tr><td class='num'>6.{item.step.number}</td><td><b>{_e(item.step.title)}</b>: "
            f"{_e(item.step.text)}</td><td>{_badge(item.state)}</td>"
            f"<td>{''.join(proofs) or _NO_CLAIM}</td></tr>"
        )
    head = (
        "<tr><th>step</th><th>SOP section 6 test plan</th><th>state</th>"
        "<th>drills and evidence</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _audit(results: RunResults, artifacts: Sequence[str]) -> str:
    present = set(artifacts)
    rows = []
    for clause in CLAUSES:
        drills = [d for d in results.drills if clause.ref in framework_clauses(d)]
        passed = sum(d.verdict == "PASS" for d in drills)
        files = [
            name
            for name in clause.artifacts
            if name in present or (name.endswith("/") and any(a.startswith(name) for a in present))
        ]
        state = (
            _badge("tested, all passed", "PASS")
            if drills and passed == len(drills)
            else (
                _badge(f"{len(drills) - passed} of {len(drills)} drills failed", "FAIL")
                if drills
                else _badge("not tested", "not-covered")
            )
        )
        rows.append(
            f"<tr><td><b>{_e(clause.framework)} {_e(clause.ref)}</b><br>"
            f"<span class='muted'>{_e(clause.requirement)}</span></td><td>{state}</td>"
            f"<td>{'<br>'.join(f'<code>{_e(f)}</code>' for f in files) or '—'}</td>"
            f"<td>{len(drills)} drills: "
            + ", ".join(f"<a href='#{_anchor(d.nodeid)}'>{_e(d.name)}</a>" for d in drills)
            + "</td></tr>"
        )
    head = (
        "<tr><th>clause</th><th>this run</th><th>artifacts that evidence it</th>"
        "<th>drills</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _summary(event: Event) -> str:
    parts = [f"{key}={value}" for key, value in event.data.items() if key not in _SUMMARY_SKIP]
    text = ", ".join(parts)
    return text if len(text) <= 240 else text[:237] + "..."


def _events_table(drill: DrillResult) -> str:
    events = sorted(drill.events, key=lambda e: e.at_mono)
    origin = events[0].at_mono if events else 0.0
    rows = "".join(
        f"<tr><td class='num'>+{event.at_mono - origin:.3f}</td>"
        f"<td><code>{_e(event.at_wall)}</code></td>"
        f"<td>{_e(event.kind)}</td><td>{_e(event.source)}</td>"
        f"<td><code>{_e(event.correlation_id)}</code></td><td>{_e(_summary(event))}</td></tr>"
        for event in events
    )
    return (
        f"<details><summary>{len(events)} events (monotonic and wall time, correlation ids)"
        "</summary><table><tr><th>wall s</th><th>at (UTC)</th><th>kind</th><th>source</th>"
        f"<th>correlation id</th><th>data</th></tr>{rows}</table></details>"
    )


def _card(view: DrillView) -> str:
    drill, figures = view.drill, view.measures
    divergence = (
        f"<div class='divergence'><b>First divergence from the reference model:</b> "
        f"{_e(figures.divergence)}</div>"
        if figures.divergence
        else ""
    )
    reason = (
        f"<p><b>Failure:</b> <code>{_e(drill.reason)}</code></p>"
        if drill.reason and drill.verdict != "PASS"
        else ""
    )
    drafts = " · ".join(
        f"<a href='{_e(path)}'>{_e(label)}</a>" for label, path in view.drafts.items()
    )
    frameworks = ", ".join(framework_clauses(drill))
    picture = (
        (
            f"<div class='timeline' role='img' aria-label='timeline of {_e(drill.name)}'>"
            f"{view.svg}</div>"
            if view.svg
            else "<p class='muted'>No events recorded.</p>"
        )
        + render_schedules(drill.meta)
        + render_fleet(drill.meta)
    )
    return (
        f"<section class='card' id='{_anchor(drill.nodeid)}'><header>{_badge(drill.verdict)}"
        f"<h3><code>{_e(drill.name)}</code></h3>"
        f"<span class='muted'>{_e(drill.meta.get('doc'))}</span>"
        f"</header><p class='muted'><code>{_e(drill.nodeid)}</code> · status {_e(drill.status)} · "
        f"steady state {'deviated' if drill.deviated else 'held'} · correlation id "
        f"<code>{_e(drill.correlation_id or '—')}</code> · evidences {_e(frameworks)}</p>"
        f"{divergence}{reason}<div class='figures'>"
        f"<div><b>Detection</b>{_figure(figures.detection)}</div>"
        f"<div><b>Notification latency</b>{_figure(figures.notification)}</div>"
        f"<div><b>Time to recovery</b>{_figure(figures.recovery)}</div></div>"
        f"{picture}{('<p>Drafts: ' + drafts + '</p>') if drafts else ''}"
        f"{view.incidents}{_events_table(drill)}</section>"
    )


def render_report(
    results: RunResults,
    items: Sequence[ChecklistItem],
    views: Sequence[DrillView],
    *,
    artifacts: Sequence[str] = (),
    schema_problems: Sequence[str] = (),
    signature_note: str = "see MANIFEST.sig",
) -> str:
    """The whole report.html text."""
    failing = [d for d in results.drills if d.verdict != "PASS"]
    if results.all_passed:
        banner = f'<p class="banner ok">PASS: all {len(results.drills)} drills passed.</p>'
    elif not results.drills:
        banner = '<p class="banner bad">FAIL: no drill ran; this run verifies nothing.</p>'
    else:
        names = ", ".join(d.name for d in failing[:4]) + (" …" if len(failing) > 4 else "")
        banner = (
            f'<p class="banner bad">FAIL: {len(failing)} of {len(results.drills)} drills did not '
            f"pass ({_e(names)}).</p>"
        )
    others = results.other_cases
    other_note = ""
    if others:
        bad = sum(case.outcome in ("failed", "error") for case in others)
        other_note = (
            f"<p class='muted'>JUnit lists {len(others)} other tests (not drills); "
            f"{bad} failed.</p>"
        )
    problems = ""
    if schema_problems:
        listed = "".join(f"<li><code>{_e(p)}</code></li>" for p in schema_problems)
        problems = (
            "<div class='divergence'><b>evidence.json departs from its schema "
            f"(reports/evidence.schema.json):</b><ul>{listed}</ul></div>"
        )
    by_id = {view.drill.nodeid: view for view in views}
    listing = "".join(f"<li><code>{_e(name)}</code></li>" for name in artifacts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Offline Emergency SOP drill report</title>"
        f"<style>{STYLE}</style></head><body>"
        '<header class="top"><h1>Offline Emergency SOP — drill report</h1>'
        f"<p>Post-exercise report of {len(results.drills)} drills · policy "
        f"{_e(results.run.get('policy_version'))} · {_e(results.run.get('started_at'))}</p>"
        "</header>"
        f"<main>{banner}{problems}{_facts(results.run, signature_note)}"
        f"<h2>Drills: SOP targets and measured values</h2>{_drill_table(views)}{other_note}"
        "<p class='muted'>All durations are SOP time (wall time × the time scale). Detection is "
        "judged against the reference model's window: not before the SOP threshold, at most one "
        "probe interval plus the stated tolerance after it. The SOP sets no number for the alert "
        '("immediately"); recovery is judged against the agent\'s RTO (emergency-procedures.md '
        "Appendix B).</p>"
        "<h2>SOP invariants</h2><p class='muted'>The checker's verdict on each drill's "
        "recorded history (sop/checker): held, violated at its first divergence, or not "
        "exercised by that drill.</p>"
        f"{render_invariants(invariant_table(results), drill_names(results.drills))}"
        f"<h2>SOP section 6 test plan</h2>{_checklist(items, by_id)}"
        f"<h2>Audit mapping</h2>{_audit(results, artifacts)}"
        f"<h2>Drill timelines</h2>{''.join(_card(view) for view in views) or _NO_DRILL}"
        f"{render_coverage(results, _anchor)}"
        f"<h2>Artifacts of this run</h2><p>Each file below is listed with its SHA-256 in "
        "<code>MANIFEST</code>, signed in <code>MANIFEST.sig</code>; check them with "
        f"<code>sopdrill verify DIR</code>.</p><ul>{listing}</ul>"
        "<footer>Generated by sopdrill from evidence.json and junit.xml. This page loads "
        "nothing from anywhere.</footer></main></body></html>\n"
    )


__all__ = ["DrillView", "render_report"]
