"""The SOP section 6 test plan as a checklist, ticked by the drills that verify each step.

The steps are read from the SOP document the project keeps under sop/ (never retyped
here), and a drill claims a step with ``@pytest.mark.test_plan(N)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reports.errors import ReportError
from reports.results import RunResults
from sop.policy import DEFAULT_POLICY_PATH

#: The SOP document kept beside the policy file.
SOP_DOCUMENT = DEFAULT_POLICY_PATH.with_name("offline-emergency-sop.md")
_SECTION = re.compile(r"^## 6\.")
_STEP = re.compile(r"^\s*(\d+)\.\s+\*\*(.+?)\*\*:?\s*(.*)$")


@dataclass(frozen=True)
class PlanStep:
    """One numbered step of SOP section 6 ("Test Plan")."""

    number: int
    title: str
    text: str


@dataclass(frozen=True)
class ChecklistItem:
    """A step and what the run showed: verified, failed, not verified or not covered."""

    step: PlanStep
    state: str
    drills: tuple[str, ...]


def plan_steps(document: Path = SOP_DOCUMENT) -> tuple[PlanStep, ...]:
    """The numbered steps of section 6 of the SOP document."""
    try:
        lines = document.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReportError(f"{document}: unreadable ({exc.strerror}); reinstall sopdrill") from None
    steps: list[PlanStep] = []
    inside = False
    for line in lines:
        if line.startswith("## "):
            inside = bool(_SECTION.match(line))
            continue
        match = _STEP.match(line) if inside else None
        if match:
            steps.append(PlanStep(int(match[1]), match[2].strip(), match[3].strip()))
    if not steps:
        raise ReportError(f"{document}: section 6 lists no numbered test-plan steps")
    return tuple(steps)


def checklist(
    results: RunResults, steps: tuple[PlanStep, ...] | None = None
) -> list[ChecklistItem]:
    """Each test-plan step with the verdict of the drills that claim it."""
    items = []
    for step in steps if steps is not None else plan_steps():
        covering = [d for d in results.drills if step.number in d.test_plan]
        verdicts = {d.verdict for d in covering}
        if not covering:
            state = "not covered"
        elif verdicts & {"FAIL", "INTERRUPTED"}:
            state = "failed"
        elif verdicts == {"PASS"}:
            state = "verified"
        else:
            state = "not verified"
        items.append(ChecklistItem(step, state, tuple(d.nodeid for d in covering)))
    return items


__all__ = ["SOP_DOCUMENT", "ChecklistItem", "PlanStep", "checklist", "plan_steps"]
