"""A run's results as the report reads them: evidence.json's journal joined with junit.xml.

The evidence journal (``sop.evidence.JournalEntry``s, the harness writes them) is the
source of truth for each drill's status; JUnit XML is pytest's own account, read to
cross-check it and to count tests that are not drills. Nothing here trusts either file
blindly: a malformed input is an ``EvidenceUnreadable`` naming the file and the field.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.errors import EvidenceUnreadable
from sop.errors import EvidenceError
from sop.events import Event
from sop.evidence import EVIDENCE_FILE, EVIDENCE_SCHEMA, HARNESS_ERROR, Detection, JournalEntry

#: The verdict of a drill the harness's own error ended (the SOP unjudged).
HARNESS_VERDICT = "HARNESS ERROR"

JUNIT_FILE = "junit.xml"


@dataclass(frozen=True)
class JunitCase:
    """One ``<testcase>`` of junit.xml."""

    classname: str
    name: str
    outcome: str  # passed, failed, error, skipped
    message: str | None
    time_s: float


@dataclass(frozen=True)
class DrillResult(JournalEntry):
    """One drill of the run: its journal entry, joined with its detection, JUnit case and
    timeline (the events recorded while it ran)."""

    detection: Detection | None = None
    junit: JunitCase | None = None
    events: tuple[Event, ...] = field(default=())

    @property
    def name(self) -> str:
        """The drill's test name (the last part of its node id)."""
        return str(self.meta.get("name") or self.nodeid.rsplit("::", 1)[-1])

    @property
    def test_plan(self) -> tuple[int, ...]:
        """The SOP section 6 steps this drill verifies (its ``test_plan`` marker)."""
        return tuple(int(step) for step in self.meta.get("test_plan") or ())

    @property
    def verdict(self) -> str:
        """PASS, FAIL, HARNESS ERROR, ABORTED, SKIPPED or INTERRUPTED, cross-checked with
        JUnit and the window. HARNESS ERROR: the harness's own exception ended the drill
        (fixtures/journal.py), so the SOP was not judged: neither a PASS nor a FAIL of it."""
        if self.status == "interrupted":
            return "INTERRUPTED"
        window_missed = self.detection is not None and not self.detection.within_window
        if self.outcome == HARNESS_ERROR and not window_missed:
            return HARNESS_VERDICT
        if self.status == "aborted":
            return "SKIPPED" if self.outcome == "skipped" else "ABORTED"
        junit_bad = self.junit is not None and self.junit.outcome in ("failed", "error")
        if self.status != "completed" or junit_bad or window_missed:
            return "FAIL"
        return "PASS"


@dataclass(frozen=True)
class RunResults:
    """Everything the report shows about one run."""

    run: Mapping[str, Any]
    drills: tuple[DrillResult, ...]
    junit_cases: tuple[JunitCase, ...]
    other_cases: tuple[JunitCase, ...]

    @property
    def all_passed(self) -> bool:
        """True when at least one drill ran and every drill and test passed."""
        others_ok = all(case.outcome == "passed" for case in self.other_cases)
        return bool(self.drills) and others_ok and all(d.verdict == "PASS" for d in self.drills)


def junit_address(nodeid: str) -> tuple[str, str]:
    """(classname, name) pytest's junitxml gives ``nodeid`` (its mangle_test_address)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def read_evidence(out_dir: Path) -> dict[str, Any]:
    """OUT/evidence.json as a checked object."""
    source = Path(out_dir) / EVIDENCE_FILE
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceUnreadable(
            f"{source}: missing; run the drills with `sopdrill run --out {out_dir}`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceUnreadable(f"{source}: unreadable ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != EVIDENCE_SCHEMA:
        got = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise EvidenceUnreadable(f"{source}: schema: expected {EVIDENCE_SCHEMA!r}, got {got!r}")
    return document


def read_junit(out_dir: Path) -> tuple[JunitCase, ...]:
    """The test cases of OUT/junit.xml; none when the file is absent."""
    source = Path(out_dir) / JUNIT_FILE
    if not source.is_file():
        return ()
    try:
        root = ElementTree.parse(source).getroot()
    except ElementTree.ParseError as exc:
        raise EvidenceUnreadable(f"{source}: not XML ({exc})") from None
    cases = []
    for case in root.iter("testcase"):
        outcome, message = "passed", None
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = "failed" if tag == "failure" else tag
                message = found.get("message")
                break
        cases.append(
            JunitCase(
                classname=case.get("classname", ""),
                name=case.get("name", ""),
                outcome=outcome,
                message=message,
                time_s=float(case.get("time") or 0.0),
            )
        )
    return tuple(cases)


def _detection(events: tuple[Event, ...]) -> Detection | None:
    found = None
    for event in events:
        # The last one counts: a drill may re-measure after a retry of its probe.
        found = Detection.of_event(event.kind, event.data) or found
    return found


def load_results(out_dir: Path) -> RunResults:
    """Read OUT/evidence.json and OUT/junit.xml into one ``RunResults``."""
    document = read_evidence(out_dir)
    try:
        events = tuple(Event.from_dict(raw) for raw in document.get("events", []))
    except EvidenceError as exc:
        raise EvidenceUnreadable(f"{Path(out_dir) / EVIDENCE_FILE}: {exc}") from None
    cases = read_junit(out_dir)
    by_address = {(case.classname, case.name): case for case in cases}
    drills = []
    claimed = set()
    for raw in document.get("journal", []):
        try:
            entry = JournalEntry.from_dict(raw)
        except EvidenceError as exc:
            raise EvidenceUnreadable(f"{Path(out_dir) / EVIDENCE_FILE}: {exc}") from None
        address = junit_address(entry.nodeid)
        claimed.add(address)
        own = tuple(e for e in events if e.data.get("drill") == entry.nodeid)
        drills.append(
            DrillResult(
                **entry.to_dict(),
                detection=_detection(own),
                junit=by_address.get(address),
                events=own,
            )
        )
    others = tuple(case for case in cases if (case.classname, case.name) not in claimed)
    return RunResults(
        run=dict(document.get("run") or {}),
        drills=tuple(drills),
        junit_cases=cases,
        other_cases=others,
    )


__all__ = [
    "HARNESS_VERDICT",
    "JUNIT_FILE",
    "DrillResult",
    "JunitCase",
    "RunResults",
    "junit_address",
    "load_results",
    "read_evidence",
    "read_junit",
]
