"""A verdict's one-line rendering and its evidence.json form."""

from __future__ import annotations

import pytest

from sop.checker import Divergence, InvariantVerdict
from sop.checker.verdict import held, not_exercised, violated
from sop.errors import EvidenceError

DIVERGENCE = Divergence(
    15.2,
    "SOP 3.1",
    "the alert to 0x01 (discord recipient 100000000000000001)",
    "a delivery to 999",
    ("fault-1a2b", "discord-0"),
)


def test_a_violation_renders_on_one_line_with_its_evidence() -> None:
    line = violated("notification", "SOP 3", DIVERGENCE).describe()
    assert line == (
        "SOP 3.1 notification: violated at 15.20 SOP-min: required the alert to 0x01 "
        "(discord recipient 100000000000000001), observed a delivery to 999 "
        "[evidence fault-1a2b, discord-0]"
    )


def test_held_and_not_exercised_render_with_their_note() -> None:
    assert held("actions", "SOP 4", "2 judged").describe() == "SOP 4 actions: held (2 judged)"
    assert (
        not_exercised("recovery", "SOP 5", "no restoration").describe()
        == "SOP 5 recovery: not exercised (no restoration)"
    )


@pytest.mark.parametrize(
    "verdict",
    [violated("notification", "SOP 3", DIVERGENCE), held("detection", "SOP 2", "1 judged")],
)
def test_a_verdict_survives_its_dict(verdict: InvariantVerdict) -> None:
    assert InvariantVerdict.from_dict(verdict.to_dict()) == verdict


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "fine"}, "status: expected one of"),
        ({"divergence": None}, "divergence: expected one exactly when violated"),
        ({"clause": None, "invariant": "x"}, None),
    ],
)
def test_a_malformed_verdict_is_named(change: dict, message: str | None) -> None:
    raw = {**violated("notification", "SOP 3", DIVERGENCE).to_dict(), **change}
    if message is None:
        del raw["clause"]
        message = "clause: missing"
    with pytest.raises(EvidenceError, match=message):
        InvariantVerdict.from_dict(raw)
