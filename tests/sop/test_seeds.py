"""The seeds as kept under sop/ and the clauses sop/seeds.py reads out of each of them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sop.errors import CoverageError
from sop.seeds import GRAMMARS, SEED_DIR, SEEDS, Rule, parse_seed, read_seed

#: SHA-256 of each seed as received (../shared/seeds): the copies are never edited.
RECEIVED = dict(
    zip(
        SEEDS,
        (
            "7db0e549d11220f81aea2b0ff9e741cdabde8d6fdaf0ed8517aa45a0801c8554",
            "82bf4fd70c0eb61fab364a4ce5514ef8ae30566e5e7cb86743799ff0bef3f415",
            "335e3f93a017e3b2a1c7061b411bac37042da8672c896711f6dc0cded52126a5",
            "5af9c903dd7cd0f9d8ae355a6bba92fb49d788768d02d8f01524e6a490fb9e2d",
        ),
        strict=True,
    )
)
#: Where the originals are, beside the repository, when it is checked out in the workspace.
SHARED_SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def ids(seed: str) -> list[str]:
    return [clause.id for clause in read_seed(seed)]


@pytest.mark.parametrize("seed", SEEDS)
def test_each_seed_is_kept_byte_for_byte_as_received(seed: str) -> None:
    data = (SEED_DIR / seed).read_bytes()
    assert hashlib.sha256(data).hexdigest() == RECEIVED[seed], f"sop/{seed} was edited"
    if (SHARED_SEEDS / seed).is_file():
        assert data == (SHARED_SEEDS / seed).read_bytes(), f"sop/{seed} differs from {SHARED_SEEDS}"


def test_the_sop_reads_as_the_project_cites_it() -> None:
    found = ids("offline-emergency-sop.md")
    assert found == [
        "1", "2", "2A", "2A.1", "2A.2", "2A.3", "2B", "2B.1",
        "3", "3.1", "3.2", "3.3",
        "4", *(f"4.Allowed.{n}" for n in range(1, 5)), *(f"4.Prohibited.{n}" for n in range(1, 5)),
        "5", "5.1", "5.2", "5.3",
        "6", "6.1", "6.2", "6.3", "6.4", "6.5",
    ]  # fmt: skip
    by_id = {clause.id: clause for clause in read_seed("offline-emergency-sop.md")}
    assert (by_id["2A.2"].title, by_id["2A.2"].parent) == ("API Failure", "2A")
    assert "3 consecutive attempts" in by_id["2A.2"].text
    assert (by_id["4.Prohibited.3"].kind, by_id["4.Prohibited.3"].title) == (
        "guardrail",
        "Data Deletion",
    )


def test_every_failure_scenario_of_the_procedures_has_its_four_steps() -> None:
    clauses = read_seed("emergency-procedures.md")
    scenarios = [c for c in clauses if c.kind == "scenario"]
    assert [c.title for c in scenarios] == [
        "Complete Agent Failure (P0)",
        "Ollama Service Failure (P1)",
        "Gitea Unavailable (P1)",
        "Child Orphaning (P1)",
        "Complete Infrastructure Loss (P0)",
    ]
    for scenario in scenarios:
        steps = [c.id for c in clauses if c.parent == scenario.id]
        assert steps == [f"{scenario.id} / STEP {n}" for n in range(1, 5)]
    found = {c.id for c in clauses}
    assert {"P0", "P3", "Level 1", "Level 3", "Distress Signal Format", "PIR Template"} <= found
    assert {"RTO Agent Operations", "RTO Ollama", "DR Test 4", "Notification Flow 5"} <= found


def test_the_gate4_lists_are_counted_in_order_whatever_their_printed_numbers() -> None:
    clauses = read_seed("gate4-incident-runbooks.md")
    guardrails = [c for c in clauses if c.kind == "guardrail"]
    assert [c.id for c in guardrails] == [f"Guardrails / {n}" for n in range(1, 5)]
    assert guardrails[2].title == "Side-effecting commands remain blocked when risk controls fail."
    # The page prints its triage checklist as 1, 2, 1, 1.
    triage = [c for c in clauses if c.id.startswith("Runbook A / Triage Checklist")]
    assert [c.id[-1] for c in triage] == ["1", "2", "3", "4"]
    assert triage[2].title == "Re-run deterministic contract coverage:"
    assert all(c.parent == "Runbook A" for c in triage)
    # Evidence Capture follows Runbook B on the page but belongs to no runbook.
    evidence = [c for c in clauses if c.id.startswith("Evidence Capture")]
    assert len(evidence) == 5
    assert {c.parent for c in evidence} == {None}


def test_the_cell0_incidents_keep_their_commands_as_steps() -> None:
    clauses = read_seed("cell0-incident-runbook.md")
    incidents = [c.id for c in clauses if c.kind == "scenario"]
    assert incidents == [
        "P0 - Service Down",
        "P0 - Data Corruption",
        "P1 - Ollama Connection Lost",
        "P1 - High Memory Usage",
        "P1 - WebSocket Connection Issues",
        "P2 - Slow Response Times",
    ]
    by_id = {c.id: c for c in clauses}
    step = by_id["P0 - Data Corruption / Recovery Procedure / 4"]
    assert (step.title, step.parent) == ("Restore from backup", "P0 - Data Corruption")
    # A workflow step is described on the line below it.
    assert by_id["Incident Response Workflow / 3"].text == "Determine severity and impact"


def test_ids_nest_under_headings_and_a_clash_is_refused_naming_the_line() -> None:
    rules = (
        Rule(r"^# (.+)$", "scenario", 0, "{1}", "{1}"),
        Rule(r"^## (.+)$", None, 1, "{parent} / {1}"),
        Rule(r"^- (.+)$", "step", 2, "{parent} / {n}", "{1}"),
    )
    text = "# Fire\n## Check\n- look\n- smell\n## Act\n- call\n# Flood\n- bail\n"
    found = [(c.id, c.parent) for c in parse_seed("t.md", text, rules)]
    assert found == [
        ("Fire", None),
        ("Fire / Check / 1", "Fire"),
        ("Fire / Check / 2", "Fire"),
        ("Fire / Act / 1", "Fire"),
        ("Flood", None),
        ("Flood / 1", "Flood"),
    ]
    with pytest.raises(
        CoverageError, match=r"sop/t\.md:3: clause id 'Fire' already used at line 1"
    ):
        parse_seed("t.md", "# Fire\n\n# Fire\n", rules)


def test_a_seed_its_grammar_no_longer_reads_is_refused() -> None:
    with pytest.raises(CoverageError, match=r"no clause found; its grammar in sop/seeds\.py"):
        parse_seed("cell0-incident-runbook.md", "# A rewritten runbook\n", GRAMMARS[SEEDS[3]])
