"""The mutant catalogue: valid, honest about today's sut/ (every edit applies exactly once), and
applied and restored byte for byte in a scratch tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutant_catalogue import (
    CATALOGUE,
    CatalogueError,
    Edit,
    Mutant,
    apply_mutant,
    load_catalogue,
    module_of,
    mutated_sources,
    parse_catalogue,
    select,
)

REPO = Path(__file__).resolve().parents[2]
MUTANTS = load_catalogue()

#: The kinds of SOP violation issue 10 asks the catalogue to cover.
REQUIRED_KINDS = {
    "threshold", "order", "recipient", "template", "precondition", "latching",
    "validity", "red list", "autonomy", "re-sync", "data", "once",
}  # fmt: skip


def _table(**overrides: object) -> dict[str, object]:
    table: dict[str, object] = {
        "id": "m1",
        "kind": "threshold",
        "clause": "SOP 2A.1",
        "description": "d",
        "drills": ["drills/test_dispatcher_killed.py"],
        "edits": [{"file": "sut/agent/detector.py", "find": "a", "replace": "b"}],
    }
    table.update(overrides)
    return table


def test_catalogue_has_enough_mutants_of_every_kind():
    assert len(MUTANTS) >= 24
    assert {mutant.kind for mutant in MUTANTS} >= REQUIRED_KINDS


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_every_edit_occurs_exactly_once_in_sut_and_compiles(mutant):
    # This keeps the catalogue honest as sut/ changes: a vanished or doubled text fails here.
    for file, text in mutated_sources(mutant, REPO).items():
        assert text != (REPO / file).read_text(encoding="utf-8")
        ast.parse(text, filename=file)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_every_drill_named_exists(mutant):
    for drill in mutant.drills:
        path, _, name = drill.partition("::")
        source = (REPO / path).read_text(encoding="utf-8")
        if name:
            assert f"def {name}(" in source, drill


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"clause": ""}, "mutant m1: clause: expected a non-empty string"),
        ({"drills": []}, "mutant m1: drills: expected a non-empty list"),
        ({"drills": ["tests/test_arrows.py"]}, "is not a node id under drills/"),
        ({"edits": []}, "mutant m1: edits: expected at least one"),
        ({"edits": [{"file": "sop/policy.py", "find": "a", "replace": "b"}]}, "not under sut/"),
        ({"edits": [{"file": "sut/../sop/x.py", "find": "a", "replace": "b"}]}, "not under sut/"),
        ({"edits": [{"file": "sut/a.py", "find": "a", "replace": "a"}]}, "changes nothing"),
        ({"colour": "red"}, "mutant m1: unknown key 'colour'"),
    ],
)
def test_malformed_mutant_is_refused_in_one_line(overrides, message):
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(")) as caught:
        parse_catalogue({"mutants": [_table(**overrides)]})
    assert "\n" not in str(caught.value)


def test_duplicate_ids_are_refused():
    with pytest.raises(CatalogueError, match="mutant m1: id used twice"):
        parse_catalogue({"mutants": [_table(), _table()]})


def test_unreadable_catalogue_names_the_file(tmp_path):
    path = tmp_path / "mutants.toml"
    path.write_text("[[mutants]\n")
    with pytest.raises(CatalogueError, match=str(path)):
        load_catalogue(path)


def test_shipped_catalogue_sits_beside_the_reader():
    assert CATALOGUE == REPO / "bench" / "mutants.toml"


def _mutant(*edits: Edit) -> Mutant:
    return Mutant("m1", "threshold", "SOP 2", "d", ("drills/test_x.py",), edits)


@pytest.mark.parametrize(("text", "count"), [("nothing here\n", 0), ("x = 1\nx = 1\n", 2)])
def test_edit_not_occurring_exactly_once_names_mutant_and_file(tmp_path, text, count):
    (tmp_path / "sut").mkdir()
    (tmp_path / "sut" / "a.py").write_text(text)
    with pytest.raises(CatalogueError) as caught:
        mutated_sources(_mutant(Edit("sut/a.py", "x = 1", "x = 2")), tmp_path)
    assert str(caught.value) == (
        f"mutant m1: sut/a.py: the text to replace occurs {count} times, expected exactly once"
    )


def test_missing_file_names_mutant_and_file(tmp_path):
    with pytest.raises(CatalogueError, match=r"mutant m1: sut/gone\.py: No such file"):
        mutated_sources(_mutant(Edit("sut/gone.py", "a", "b")), tmp_path)


def test_later_edits_apply_to_the_earlier_ones_result(tmp_path):
    (tmp_path / "sut").mkdir()
    (tmp_path / "sut" / "a.py").write_text("a = 1\n")
    mutant = _mutant(Edit("sut/a.py", "a = 1", "a = 2"), Edit("sut/a.py", "a = 2", "a = 3"))
    assert mutated_sources(mutant, tmp_path) == {"sut/a.py": "a = 3\n"}


_line = st.text(alphabet="abcxyz =()\n", max_size=40)


@given(before=_line, after=_line, replace=st.text(alphabet="0123456789+-", min_size=1))
def test_apply_then_restore_gives_back_every_byte(tmp_path_factory, before, after, replace):
    root = tmp_path_factory.mktemp("tree")
    (root / "sut").mkdir()
    needle = "THRESHOLD"
    original = f"{before}{needle}{after}"
    (root / "sut" / "m.py").write_text(original)
    (root / "sut" / "other.py").write_text("untouched\n")
    applied = apply_mutant(_mutant(Edit("sut/m.py", needle, replace)), root)
    assert (root / "sut" / "m.py").read_text() == f"{before}{replace}{after}"
    applied.restore()
    assert (root / "sut" / "m.py").read_text() == original
    assert (root / "sut" / "other.py").read_text() == "untouched\n"


def test_refused_mutant_leaves_the_tree_untouched(tmp_path):
    (tmp_path / "sut").mkdir()
    (tmp_path / "sut" / "a.py").write_text("a = 1\n")
    (tmp_path / "sut" / "b.py").write_text("b = 1\n")
    mutant = _mutant(Edit("sut/a.py", "a = 1", "a = 2"), Edit("sut/b.py", "zzz", "b = 2"))
    with pytest.raises(CatalogueError, match=r"sut/b\.py"):
        apply_mutant(mutant, tmp_path)
    assert (tmp_path / "sut" / "a.py").read_text() == "a = 1\n"


def test_select_keeps_catalogue_order_and_refuses_unknown_ids():
    first, second = MUTANTS[0], MUTANTS[1]
    assert select(MUTANTS, [second.id, first.id]) == (first, second)
    assert select(MUTANTS, None) == MUTANTS
    with pytest.raises(CatalogueError, match="--only: no mutant 'nope'; see --list"):
        select(MUTANTS, [first.id, "nope"])


def test_module_of_names_the_import():
    assert module_of("sut/agent/gate.py") == "sut.agent.gate"
    assert module_of("sut/agent/__init__.py") == "sut.agent"
