"""report.html: one self-contained page (no script, no external file) an auditor can file.

It shows the run, a table of drills with their verdict and detection time against the
SOP window, the SOP section 6 test-plan checklist, and one timeline per drill. Every
value from the evidence is escaped; nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from reports.checklist import ChecklistItem
from reports.results import DrillResult, RunResults
from sop.events import Event

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.PASS, .verified { color: #0a6b2a; font-weight: bold; }
.FAIL, .failed, .INTERRUPTED { color: #b00020; font-weight: bold; }
.ABORTED, .SKIPPED, .not-verified, .not-covered { color: #8a5a00; font-weight: bold; }
.banner { padding: .6em 1em; border-radius: 4px; font-weight: bold; }
.banner.ok { background: #e3f4e8; } .banner.bad { background: #fbe3e6; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: bold; } code { font-size: .92em; }
details { margin: .5em 0; } summary { cursor: pointer; }
"""

#: Colour of each event kind on a drill's timeline strip.
_KIND_COLOURS = {
    "fault_injected": "#b00020",
    "fault_reverted": "#0a6b2a",
    "state_change": "#1f4fbf",
    "notification": "#7a3fbf",
    "action": "#8a5a00",
    "resync": "#00838f",
}
_SUMMARY_SKIP = frozenset({"drill", "topology"})


def _cell(value: object, css: str = "") -> str:
    klass = f' class="{escape(css)}"' if css else ""
    return f"<td{klass}>{escape('' if value is None else str(value))}</td>"


def _run_facts(run: dict[str, Any]) -> str:
    keys = (
        "started_at",
        "written_at",
        "backend",
        "time_scale",
        "policy_version",
        "policy_digest",
        "topology_file",
        "policy_error",
    )
    rows = "".join(
        f"<dt>{escape(key.replace('_', ' '))}</dt><dd><code>{escape(str(run[key]))}</code></dd>"
        for key in keys
        if run.get(key) not in (None, "")
    )
    return f"<dl>{rows}</dl>"


def _drill_table(drills: Sequence[DrillResult]) -> str:
    head = (
        "<tr><th>drill</th><th>scenario</th><th>test plan</th><th>verdict</th><th>status</th>"
        "<th>deviated</th><th>seconds</th><th>detection (SOP minutes)</th><th>reason</th></tr>"
    )
    rows = []
    for drill in drills:
        doc = drill.meta.get("doc")
        name = f"<code>{escape(drill.nodeid)}</code>" + (f"<br>{escape(doc)}" if doc else "")
        rows.append(
            "<tr>"
            f"<td>{name}</td>"
            + _cell(drill.meta.get("scenario") or "")
            + _cell(", ".join(str(step) for step in drill.test_plan))
            + _cell(drill.verdict, drill.verdict)
            + _cell(drill.status)
            + _cell("yes" if drill.deviated else "no")
            + f'<td class="num">{drill.duration_s:.2f}</td>'
            + _cell(drill.detection.describe() if drill.detection else "not recorded")
            + _cell(drill.reason or (drill.junit.message if drill.junit else None))
            + "</tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="9">No drill ran.</td></tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _checklist(items: Iterable[ChecklistItem]) -> str:
    rows = []
    for item in items:
        drills = "<br>".join(f"<code>{escape(nodeid)}</code>" for nodeid in item.drills)
        rows.append(
            f"<tr><td>{item.step.number}</td><td><b>{escape(item.step.title)}</b>: "
            f"{escape(item.step.text)}</td>"
            + _cell(item.state, item.state.replace(" ", "-"))
            + f"<td>{drills or '—'}</td></tr>"
        )
    head = "<tr><th>#</th><th>SOP 6 step</th><th>state</th><th>drills</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _summary(event: Event) -> str:
    parts = [f"{key}={value}" for key, value in event.data.items() if key not in _SUMMARY_SKIP]
    text = ", ".join(parts)
    return text if len(text) <= 240 else text[:237] + "..."


def _timeline(drill: DrillResult) -> str:
    if not drill.events:
        return ""
    origin = drill.events[0].at_mono
    span = max(drill.events[-1].at_mono - origin, 1e-6)
    width, height = 900, 28
    ticks = []
    for event in drill.events:
        x = 10 + (event.at_mono - origin) / span * (width - 20)
        colour = _KIND_COLOURS.get(event.kind, "#777")
        ticks.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 4}" stroke="{colour}" '
            f'stroke-width="2"><title>{escape(event.kind)} +{event.at_mono - origin:.2f} s'
            "</title></line>"
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="timeline"><line x1="10" y1="{height / 2}" x2="{width - 10}" '
        f'y2="{height / 2}" stroke="#bbb"/>{"".join(ticks)}</svg>'
    )
    rows = "".join(
        f'<tr><td class="num">+{event.at_mono - origin:.3f}</td>'
        + _cell(event.kind)
        + _cell(event.source)
        + f"<td><code>{escape(event.correlation_id)}</code></td>"
        + _cell(_summary(event))
        + "</tr>"
        for event in drill.events
    )
    return (
        f"<details><summary><code>{escape(drill.nodeid)}</code> — "
        f"{len(drill.events)} events</summary>{svg}<table><tr><th>seconds</th><th>kind</th>"
        f"<th>source</th><th>correlation id</th><th>data</th></tr>{rows}</table></details>"
    )


def render_report(results: RunResults, items: Sequence[ChecklistItem]) -> str:
    """The whole report.html text for ``results`` and the test-plan checklist ``items``."""
    failing = [d for d in results.drills if d.verdict != "PASS"]
    if results.all_passed:
        banner = f'<p class="banner ok">All {len(results.drills)} drills passed.</p>'
    elif not results.drills:
        banner = '<p class="banner bad">No drill ran: this run verifies nothing.</p>'
    else:
        banner = (
            f'<p class="banner bad">{len(failing)} of {len(results.drills)} drills did not '
            "pass.</p>"
        )
    others = results.other_cases
    other_note = ""
    if others:
        bad = sum(case.outcome in ("failed", "error") for case in others)
        other_note = f"<p>JUnit lists {len(others)} other tests (not drills); {bad} failed.</p>"
    timelines = "".join(_timeline(drill) for drill in results.drills)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<title>sopdrill report: Offline Emergency SOP drills</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Offline Emergency SOP: drill report</h1>"
        f"{banner}{_run_facts(dict(results.run))}"
        f"<h2>Drills</h2>{_drill_table(results.drills)}{other_note}"
        "<p>Detection is judged against the SOP window: not before the oracle's instant, "
        "at most one probe interval plus the stated tolerance after it.</p>"
        f"<h2>SOP section 6 test plan</h2>{_checklist(items)}"
        f"<h2>Timelines</h2>{timelines or '<p>No events recorded.</p>'}"
        "</body></html>\n"
    )


__all__ = ["render_report"]
