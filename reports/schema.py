"""evidence.json's documented schema (reports/evidence.schema.json) and its check.

The schema is the contract between the recorder (fixtures/evidence.py) and everyone
who reads the evidence: the report, an auditor's own tooling. ``schema_problems`` lists
every place a document departs from it, one line each with its JSON path.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from reports.errors import ReportError

#: The JSON Schema (draft 2020-12) of evidence.json, shipped as package data.
SCHEMA_FILE = Path(__file__).with_name("evidence.schema.json")
#: At most this many problems are listed (a wholly wrong file would list thousands).
MAX_PROBLEMS = 20


@cache
def evidence_schema() -> dict[str, Any]:
    """The parsed schema; a ReportError if the installed copy is broken."""
    try:
        schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{SCHEMA_FILE}: unreadable ({exc}); reinstall sopdrill") from None
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_problems(document: Any) -> list[str]:
    """Every departure of ``document`` from the evidence schema: ``$.path: message``."""
    validator = jsonschema.Draft202012Validator(evidence_schema())
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path):
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        problems.append(f"{error.json_path}: {message}")
        if len(problems) == MAX_PROBLEMS:
            problems.append("... (more problems not listed)")
            break
    return problems


__all__ = ["MAX_PROBLEMS", "SCHEMA_FILE", "evidence_schema", "schema_problems"]
