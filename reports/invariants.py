"""The SOP invariants table: the checker's verdict on every invariant, for every drill.

The harness judges each drill's recorded history with the checker (fixtures/history_check.py)
and keeps the verdicts in the drill's journal entry (``meta.invariants``: one object per
invariant, ``invariant``, ``clause``, ``status`` held / violated / not_exercised, and for a
violation its first ``divergence``). This module reads them back into one table, invariant
x drill, and names the invariants no drill of the run exercised (issue 10: a run whose
drills leave an invariant unexercised has not shown the SOP holds there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from reports.results import DrillResult, RunResults
from sop.checker import InvariantVerdict
from sop.errors import EvidenceError

#: The table as JSON beside report.html (the verdicts themselves stay in evidence.json).
INVARIANTS_FILE = "invariants.json"
#: The journal key the harness writes the verdicts under (fixtures/history_check.py).
INVARIANTS_KEY = "invariants"
_LABELS = {"held": "held", "violated": "violated", "not_exercised": "not exercised"}
_CSS = {"held": "PASS", "violated": "FAIL", "not_exercised": "info"}


@dataclass(frozen=True)
class InvariantRow:
    """One invariant of the SOP and its verdict in each drill that was judged."""

    invariant: str
    clause: str
    verdicts: Mapping[str, InvariantVerdict]  # drill node id -> verdict

    @property
    def exercised(self) -> bool:
        """Whether any drill gave the checker something to judge for this invariant."""
        return any(v.status != "not_exercised" for v in self.verdicts.values())


@dataclass(frozen=True)
class InvariantTable:
    """Invariant x drill over one run; ``judged`` are the drills that carry verdicts."""

    rows: tuple[InvariantRow, ...]
    judged: tuple[str, ...]
    problems: tuple[str, ...] = ()

    @property
    def unexercised(self) -> tuple[InvariantRow, ...]:
        """The invariants no drill of the run exercised."""
        return tuple(row for row in self.rows if not row.exercised)

    def to_dict(self) -> dict[str, Any]:
        """The table as JSON: per invariant its clause and each drill's status."""
        return {
            "drills": list(self.judged),
            "invariants": [
                {
                    "invariant": row.invariant,
                    "clause": row.clause,
                    "statuses": {nodeid: v.status for nodeid, v in row.verdicts.items()},
                }
                for row in self.rows
            ],
            "not_exercised": [row.invariant for row in self.unexercised],
        }


def drill_verdicts(drill: DrillResult) -> tuple[InvariantVerdict, ...]:
    """The checker's verdicts kept in ``drill``'s journal entry (none when not judged)."""
    raw = drill.meta.get(INVARIANTS_KEY) or ()
    if not isinstance(raw, list):
        raise EvidenceError(f"{drill.nodeid}: meta.invariants: expected a list, got {raw!r}")
    return tuple(InvariantVerdict.from_dict(item) for item in raw)


def invariant_table(results: RunResults) -> InvariantTable:
    """The invariants table of the run, in the order the checker judges them."""
    order: dict[str, str] = {}
    cells: dict[str, dict[str, InvariantVerdict]] = {}
    judged: list[str] = []
    problems: list[str] = []
    for drill in results.drills:
        try:
            verdicts = drill_verdicts(drill)
        except EvidenceError as exc:
            problems.append(str(exc))
            continue
        if verdicts:
            judged.append(drill.nodeid)
        for verdict in verdicts:
            order.setdefault(verdict.invariant, verdict.clause)
            cells.setdefault(verdict.invariant, {})[drill.nodeid] = verdict
    rows = tuple(InvariantRow(name, clause, cells[name]) for name, clause in order.items())
    return InvariantTable(rows, tuple(judged), tuple(problems))


def _e(value: object) -> str:
    return escape(str(value))


def _cell(verdict: InvariantVerdict | None) -> str:
    if verdict is None:
        return "<td class='muted'>—</td>"
    badge = f'<span class="badge {_CSS[verdict.status]}">{_LABELS[verdict.status]}</span>'
    line = verdict.describe() if verdict.status == "violated" else verdict.note
    detail = f"<br><small>{_e(line)}</small>" if verdict.status == "violated" else ""
    return f"<td title='{_e(line)}'>{badge}{detail}</td>"


def render_invariants(table: InvariantTable, names: Mapping[str, str]) -> str:
    """The report's "SOP invariants" section body: the table and the unexercised list.

    Rows are drills and columns invariants (five columns read better than one per drill);
    ``names`` maps a node id to the drill's short name.
    """
    if not table.rows:
        return (
            "<p class='muted'>No checker verdicts in this run's evidence (drills run without "
            "a deployment, or evidence from before the checker).</p>"
        )
    head = "".join(
        f"<th>{_e(row.invariant)}<br><small>{_e(row.clause)}</small></th>" for row in table.rows
    )
    body = "".join(
        f"<tr><td><code>{_e(names.get(nodeid, nodeid))}</code></td>"
        + "".join(_cell(row.verdicts.get(nodeid)) for row in table.rows)
        + "</tr>"
        for nodeid in table.judged
    )
    missing = table.unexercised
    if missing:
        listed = ", ".join(f"{_e(r.invariant)} ({_e(r.clause)})" for r in missing)
        tail = f"<p class='divergence'><b>Exercised by no drill of this run:</b> {listed}.</p>"
    else:
        tail = "<p class='muted'>Every invariant was exercised by at least one drill.</p>"
    problems = "".join(f"<p class='divergence'>{_e(p)}</p>" for p in table.problems)
    return f"<table><tr><th>drill</th>{head}</tr>{body}</table>{tail}{problems}"


def drill_names(drills: Sequence[DrillResult]) -> dict[str, str]:
    """Each drill's short name by node id (for the table's first column)."""
    return {drill.nodeid: drill.name for drill in drills}


__all__ = [
    "INVARIANTS_FILE",
    "INVARIANTS_KEY",
    "InvariantRow",
    "InvariantTable",
    "drill_names",
    "drill_verdicts",
    "invariant_table",
    "render_invariants",
]
