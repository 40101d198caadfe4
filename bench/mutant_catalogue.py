"""The mutant catalogue: SOP violations planted in sut/, read from bench/mutants.toml and applied.

A mutant is data (an id, the SOP clause it breaks, what it does, the drills that could
catch it, and one or more exact text edits of files under sut/). This module reads and
validates the catalogue, applies a mutant to a copy of the repository and restores the
copy afterwards. Pure of processes: files only, so tests/bench/ checks it without a drill.

An edit's ``find`` must occur exactly once in its file when the edit is applied (the
mutant's earlier edits already made): zero means sut/ changed under the catalogue, two
means the edit is ambiguous; either way the tool refuses in one line naming mutant and file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The catalogue shipped beside this module.
CATALOGUE = Path(__file__).with_name("mutants.toml")

#: Mutants change the system under test only: the harness and the SOP (sop/) are what judge
#: it, and a mutant of either would change the judge with the judged.
MUTABLE_ROOT = "sut/"

#: Drills live here; a mutant's ``drills`` are pytest node ids under it.
DRILLS_ROOT = "drills/"

_MUTANT_KEYS = {"id", "kind", "clause", "description", "drills", "edits"}
_EDIT_KEYS = {"file", "find", "replace"}


class CatalogueError(Exception):
    """The catalogue is malformed or does not fit the source tree; one line says where."""


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of ``find`` in ``file`` (relative to the repo) by ``replace``."""

    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    """One planted SOP violation and the drills that could catch it."""

    id: str
    kind: str
    clause: str
    description: str
    drills: tuple[str, ...]
    edits: tuple[Edit, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """The files this mutant changes, each once, in edit order."""
        return tuple(dict.fromkeys(edit.file for edit in self.edits))


def _text(where: str, table: Mapping[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise CatalogueError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    return value


def _edit(where: str, table: Any) -> Edit:
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: expected a table, got {table!r}")
    unknown = sorted(set(table) - _EDIT_KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key {unknown[0]!r}")
    file = _text(where, table, "file")
    if not file.startswith(MUTABLE_ROOT) or ".." in Path(file).parts:
        raise CatalogueError(f"{where}: file: {file!r} is not under {MUTABLE_ROOT}")
    replace = table.get("replace")
    if not isinstance(replace, str):
        raise CatalogueError(f"{where}: replace: expected a string, got {replace!r}")
    find = _text(where, table, "find")
    if find == replace:
        raise CatalogueError(f"{where}: replace equals find: the edit changes nothing")
    return Edit(file, find, replace)


def _mutant(index: int, table: Any) -> Mutant:
    where = f"mutants[{index}]"
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: expected a table, got {table!r}")
    where = f"mutant {table.get('id', where)}"
    unknown = sorted(set(table) - _MUTANT_KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key {unknown[0]!r}")
    drills = table.get("drills")
    if not isinstance(drills, list) or not drills or not all(isinstance(d, str) for d in drills):
        raise CatalogueError(f"{where}: drills: expected a non-empty list of node ids")
    for drill in drills:
        if not drill.startswith(DRILLS_ROOT) or ".py" not in drill:
            raise CatalogueError(f"{where}: drills: {drill!r} is not a node id under {DRILLS_ROOT}")
    edits = table.get("edits")
    if not isinstance(edits, list) or not edits:
        raise CatalogueError(f"{where}: edits: expected at least one [[mutants.edits]]")
    return Mutant(
        id=_text(where, table, "id"),
        kind=_text(where, table, "kind"),
        clause=_text(where, table, "clause"),
        description=_text(where, table, "description"),
        drills=tuple(drills),
        edits=tuple(_edit(f"{where}: edits[{i}]", e) for i, e in enumerate(edits)),
    )


def parse_catalogue(document: Mapping[str, Any]) -> tuple[Mutant, ...]:
    """The mutants of a parsed catalogue, validated field by field; ids unique."""
    tables = document.get("mutants")
    if not isinstance(tables, list) or not tables:
        raise CatalogueError("catalogue: expected at least one [[mutants]] table")
    mutants = tuple(_mutant(i, table) for i, table in enumerate(tables))
    seen: set[str] = set()
    for mutant in mutants:
        if mutant.id in seen:
            raise CatalogueError(f"mutant {mutant.id}: id used twice")
        seen.add(mutant.id)
    return mutants


def load_catalogue(path: Path = CATALOGUE) -> tuple[Mutant, ...]:
    """Read and validate the catalogue file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    try:
        return parse_catalogue(document)
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None


def select(mutants: Sequence[Mutant], only: Iterable[str] | None) -> tuple[Mutant, ...]:
    """The mutants named in ``only`` (catalogue order), all when None; unknown ids refused."""
    if only is None:
        return tuple(mutants)
    wanted = [name for name in only if name]
    known = {mutant.id for mutant in mutants}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise CatalogueError(f"--only: no mutant {missing[0]!r}; see --list")
    return tuple(mutant for mutant in mutants if mutant.id in wanted)


def mutated_sources(mutant: Mutant, root: Path) -> dict[str, str]:
    """Each changed file's text with the mutant applied; refuses an edit that is not unique."""
    texts: dict[str, str] = {}
    for edit in mutant.edits:
        if edit.file not in texts:
            try:
                texts[edit.file] = (root / edit.file).read_text(encoding="utf-8")
            except OSError as exc:
                raise CatalogueError(f"mutant {mutant.id}: {edit.file}: {exc.strerror}") from None
        count = texts[edit.file].count(edit.find)
        if count != 1:
            raise CatalogueError(
                f"mutant {mutant.id}: {edit.file}: the text to replace occurs {count} times, "
                "expected exactly once"
            )
        texts[edit.file] = texts[edit.file].replace(edit.find, edit.replace, 1)
    return texts


@dataclass(frozen=True)
class Applied:
    """A mutant applied to a tree: the original text of every file it changed."""

    mutant: Mutant
    root: Path
    originals: Mapping[str, str]

    def restore(self) -> None:
        """Put every changed file back as it was."""
        for file, text in self.originals.items():
            (self.root / file).write_text(text, encoding="utf-8")


def apply_mutant(mutant: Mutant, root: Path) -> Applied:
    """Write the mutant into the tree at ``root``; the returned value restores it."""
    mutated = mutated_sources(mutant, root)
    originals = {file: (root / file).read_text(encoding="utf-8") for file in mutated}
    for file, text in mutated.items():
        (root / file).write_text(text, encoding="utf-8")
    return Applied(mutant, root, originals)


def module_of(file: str) -> str:
    """The import name of a repo-relative source file: sut/agent/gate.py -> sut.agent.gate."""
    parts = list(Path(file).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)
