"""The audit mapping: which clause of which framework each drill and artifact evidences.

A compliance team files the run's artifacts against three clauses:

* SOC 2 (2017 TSC) A1.3: recovery plan procedures are tested;
* SOC 2 CC7.5: activities to recover from identified incidents are developed and run;
* ISO 22301:2019 8.5 e): a formalised post-exercise report with outcomes,
  recommendations and actions.

A drill's SOP clauses come from its own words (the "SOP 2A.3" its module cites, its
scenario and test-plan markers); the framework clauses follow from those. The mapping is
written into report.html and, for tooling, ``audit-mapping.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reports.results import DrillResult, RunResults

AUDIT_FILE = "audit-mapping.json"
#: "SOP 2A.3", "SOP 3", "SOP 4 rotate_logs" -> 2A.3, 3, 4.
_SOP_CLAUSE = re.compile(r"\bSOP (\d[A-B]?(?:\.\d)?)")
#: SOP section 6 step -> the section whose promise it checks.
_PLAN_SECTIONS = {1: "2A", 2: "2", 3: "4", 4: "3", 5: "5"}


@dataclass(frozen=True)
class Clause:
    """A framework clause, what it asks for, and what of a run answers it."""

    ref: str
    framework: str
    requirement: str
    artifacts: tuple[str, ...]
    sop_sections: tuple[str, ...]  # SOP sections whose drills evidence it; () = every drill


CLAUSES = (
    Clause(
        "A1.3",
        "SOC 2 (Trust Services Criteria, availability)",
        "Recovery plan procedures supporting system recovery are tested to help meet the "
        "entity's availability commitments and system requirements.",
        ("report.html", "evidence.json", "junit.xml", "allure-results/", "MANIFEST"),
        (),
    ),
    Clause(
        "CC7.5",
        "SOC 2 (Trust Services Criteria, common criteria)",
        "The entity identifies, develops, and implements activities to recover from "
        "identified security incidents.",
        ("report.html", "evidence.json", "pir/", "handoff/", "allure-results/"),
        ("3", "4", "5"),
    ),
    Clause(
        "8.5 e)",
        "ISO 22301:2019 (exercise programme)",
        "Produce formalized post-exercise reports that contain outcomes, recommendations "
        "and actions to implement improvements.",
        ("report.html", "pir/", "handoff/", "audit-mapping.json", "MANIFEST", "MANIFEST.sig"),
        (),
    ),
)


def sop_clauses(drill: DrillResult) -> tuple[str, ...]:
    """The SOP clauses a drill evidences: cited by its module, its scenario, its plan steps."""
    found = set(_SOP_CLAUSE.findall(str(drill.meta.get("module_doc") or "")))
    if drill.meta.get("scenario"):
        found.add(f"2{drill.meta['scenario']}")
    found.update(f"6.{step}" for step in drill.test_plan)
    if not found - {f"6.{step}" for step in drill.test_plan}:
        # Older evidence without the module's words: the plan steps say which section.
        found.update(_PLAN_SECTIONS[step] for step in drill.test_plan if step in _PLAN_SECTIONS)
    return tuple(sorted(found))


def framework_clauses(drill: DrillResult) -> tuple[str, ...]:
    """The framework clauses a drill evidences (``SOC 2 A1.3``, ...)."""
    # "2A.3" is section 2, "4" section 4; the test-plan steps (6.N) name no section.
    sections = {c[0] for c in sop_clauses(drill) if not c.startswith("6.")}
    return tuple(
        clause.ref
        for clause in CLAUSES
        if not clause.sop_sections or sections & set(clause.sop_sections)
    )


def audit_mapping(results: RunResults, artifacts: list[str]) -> dict[str, Any]:
    """The mapping as a JSON object: clauses with their artifacts and drills, and per drill."""
    present = set(artifacts)

    def exists(name: str) -> bool:
        return name in present or any(a.startswith(name) for a in present if name.endswith("/"))

    clauses = []
    for clause in CLAUSES:
        drills = [d for d in results.drills if clause.ref in framework_clauses(d)]
        clauses.append(
            {
                "ref": clause.ref,
                "framework": clause.framework,
                "requirement": clause.requirement,
                "artifacts": [name for name in clause.artifacts if exists(name)],
                "drills": [{"nodeid": d.nodeid, "verdict": d.verdict} for d in drills],
                "tested": bool(drills),
                "all_passed": bool(drills) and all(d.verdict == "PASS" for d in drills),
            }
        )
    return {
        "schema": "sopdrill.audit-mapping/1",
        "policy_version": results.run.get("policy_version"),
        "policy_digest": results.run.get("policy_digest"),
        "clauses": clauses,
        "drills": {
            d.nodeid: {"sop": list(sop_clauses(d)), "frameworks": list(framework_clauses(d))}
            for d in results.drills
        },
    }


__all__ = ["AUDIT_FILE", "CLAUSES", "Clause", "audit_mapping", "framework_clauses", "sop_clauses"]
