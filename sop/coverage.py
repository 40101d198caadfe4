"""The seeds' coverage map: for every clause of the four seeds, the drills that prove it,
or why it is out of scope, or the gap that is still to be drilled.

The map is data, ``sop/seeds-coverage.toml``, one table per clause, keyed by the seed's
file name and the clause id ``sop/seeds.py`` gives it::

    ["offline-emergency-sop.md"."2A.1"]         # drilled: the drills that prove it
    drills = ["drills/test_short_outage.py::test_short_outage_never_declares_offline"]
    note = "what they show, and what they leave out"       # optional

    ["emergency-procedures.md"."Scenario 5"]    # out of scope: why no drill can prove it
    out_of_scope = "provisioning a new VPS at a cloud provider"

    ["emergency-procedures.md"."Scenario 4 / STEP 3"]   # a gap, named as such
    not_yet_drilled = "Gitea as the message channel: the agent reads no issues"
    partly = ["drills/..."]                     # optional: drills that touch a part of it

A clause without a table of its own is ruled out with the clause it belongs to, when that
one is out of scope (a runbook of another system rules out its steps); otherwise it is
unmapped, and :func:`resolve` refuses the map, naming every such clause. A table that
names no clause of the seeds is refused too: the map cannot drift from the documents.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.errors import CoverageError
from sop.seeds import SEED_DIR, SeedClause, seed_clauses

#: The coverage map shipped with the project.
COVERAGE_MAP_PATH = Path(__file__).with_name("seeds-coverage.toml")
DRILLED, NOT_YET_DRILLED, OUT_OF_SCOPE = "drilled", "not yet drilled", "out of scope"
STATUSES = (DRILLED, NOT_YET_DRILLED, OUT_OF_SCOPE)
#: A drill as pytest names it from the repository root: a test function of drills/.
NODE_ID = re.compile(r"^drills/test_\w+\.py::test_\w+$")
#: The key that gives a clause its status -> the keys allowed in its table.
_KEYS = {
    "drills": ("drills", "note"),
    "not_yet_drilled": ("not_yet_drilled", "partly"),
    "out_of_scope": ("out_of_scope",),
}


@dataclass(frozen=True)
class Coverage:
    """What the map says of one clause.

    ``drills``: for a drilled clause the drills that prove it; for a gap those that touch a
    part of it. ``note``: what the drills show, the gap, or why it is out of scope.
    ``ruled_with``: the clause whose out-of-scope ruling this one shares, if it has none."""

    status: str
    drills: tuple[str, ...] = ()
    note: str = ""
    ruled_with: str | None = None


@dataclass(frozen=True)
class ClauseCoverage:
    """One clause of a seed and its coverage."""

    clause: SeedClause
    coverage: Coverage


def _where(seed: str, ident: str) -> str:
    return f"{COVERAGE_MAP_PATH.name}: {seed}: {ident!r}"


def _drill_ids(where: str, key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
        raise CoverageError(f"{where}: {key}: expected a non-empty list of drill node ids")
    for nodeid in raw:
        if not NODE_ID.match(nodeid):
            raise CoverageError(
                f"{where}: {key}: {nodeid!r} is no drill node id "
                "(drills/test_<module>.py::test_<function>)"
            )
    return tuple(raw)


def _text(where: str, key: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise CoverageError(f"{where}: {key}: expected a non-empty sentence")
    return " ".join(raw.split())


def read_entry(seed: str, ident: str, raw: Mapping[str, Any]) -> Coverage:
    """One table of the map as a ``Coverage``; a malformed one raises ``CoverageError``."""
    where = _where(seed, ident)
    statuses = [key for key in _KEYS if key in raw]
    if len(statuses) != 1:
        raise CoverageError(
            f"{where}: expected exactly one of drills, not_yet_drilled, out_of_scope; "
            f"got {sorted(raw)}"
        )
    status = statuses[0]
    unknown = sorted(set(raw) - set(_KEYS[status]))
    if unknown:
        raise CoverageError(f"{where}: {', '.join(unknown)}: not allowed beside {status}")
    if status == "drills":
        note = _text(where, "note", raw["note"]) if "note" in raw else ""
        return Coverage(DRILLED, _drill_ids(where, "drills", raw["drills"]), note)
    if status == "not_yet_drilled":
        partly = _drill_ids(where, "partly", raw["partly"]) if "partly" in raw else ()
        return Coverage(NOT_YET_DRILLED, partly, _text(where, "not_yet_drilled", raw[status]))
    return Coverage(OUT_OF_SCOPE, (), _text(where, "out_of_scope", raw["out_of_scope"]))


def load_map(path: Path = COVERAGE_MAP_PATH) -> dict[str, dict[str, Coverage]]:
    """The coverage map: seed -> clause id -> ``Coverage``, every entry checked."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CoverageError(f"{path}: unreadable ({exc.strerror}); reinstall sopdrill") from None
    except tomllib.TOMLDecodeError as exc:
        raise CoverageError(f"{path}: not TOML ({exc})") from None
    mapping: dict[str, dict[str, Coverage]] = {}
    for seed, entries in document.items():
        if not isinstance(entries, dict):
            raise CoverageError(f"{path}: {seed}: expected a table of clauses")
        mapping[seed] = {}
        for ident, raw in entries.items():
            if not isinstance(raw, dict):
                raise CoverageError(f"{_where(seed, ident)}: expected a table")
            mapping[seed][ident] = read_entry(seed, ident, raw)
    return mapping


def resolve(
    clauses: Iterable[SeedClause], mapping: Mapping[str, Mapping[str, Coverage]]
) -> tuple[ClauseCoverage, ...]:
    """Each clause with its coverage; ``CoverageError`` names every clause neither mapped nor
    ruled out and every map entry that names no clause."""
    clauses = tuple(clauses)
    resolved: list[ClauseCoverage] = []
    by_id: dict[tuple[str, str | None], Coverage] = {}
    problems: list[str] = []
    for clause in clauses:
        found = mapping.get(clause.seed, {}).get(clause.id)
        owner = by_id.get((clause.seed, clause.parent))
        if found is None and owner is not None and owner.status == OUT_OF_SCOPE:
            found = Coverage(OUT_OF_SCOPE, (), owner.note, owner.ruled_with or clause.parent)
        if found is None:
            problems.append(
                f"neither mapped nor ruled out: {clause.seed}:{clause.line}: "
                f"{clause.id!r} ({clause.title})"
            )
            continue
        by_id[(clause.seed, clause.id)] = found
        resolved.append(ClauseCoverage(clause, found))
    known = {(clause.seed, clause.id) for clause in clauses}
    problems += [
        f"{_where(seed, ident)}: names no clause of the seeds (renamed or removed?)"
        for seed, entries in mapping.items()
        for ident in entries
        if (seed, ident) not in known
    ]
    if problems:
        raise CoverageError(
            f"{COVERAGE_MAP_PATH.name}: {len(problems)} problem(s); give each clause a table "
            "with drills, not_yet_drilled or out_of_scope, and remove stale tables:\n  "
            + "\n  ".join(problems)
        )
    return tuple(resolved)


def seeds_coverage(
    seed_dir: Path = SEED_DIR, map_path: Path = COVERAGE_MAP_PATH
) -> tuple[ClauseCoverage, ...]:
    """Every clause of the four seeds with its coverage, from the shipped map."""
    return resolve(seed_clauses(seed_dir), load_map(map_path))


def drill_key(nodeid: str) -> str:
    """``test_module.py::test_function`` of a drill's node id: without the directory it was
    collected from (``--pyargs drills`` names it from wherever drills/ is installed) and
    without its parameters, so every case of a parametrized drill is one drill here."""
    path, _, name = nodeid.partition("[")[0].partition("::")
    return f"{path.rsplit('/', 1)[-1]}::{name}"


__all__ = [
    "COVERAGE_MAP_PATH",
    "DRILLED",
    "NODE_ID",
    "NOT_YET_DRILLED",
    "OUT_OF_SCOPE",
    "STATUSES",
    "ClauseCoverage",
    "Coverage",
    "drill_key",
    "load_map",
    "read_entry",
    "resolve",
    "seeds_coverage",
]
