"""The arrows of the house (docs/architecture.md, "Rooms and arrows"), proved on the source.

Every import statement of every module of ours is read with ``ast`` (those under
``if TYPE_CHECKING:`` and inside functions included: a deferred import is still an
arrow), and each must point the way the architecture allows. A failure names the
offending file, line and import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Which of our rooms each room may import (itself always allowed).
ALLOWED: Mapping[str, frozenset[str]] = {
    "sop": frozenset(),
    "sut": frozenset({"sop"}),
    "fixtures": frozenset({"sop"}),
    "reports": frozenset({"sop"}),
    "drills": frozenset({"fixtures", "sop"}),
    "cli": frozenset({"fixtures", "reports", "sop"}),
}
ROOMS = frozenset(ALLOWED)


def imported_rooms(source: str, module: str) -> Iterator[tuple[int, str, str]]:
    """(line, room, statement) for every import of one of our rooms in ``source``.

    ``module`` is the dotted name of the file, so relative imports resolve to their room.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                room = alias.name.split(".")[0]
                if room in ROOMS:
                    yield node.lineno, room, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                room = module.split(".")[0]
                name = "." * node.level + (node.module or "")
            else:
                name = node.module or ""
                room = name.split(".")[0]
            if room in ROOMS:
                yield node.lineno, room, f"from {name} import ..."


def room_edges(root: Path) -> Iterator[tuple[str, str, str]]:
    """(room, imported room, "file:line: statement") for every cross-room import."""
    for room in sorted(ROOMS):
        for path in sorted((root / room).rglob("*.py")):
            relative = path.relative_to(root)
            module = ".".join(relative.with_suffix("").parts)
            source = path.read_text(encoding="utf-8")
            for line, target, statement in imported_rooms(source, module):
                if target != room:
                    yield room, target, f"{relative}:{line}: {statement}"


def forbidden(edges: list[tuple[str, str, str]]) -> list[str]:
    """Each edge the architecture does not allow, as one readable line."""
    return [
        f"{where} ({room} may import only {sorted(ALLOWED[room]) or 'nothing of ours'})"
        for room, target, where in edges
        if target not in ALLOWED[room]
    ]


def find_cycle(edges: list[tuple[str, str, str]]) -> list[str] | None:
    """A circle among the rooms (as the list of rooms on it), or None."""
    graph: dict[str, set[str]] = {room: set() for room in ROOMS}
    for room, target, _ in edges:
        graph[room].add(target)
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(room: str, path: list[str]) -> list[str] | None:
        state[room] = 1
        for target in sorted(graph[room]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target] if target in path else [room, target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[room] = 2
        return None

    for room in sorted(ROOMS):
        if room not in state and (cycle := visit(room, [room])):
            return cycle
    return None


def test_every_import_points_the_way_the_architecture_allows() -> None:
    edges = list(room_edges(ROOT))
    assert edges, "no cross-room import found at all: is ROOT the repository?"
    bad = forbidden(edges)
    assert not bad, "imports against the arrows:\n" + "\n".join(bad)


def test_the_rooms_form_no_circle() -> None:
    assert find_cycle(list(room_edges(ROOT))) is None


def test_nothing_imports_the_command_line_room() -> None:
    importers = [where for _, target, where in room_edges(ROOT) if target == "cli"]
    assert not importers, "cli/ is the composition root:\n" + "\n".join(importers)


# -- the checker itself can fail ----------------------------------------------------------


@pytest.mark.parametrize(
    ("room", "source", "expected"),
    [
        ("fixtures", "from reports import build_report\n", "reports"),
        ("sop", "import sut.agent\n", "sut"),
        ("sut", "if TYPE_CHECKING:\n    from fixtures.clock import DrillClock\n", "fixtures"),
        ("drills", "def f():\n    import cli.main\n", "cli"),
    ],
)
def test_a_planted_import_against_the_arrows_is_named(
    tmp_path: Path, room: str, source: str, expected: str
) -> None:
    (tmp_path / room).mkdir()
    (tmp_path / room / "planted.py").write_text(source, encoding="utf-8")
    bad = forbidden(list(room_edges(tmp_path)))
    assert len(bad) == 1
    assert bad[0].startswith(f"{room}/planted.py:")
    assert expected in bad[0]


def test_a_relative_import_counts_for_its_own_room(tmp_path: Path) -> None:
    (tmp_path / "sop").mkdir()
    (tmp_path / "sop" / "a.py").write_text("from . import b\n", encoding="utf-8")
    assert list(room_edges(tmp_path)) == []


def test_a_planted_circle_is_found() -> None:
    edges = [("sop", "reports", "x"), ("reports", "sop", "y")]
    cycle = find_cycle(edges)
    assert cycle is not None
    assert set(cycle) == {"sop", "reports"}
