"""The seeds' coverage in one run: every clause of the four seeds with this run's verdicts.

The map is sop/coverage.py's (its page is docs/seeds-coverage.md); this joins it with the
run. A drilled clause is verified when every drill of this run that the map names for it
passed, failed when one failed, not verified when one ended otherwise (skipped, aborted,
a harness error) and not run when the run had none of them (the smoke suite, the local
backend for a container drill). A gap stays a gap whatever ran, listing the drills of the
run that touch a part of it; an out-of-scope clause shows its reason. A drill is matched
by module and function, every case of a parametrized drill counting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from reports.results import DrillResult, RunResults
from sop.coverage import (
    DRILLED,
    NOT_YET_DRILLED,
    ClauseCoverage,
    Coverage,
    drill_key,
    seeds_coverage,
)
from sop.errors import CoverageError
from sop.seeds import SEED_TITLES, SEEDS, SeedClause

#: A clause's state in a run, in the order the summary counts them.
STATES = ("verified", "failed", "not verified", "not run", NOT_YET_DRILLED, "out of scope")
#: State -> the report's badge class (reports/html.py's style sheet).
_CSS = {"not run": "not-covered", NOT_YET_DRILLED: "not-covered", "out of scope": "muted"}


@dataclass(frozen=True)
class CoverageRow:
    """One clause, its coverage and what this run showed of it: ``runs`` are the run's
    drills among those the map names (for a gap, those that touch a part of it)."""

    clause: SeedClause
    coverage: Coverage
    state: str
    runs: tuple[DrillResult, ...]


def _state(coverage: Coverage, runs: Sequence[DrillResult]) -> str:
    if coverage.status != DRILLED:
        return coverage.status
    verdicts = {drill.verdict for drill in runs}
    if not runs:
        return "not run"
    if verdicts & {"FAIL", "INTERRUPTED"}:
        return "failed"
    return "verified" if verdicts == {"PASS"} else "not verified"


def coverage_rows(
    results: RunResults, coverage: Sequence[ClauseCoverage] | None = None
) -> list[CoverageRow]:
    """Each clause of the seeds (``seeds_coverage()`` unless given) with this run's drills."""
    by_key: dict[str, list[DrillResult]] = {}
    for drill in results.drills:
        by_key.setdefault(drill_key(drill.nodeid), []).append(drill)
    rows = []
    for entry in seeds_coverage() if coverage is None else coverage:
        named = {drill_key(nodeid) for nodeid in entry.coverage.drills}
        runs = tuple(d for d in results.drills if drill_key(d.nodeid) in named)
        rows.append(CoverageRow(entry.clause, entry.coverage, _state(entry.coverage, runs), runs))
    return rows


def _e(value: object) -> str:
    return escape(str(value))


def _breakable(text: str) -> str:
    """``text`` escaped, breakable after its underscores and slashes in a narrow column."""
    return _e(text).replace("_", "_<wbr>").replace("/", "/<wbr>")


def _plain(text: str) -> str:
    """A seed's Markdown emphasis and code quotes left out: the report shows plain words."""
    return _e(text.replace("**", "").replace("`", ""))


def _badge(text: str) -> str:
    return f'<span class="badge {_CSS.get(text, text.replace(" ", "-"))}">{_e(text)}</span>'


def _drills(row: CoverageRow, link: Callable[[str], str]) -> str:
    """This run's drills of ``row``, each with its verdict and a link to its card."""
    shown = [
        f"<a href='#{_e(link(d.nodeid))}'><code>{_breakable(d.name)}</code></a> {_badge(d.verdict)}"
        for d in row.runs
    ]
    return "<br>".join(shown)


def _evidence(row: CoverageRow, link: Callable[[str], str]) -> str:
    coverage, ran = row.coverage, _drills(row, link)
    note = f"<span class='muted'>{_plain(coverage.note)}</span>" if coverage.note else ""
    if coverage.ruled_with is not None:
        return f"<span class='muted'>with {_e(coverage.ruled_with)} (above)</span>"
    if coverage.status == DRILLED and not row.runs:
        named = ", ".join(f"<code>{_breakable(nodeid)}</code>" for nodeid in coverage.drills)
        return f"<span class='muted'>none of its drills ran: {named}</span>"
    if coverage.status == NOT_YET_DRILLED:
        return note + (f"<br>touched in this run by: {ran}" if ran else "")
    return ran + (f"<br>{note}" if ran and note else note)


def _table(rows: Sequence[CoverageRow], link: Callable[[str], str]) -> str:
    body = "".join(
        f"<tr><td><code>{_e(row.clause.id)}</code></td><td><b>{_plain(row.clause.title)}</b>"
        f"{(': ' + _plain(row.clause.text)) if row.clause.text else ''}</td>"
        f"<td>{_badge(row.state)}</td><td>{_evidence(row, link)}</td></tr>"
        for row in rows
    )
    head = (
        "<tr><th>clause</th><th>what it says</th><th>this run</th>"
        "<th>drills of this run and their verdicts, or the reason</th></tr>"
    )
    return f"<table>{head}{body}</table>"


def _summary(rows: Sequence[CoverageRow]) -> str:
    counts = Counter(row.state for row in rows)
    parts = [f"{counts[state]} {state}" for state in STATES if counts[state]]
    return f"{len(rows)} clauses: " + ", ".join(parts)


def render_coverage(
    results: RunResults,
    link: Callable[[str], str],
    coverage: Sequence[ClauseCoverage] | None = None,
) -> str:
    """The report's "Seeds coverage" section; ``link`` gives a drill's card anchor."""
    try:
        rows = coverage_rows(results, coverage)
    except CoverageError as exc:
        return (
            "<h2>Seeds coverage</h2><div class='divergence'><b>The coverage map could not be "
            f"read:</b> <code>{_e(exc)}</code></div>"
        )
    sections = []
    for seed in SEEDS:
        mine = [row for row in rows if row.clause.seed == seed]
        sections.append(
            f"<h3 style='margin-top:1.2em'>{_e(SEED_TITLES[seed])} <span class='muted'>"
            f"({_e(seed)}; {_e(_summary(mine))})</span></h3>{_table(mine, link)}"
        )
    return (
        "<h2>Seeds coverage</h2><p class='muted'>Every numbered scenario, step and guardrail "
        "of the four documents the project was made from, with the drills of this run that "
        "exercised it and their verdicts; a gap (not yet drilled) and an out-of-scope clause "
        "(with its reason) are shown as such (docs/seeds-coverage.md, sop/seeds-coverage."
        f"toml). {_e(_summary(rows))}.</p>" + "".join(sections)
    )


__all__ = ["STATES", "CoverageRow", "coverage_rows", "render_coverage"]
