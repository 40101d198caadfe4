"""The seeds' coverage map: every clause mapped or ruled out, every drill real, the doc current.

The drills are read with ``ast`` (never imported: importing them would load the harness),
so a renamed or removed drill, or a test-plan marker moved, fails here in seconds.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop.coverage import (
    COVERAGE_MAP_PATH,
    DRILLED,
    NOT_YET_DRILLED,
    OUT_OF_SCOPE,
    drill_key,
    load_map,
    read_entry,
    resolve,
    seeds_coverage,
)
from sop.coverage_doc import DOC_PATH, REGENERATE, render_markdown
from sop.errors import CoverageError
from sop.seeds import seed_clauses

ROOT = Path(__file__).resolve().parents[2]
DRILLS = ROOT / "drills"


def _marker_steps(decorators: list[ast.expr]) -> set[int]:
    """The steps of every ``pytest.mark.test_plan(...)`` among ``decorators``."""
    steps: set[int] = set()
    for node in decorators:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "test_plan"
        ):
            steps.update(int(ast.literal_eval(arg)) for arg in node.args)
    return steps


def drill_functions() -> Iterator[tuple[str, set[int]]]:
    """(node id, its SOP 6 test-plan steps) of every test function under drills/."""
    for path in sorted(DRILLS.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_steps: set[int] = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                marks = node.value.elts if isinstance(node.value, ast.List) else [node.value]
                module_steps |= _marker_steps(list(marks))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                steps = module_steps | _marker_steps(node.decorator_list)
                yield f"drills/{path.name}::{node.name}", steps


def without_table(text: str, seed: str, ident: str) -> str:
    """The map's ``text`` with the table of one clause cut out, header to the next blank line."""
    header = f'["{seed}"."{ident}"]\n'
    start = text.index(header)
    end = text.find("\n\n", start)
    return text[:start] + text[end + 2 :]


def test_every_clause_of_the_seeds_is_mapped_or_ruled_out() -> None:
    covered = seeds_coverage()
    assert [c.clause for c in covered] == list(seed_clauses())
    for entry in covered:
        coverage = entry.coverage
        assert coverage.status in (DRILLED, NOT_YET_DRILLED, OUT_OF_SCOPE)
        assert coverage.drills or coverage.status != DRILLED, entry.clause.id
        assert coverage.note or coverage.status == DRILLED, entry.clause.id


@pytest.mark.parametrize(
    ("seed", "ident"),
    [
        ("offline-emergency-sop.md", "2A.2"),
        ("emergency-procedures.md", "Scenario 3"),
        ("gate4-incident-runbooks.md", "Guardrails / 3"),
        ("cell0-incident-runbook.md", "P1 - High Memory Usage / Response / 1"),
    ],
)
def test_a_clause_whose_table_is_removed_fails_naming_it(
    seed: str, ident: str, tmp_path: Path
) -> None:
    text = COVERAGE_MAP_PATH.read_text(encoding="utf-8")
    copy = tmp_path / "seeds-coverage.toml"
    copy.write_text(without_table(text, seed, ident), encoding="utf-8")
    with pytest.raises(CoverageError) as raised:
        resolve(seed_clauses(), load_map(copy))
    problems = str(raised.value).splitlines()[1:]
    assert len(problems) == 1, problems
    assert f"neither mapped nor ruled out: {seed}:" in problems[0]
    assert f"{ident!r}" in problems[0]


def test_steps_share_their_scenarios_ruling_only_while_it_stands(tmp_path: Path) -> None:
    """Runbook A's steps have no tables: out of scope with it, unmapped without it."""
    mapping = load_map()
    covered = {c.clause.id: c.coverage for c in resolve(seed_clauses(), mapping)}
    step = covered["Runbook A / Triage Checklist / 2"]
    assert (step.status, step.ruled_with) == (OUT_OF_SCOPE, "Runbook A")
    del mapping["gate4-incident-runbooks.md"]["Runbook A"]
    with pytest.raises(CoverageError, match=r"12 problem\(s\)") as raised:
        resolve(seed_clauses(), mapping)
    assert "'Runbook A / Recovery Checklist / 4'" in str(raised.value)


def test_a_table_naming_no_clause_is_refused() -> None:
    mapping = load_map()
    entries = mapping["offline-emergency-sop.md"]
    entries["2C.1"] = entries["2B.1"]
    with pytest.raises(CoverageError, match=r"'2C\.1': names no clause of the seeds"):
        resolve(seed_clauses(), mapping)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"note": "no status"}, "expected exactly one of drills, not_yet_drilled, out_of_scope"),
        ({"drills": [], "note": "x"}, "drills: expected a non-empty list of drill node ids"),
        ({"drills": ["tests/test_x.py::test_y"]}, "'tests/test_x.py::test_y' is no drill node id"),
        ({"out_of_scope": " "}, "out_of_scope: expected a non-empty sentence"),
        ({"out_of_scope": "why", "partly": ["drills/test_a.py::test_b"]}, "partly: not allowed"),
        ({"drills": ["drills/test_a.py::test_b"], "out_of_scope": "why"}, "exactly one of"),
    ],
)
def test_a_malformed_table_is_refused_in_one_line(raw: dict[str, object], message: str) -> None:
    with pytest.raises(CoverageError, match=re.escape(message)) as raised:
        read_entry("offline-emergency-sop.md", "2A.1", raw)
    assert "offline-emergency-sop.md: '2A.1'" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_drill_the_map_names_is_a_test_function_under_drills() -> None:
    real = {nodeid for nodeid, _ in drill_functions()}
    assert len(real) > 20, f"drills/ read as {sorted(real)}"
    named = {
        (entry.clause.seed, entry.clause.id, nodeid)
        for entry in seeds_coverage()
        for nodeid in entry.coverage.drills
    }
    unknown = sorted(
        f"{seed} {ident!r}: {nodeid}" for seed, ident, nodeid in named if nodeid not in real
    )
    assert not unknown, "the map names drills that do not exist:\n" + "\n".join(unknown)


def test_every_drill_under_drills_proves_a_clause_or_touches_a_gap() -> None:
    """A new drill is added to the map, or it proves nothing the seeds ask for."""
    named = {nodeid for entry in seeds_coverage() for nodeid in entry.coverage.drills}
    unmapped = sorted(nodeid for nodeid, _ in drill_functions() if nodeid not in named)
    assert not unmapped, (
        f"drills the map ({COVERAGE_MAP_PATH.name}) names for no clause; add each to the "
        "clauses it proves (drills) or touches (partly), then run "
        f"{REGENERATE}:\n" + "\n".join(unmapped)
    )


def test_each_test_plan_step_names_the_drills_whose_marker_claims_it() -> None:
    """SOP 6.N in the map and ``@pytest.mark.test_plan(N)`` on the drills say the same."""
    covered = {c.clause.id: c.coverage for c in seeds_coverage() if c.clause.seed.startswith("off")}
    for step in range(1, 6):
        claimed = {nodeid for nodeid, steps in drill_functions() if step in steps}
        assert set(covered[f"6.{step}"].drills) == claimed, f"SOP 6.{step}"


def test_the_coverage_page_is_the_rendering_of_the_map() -> None:
    page = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert page == render_markdown(seeds_coverage()), f"{DOC_PATH} is stale; run {REGENERATE}"


def test_a_drill_is_known_by_its_module_and_function() -> None:
    assert drill_key("drills/test_a.py::test_b[runaway]") == "test_a.py::test_b"
    assert drill_key("../site-packages/drills/test_a.py::test_b") == "test_a.py::test_b"
