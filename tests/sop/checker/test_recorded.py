"""Histories recorded by CI's nightly runs, judged again: what once was a false violation
stays held, and the same history with the evidence that cleared it removed is violated.

docker_dying_after_silence.json: the heartbeats cut for 16 SOP minutes while the API
answered, then the dispatcher killed; the agent declared OFFLINE, and when the dispatcher
was started again its own probe saw the answer 0.13 SOP-min before the harness's did. The
checker once demanded a second OFFLINE at that instant from the stale run of failures.
The run predates the agent's resolution (emergency-procedures.md Notification Flow 5, issue
13): the one violation it holds now is that message, never sent, and it is kept as recorded.
It predates gate4 guardrail 4's reference line too (correlation id, issue): its alert names
none, the second violation it holds.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sop.checker.judge import check, violations
from sop.history import DispatcherSample, History
from sop.policy import load_policy

RECORDED = Path(__file__).parent / "recorded"
POLICY = load_policy()


def _load(name: str) -> History:
    return History.from_dict(json.loads((RECORDED / name).read_text(encoding="utf-8")))


def _detection(history: History) -> str:
    (verdict,) = [v for v in check(history, POLICY) if v.clause == "SOP 2"]
    return verdict.status


def test_an_answer_the_harness_saw_after_the_agent_releases_the_latch() -> None:
    history = _load("docker_dying_after_silence.json")
    violated = violations(check(history, POLICY))
    assert [(v.invariant, v.divergence and v.divergence.clause) for v in violated] == [
        ("notification", "Notification Flow 5"),
        ("incident updates", "gate4 guardrail 4"),
    ], [v.describe() for v in violated]
    # Without the dispatcher's answers after the kill, leaving OFFLINE had no ground.
    killed = next(r.at for r in history.records if getattr(r, "kind", "") == "kill")
    silent = tuple(
        r
        for r in history.records
        if not (isinstance(r, DispatcherSample) and r.at > killed and r.api == "ok")
    )
    assert _detection(replace(history, records=silent)) == "violated"
