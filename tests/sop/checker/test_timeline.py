"""The checker's reading of the polled modes into declarations, bracketed by the samples."""

from __future__ import annotations

from typing import Any

from sop.checker.timeline import declarations
from sop.history import History, ModeSample


def polled(story: Any, *modes: str) -> History:
    samples = tuple(
        ModeSample(float(i), mode, "scenario_a" if mode == "offline" else None, f"m{i}")  # type: ignore[arg-type]
        for i, mode in enumerate(modes)
    )
    return History("d", story.facts, samples)


def test_each_outage_is_one_declaration_bracketed_by_its_polls(story: Any) -> None:
    found = declarations(
        polled(
            story,
            "online",
            "suspect",
            "offline",
            "offline",
            "recovering",
            "online",
            "online",
            "offline",
            "online",
        )
    )
    assert [(d.start, d.before, d.seen.at) for d in found] == [(0.0, 1.0, 2.0), (5.0, 6.0, 7.0)]
    assert found[0].cleared is not None
    assert found[0].cleared.mode == "recovering"
    assert found[0].online is not None
    assert found[0].online.at == 5.0
    assert found[1].cleared is not None
    assert found[1].cleared.at == 8.0


def test_offline_again_from_recovering_is_a_new_declaration(story: Any) -> None:
    found = declarations(polled(story, "online", "offline", "recovering", "offline"))
    assert [(d.seen.at, d.online) for d in found] == [(1.0, None), (3.0, None)]
    assert found[1].start == 2.0


def test_a_recovering_agent_never_seen_offline_has_declared(story: Any) -> None:
    found = declarations(polled(story, "online", "recovering", "online"))
    assert len(found) == 1
    assert found[0].seen.mode == "recovering"
