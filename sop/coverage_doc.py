"""docs/seeds-coverage.md: the seeds' coverage map rendered for a compliance reader.

The page is generated, never edited: ``render_markdown`` makes it from the map
(sop/seeds-coverage.toml) and the seeds, and a test fails when the file in docs/ differs
from the rendering. After a change to the map or the seeds::

    .venv/bin/python -m sop.coverage_doc docs/seeds-coverage.md
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sop.coverage import (
    DRILLED,
    NOT_YET_DRILLED,
    STATUSES,
    ClauseCoverage,
    seeds_coverage,
)
from sop.seeds import SEED_TITLES, SEEDS

#: Where the rendering is kept, from the repository root.
DOC_PATH = Path("docs/seeds-coverage.md")
REGENERATE = f".venv/bin/python -m sop.coverage_doc {DOC_PATH}"

_INTRO = f"""\
# Seeds coverage

<!-- Generated from sop/seeds-coverage.toml; do not edit. Regenerate: {REGENERATE} -->

The project was made from four documents, kept byte for byte under `sop/` (copies of
`../shared/seeds`). This page lists every numbered scenario, step and guardrail of each
(as `sop/seeds.py` reads them: headings and numbered steps, the severity, escalation and
RTO tables, the templates), and says for each one of three things:

- **drilled**: the drills named (pytest node ids under `drills/`) exercise it with their
  own assertions; report.html shows their verdicts in each run;
- **not yet drilled**: a gap, named as such: what is still to be drilled, and the drills
  that already touch a part of it;
- **out of scope**: no drill can prove it, and why (a person's action, a cloud provider,
  another system than the one under test). A step of a scenario ruled out as a whole
  shares its ruling.

`tests/sop/test_coverage.py` fails when a clause of the seeds is neither mapped nor ruled
out, when the map names a drill that does not exist, and when this page differs from
the map.
"""


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _summary(coverage: Sequence[ClauseCoverage]) -> str:
    counts = Counter((c.clause.seed, c.coverage.status) for c in coverage)
    rows = [
        "| seed | clauses | " + " | ".join(STATUSES) + " |",
        "|---|--:|" + "--:|" * len(STATUSES),
    ]
    for seed in (*SEEDS, None):
        mine = [c for c in coverage if seed is None or c.clause.seed == seed]
        name = "all four" if seed is None else f"{SEED_TITLES[seed]} (`{seed}`)"
        figures = [
            str(sum(counts[(s, status)] for s in SEEDS if seed in (None, s))) for status in STATUSES
        ]
        rows.append(f"| {name} | {len(mine)} | " + " | ".join(figures) + " |")
    return "## Summary\n\n" + "\n".join(rows) + "\n"


def _what(entry: ClauseCoverage) -> str:
    clause = entry.clause
    said = f"**{clause.title}**" + (f": {clause.text}" if clause.text else "")
    return _cell(said)


def _why(entry: ClauseCoverage) -> str:
    coverage = entry.coverage
    if coverage.ruled_with is not None:
        return _cell(f"with {coverage.ruled_with} (above)")
    drills = "<br>".join(f"`{nodeid}`" for nodeid in coverage.drills)
    if coverage.status == DRILLED:
        return drills + (f"<br>{_cell(coverage.note)}" if coverage.note else "")
    if coverage.status == NOT_YET_DRILLED and drills:
        return _cell(coverage.note) + "<br>Touched already by: " + drills
    return _cell(coverage.note)


def _seed_table(seed: str, coverage: Sequence[ClauseCoverage]) -> str:
    rows = [
        "| clause | what it says | status | drills, or the reason |",
        "|---|---|---|---|",
    ]
    for entry in coverage:
        if entry.clause.seed == seed:
            status = entry.coverage.status
            shown = f"**{status}**" if status == NOT_YET_DRILLED else status
            rows.append(f"| {_cell(entry.clause.id)} | {_what(entry)} | {shown} | {_why(entry)} |")
    return f"## {SEED_TITLES[seed]} (`{seed}`)\n\n" + "\n".join(rows) + "\n"


def _gaps(coverage: Sequence[ClauseCoverage]) -> str:
    gaps = [c for c in coverage if c.coverage.status == NOT_YET_DRILLED]
    lines = [
        f"- `{c.clause.seed}` {_cell(c.clause.id)} ({_cell(c.clause.title)}): "
        f"{_cell(c.coverage.note)}"
        for c in gaps
    ]
    return f"## Gaps: not yet drilled ({len(gaps)})\n\n" + "\n".join(lines) + "\n"


def render_markdown(coverage: Sequence[ClauseCoverage]) -> str:
    """The whole of docs/seeds-coverage.md for ``coverage`` (``seeds_coverage()``)."""
    parts = [_INTRO, _summary(coverage), _gaps(coverage)]
    parts += [_seed_table(seed, coverage) for seed in SEEDS]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page to the path given (print it without one); exit 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_markdown(seeds_coverage())
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


__all__ = ["DOC_PATH", "REGENERATE", "main", "render_markdown"]

if __name__ == "__main__":
    raise SystemExit(main())
