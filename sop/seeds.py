"""The four seed documents read into their clauses: each numbered scenario, step and guardrail.

The seeds (copies of ../shared/seeds kept byte for byte under sop/) are the specification
the project was made from. Each is written its own way: the Offline Emergency SOP and
the Cell 0 runbook are Markdown, the emergency procedures and the Gate4 runbooks are
text pasted from web pages (their headings lost, boxes drawn with "│"). So each seed has
a grammar: a few line rules, the first that matches a line wins. A rule either opens a
heading that only groups what follows (``kind=None``) or yields a clause, and its depth
says what it nests under. A clause's id is built from its enclosing heading's id
(``{parent}``), the rule's groups (``{1}``, ``{2}``, ...) and its ordinal under that
heading (``{n}``: the Gate4 page numbers its lists 1, 2, 1, 1).

What counts as a clause, per seed (anything else, such as contact tables, diagrams and
symptom lists, is context, not a clause):

* offline-emergency-sop.md: the numbered sections, Scenarios A and B, every numbered
  item and every item of the green and red lists;
* emergency-procedures.md: the severity levels, the escalation levels, the failure
  scenarios and their STEPs, the backup, restore and failover scripts and the failover
  steps, the steps of the notification flow, the distress-signal and PIR templates, the
  RTO table's rows and the monthly DR test's tests;
* gate4-incident-runbooks.md: the guardrails, the severity levels, the two runbooks and
  their numbered checklists and actions, the evidence capture list, the handoff template;
* cell0-incident-runbook.md: the severity levels, the workflow's steps, every incident
  section and its numbered commands, the notification templates, the post-incident tasks
  and the escalation table's rows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sop.errors import CoverageError

#: Where the seeds are kept (beside the policy, shipped as package data).
SEED_DIR = Path(__file__).parent
#: The seeds, the core SOP first.
SEEDS = (
    "offline-emergency-sop.md",
    "emergency-procedures.md",
    "gate4-incident-runbooks.md",
    "cell0-incident-runbook.md",
)
#: Each seed's title as a reader knows it.
SEED_TITLES: Mapping[str, str] = {
    "offline-emergency-sop.md": "Offline Emergency SOP",
    "emergency-procedures.md": "Emergency Procedures (Disaster Recovery & Business Continuity)",
    "gate4-incident-runbooks.md": "Gate4 Incident Runbooks",
    "cell0-incident-runbook.md": "Cell 0 OS Incident Response Runbook",
}
#: Drawing characters around a box's line or before a follow-on line ("└─> Alert ...").
_DRAWING = "│└─> "


@dataclass(frozen=True)
class Rule:
    """One line rule of a seed's grammar: what it matches and what it makes."""

    pattern: str
    kind: str | None  # None: a heading that groups clauses, not a clause itself
    depth: int
    label: str  # the id: "{parent}", "{1}"... (the groups), "{n}" (ordinal)
    title: str = "{2}"
    text: str = ""  # "{next}": the next non-blank line (a step described below it)
    under: str | None = None  # applies only under a heading whose id matches this


@dataclass(frozen=True)
class SeedClause:
    """One clause of a seed: where it is, what it is and what it says."""

    seed: str
    id: str
    kind: str
    title: str
    text: str
    line: int
    parent: str | None  # the id of the clause it belongs to, if any


_MD_NUMBERED_BOLD = r"^\s*(\d+)\.\s+\*\*(.+?):?\*\*:?\s*(.*)$"

GRAMMARS: Mapping[str, tuple[Rule, ...]] = {
    "offline-emergency-sop.md": (
        Rule(r"^## (\d+)\. (.+)$", "section", 0, "{1}"),
        Rule(r"^### Scenario ([A-Z]): (.+)$", "scenario", 1, "{parent}{1}"),
        # "### ‚úÖ Allowed (Green Light)": the mojibake check mark, then the list's name.
        Rule(r"^### \S+ (\w+) \((.+)\)$", None, 1, "{parent}.{1}"),
        Rule(_MD_NUMBERED_BOLD, "step", 2, "{parent}.{1}", text="{3}"),
        Rule(r"^\*\s+\*\*(.+?)\*\*:?\s*(.*)$", "guardrail", 2, "{parent}.{n}", "{1}", "{2}"),
    ),
    "emergency-procedures.md": (
        Rule(r"^(P[0-3]) (CRITICAL|HIGH|MEDIUM|LOW) (.+)$", "severity", 0, "{1}", text="{3}"),
        Rule(r"^│\s+Level (\d): (.+?)\s*│$", "escalation level", 0, "Level {1}"),
        Rule(r"^Scenario (\d+): (.+)$", "scenario", 0, "Scenario {1}"),
        Rule(r"^STEP (\d+): (.+)$", "step", 1, "{parent} / STEP {1}"),
        Rule(r"^# /root/allegro/scripts/([\w-]+\.sh)$", "script", 0, "{1}", "{1}"),
        # The failover script's numbered comments: "# 1. Verify primary is actually down".
        Rule(r"^# (\d)\. (.+)$", "step", 1, "{parent} / {1}"),
        # Communication Protocols, the boxed flow: "│  1. DETECTION   │".
        Rule(r"^│\s+(\d)\. ([A-Z]+)\s+│$", "step", 0, "Notification Flow {1}"),
        Rule(r"^([A-Z][\w -]* (?:Format|Template))$", "template", 0, "{1}", "{1}"),
        # Appendix B: "Agent Operations 15 minutes 15 minutes Heartbeat interval".
        Rule(
            r"^([A-Z][A-Za-z ]+?) (\d+ (?:minutes?|hours?)) (.+)$",
            "RTO",
            0,
            "RTO {1}",
            title="{1}",
            text="RTO {2}, RPO and notes: {3}",
        ),
        Rule(r"^# Test (\d): (.+)$", "DR test", 0, "DR Test {1}"),
    ),
    "gate4-incident-runbooks.md": (
        Rule(r"^Runbook ([A-Z]): (.+)$", "runbook", 0, "Runbook {1}"),
        # The page lost its heading levels: these are the runbooks' own sections.
        Rule(
            r"^(Trigger Signals|Triage Checklist|Decision Tree|Containment Actions"
            r"|Recovery Checklist)$",
            None,
            1,
            "{parent} / {1}",
        ),
        # Table cells pasted without separators: "SEV-1Side effects blocked across tenants...".
        Rule(r"^(SEV-\d)(.+)$", "severity", 1, "{1}", "{1}", "{2}"),
        Rule(r"^(.+ Template)$", "template", 0, "{1}", "{1}"),
        Rule(r"^([A-Z][a-z]+(?: [A-Z][a-z]+)*)$", None, 0, "{1}"),
        Rule(r"^  (\d+)\. (.+)$", "guardrail", 2, "{parent} / {n}", "{2}", under="Guardrails"),
        Rule(r"^  (\d+)\. (.+)$", "step", 2, "{parent} / {n}"),
    ),
    "cell0-incident-runbook.md": (
        Rule(r"^- \*\*(P\d) \((\w+)\)\*\*: (.+)$", "severity", 1, "{1}", text="{3}"),
        Rule(r"^## (P\d - .+)$", "scenario", 0, "{1}", "{1}"),
        Rule(r"^## (.+)$", None, 0, "{1}"),
        Rule(r"^### (\w+ Notification)$", "template", 1, "{1}", "{1}"),
        Rule(r"^### (.+)$", None, 1, "{parent} / {1}"),
        # The workflow: "1. DETECT", described on the next line ("└─> Alert received ...").
        Rule(r"^(\d)\. ([A-Z-]+)$", "step", 2, "{parent} / {1}", text="{next}"),
        # Each incident's commands, numbered in shell comments: "# 4. Attempt restart".
        Rule(r"^# (\d)\. (.+)$", "step", 2, "{parent} / {1}"),
        Rule(_MD_NUMBERED_BOLD, "step", 2, "{parent} / {1}"),
        Rule(
            r"^\| (P\d) \| (.+?) \| (.+?) \| (.+?) \|$",
            "escalation level",
            2,
            "{parent} / {1}",
            title="{1}",
            text="respond in {2}, resolve in {3}, escalate to {4}",
        ),
    ),
}


def _next_line(lines: list[str], index: int) -> str:
    """The first non-blank line after ``index``, without its drawing characters."""
    for line in lines[index + 1 :]:
        if line.strip(_DRAWING + " "):
            return line.strip(_DRAWING + " ")
    return ""


def _parent(headings: list[tuple[int, str, bool]], depth: int) -> str:
    """The id of the innermost open heading a line at ``depth`` would nest under."""
    return next((ident for at, ident, _ in reversed(headings) if at < depth), "")


def _admits(rule: Rule, parent: str) -> bool:
    return rule.under is None or re.fullmatch(rule.under, parent) is not None


def _first_rule(
    compiled: list[re.Pattern[str]],
    rules: tuple[Rule, ...],
    line: str,
    headings: list[tuple[int, str, bool]],
) -> tuple[int, re.Match[str], str] | None:
    """(rule number, match, parent id) of the first rule that takes ``line``, if any."""
    for number, regex in enumerate(compiled):
        match = regex.match(line)
        if match is None:
            continue
        parent = _parent(headings, rules[number].depth)
        if _admits(rules[number], parent):
            return number, match, parent
    return None


def parse_seed(seed: str, text: str, rules: tuple[Rule, ...]) -> tuple[SeedClause, ...]:
    """The clauses of one seed's ``text`` by its grammar ``rules``, in document order."""
    compiled = [re.compile(rule.pattern) for rule in rules]
    lines = text.splitlines()
    headings: list[tuple[int, str, bool]] = []  # (depth, id, is a clause): the open ones
    ordinals: Counter[tuple[str, int]] = Counter()
    clauses: list[SeedClause] = []
    for index, line in enumerate(lines):
        found = _first_rule(compiled, rules, line, headings)
        if found is None:
            continue
        number, match, parent = found
        rule = rules[number]
        while headings and headings[-1][0] >= rule.depth:
            headings.pop()
        ordinals[(parent, number)] += 1
        groups = [group.strip() for group in match.groups()]
        fields = {"parent": parent, "n": ordinals[(parent, number)]}
        if "{next}" in rule.text:
            fields["next"] = _next_line(lines, index)
        ident = rule.label.format(match[0], *groups, **fields)
        if rule.kind is not None:
            owner = next((i for _, i, clause in reversed(headings) if clause), None)
            clauses.append(
                SeedClause(
                    seed=seed,
                    id=ident,
                    kind=rule.kind,
                    title=rule.title.format(match[0], *groups, **fields),
                    text=rule.text.format(match[0], *groups, **fields),
                    line=index + 1,
                    parent=owner,
                )
            )
        headings.append((rule.depth, ident, rule.kind is not None))
    _check(seed, clauses)
    return tuple(clauses)


def _check(seed: str, clauses: list[SeedClause]) -> None:
    if not clauses:
        raise CoverageError(f"sop/{seed}: no clause found; its grammar in sop/seeds.py is stale")
    seen: dict[str, int] = {}
    for clause in clauses:
        if clause.id in seen:
            raise CoverageError(
                f"sop/{seed}:{clause.line}: clause id {clause.id!r} already used at line "
                f"{seen[clause.id]}; make its rule in sop/seeds.py tell them apart"
            )
        seen[clause.id] = clause.line


def read_seed(seed: str, seed_dir: Path = SEED_DIR) -> tuple[SeedClause, ...]:
    """The clauses of the seed document ``seed`` kept in ``seed_dir``."""
    path = Path(seed_dir) / seed
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CoverageError(f"{path}: unreadable ({exc.strerror}); reinstall sopdrill") from None
    return parse_seed(seed, text, GRAMMARS[seed])


def seed_clauses(seed_dir: Path = SEED_DIR) -> tuple[SeedClause, ...]:
    """Every clause of the four seeds, seed by seed, each in document order."""
    return tuple(clause for seed in SEEDS for clause in read_seed(seed, seed_dir))


__all__ = [
    "GRAMMARS",
    "SEEDS",
    "SEED_DIR",
    "SEED_TITLES",
    "Rule",
    "SeedClause",
    "parse_seed",
    "read_seed",
    "seed_clauses",
]
