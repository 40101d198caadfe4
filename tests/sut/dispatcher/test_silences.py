"""The dispatcher records an agent that stops answering its heartbeats, and when it is back;
each silence with the severity the seeds give an unresponsive agent (P1)."""

from __future__ import annotations

import json
from itertools import count

from sop.policy import load_policy
from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal
from sut.dispatcher.silences import KIND, AgentSilences

#: emergency-procedures.md "Severity Levels": P1 HIGH, "Agent unresponsive".
UNRESPONSIVE = load_policy().severity_of(KIND)
#: A port nothing listens on: a heartbeat to it is refused, never answered.
NOWHERE = "http://127.0.0.1:9/"


def delivery(status: int | None) -> Delivery:
    error = None if status is not None else "ConnectError: http://agent/v1/inbox"
    return Delivery("agent", 1, status, None, error)


def clock():
    ticks = count()
    return lambda: f"t{next(ticks)}"


def test_a_silence_opens_on_the_first_unanswered_heartbeat_and_closes_on_any_answer(tmp_path):
    silences = AgentSilences(Journal(tmp_path / "s.jsonl"), UNRESPONSIVE, now=clock())
    assert silences.view("agent")["status"] == "unknown"
    silences.note(delivery(202))
    silences.note(delivery(None))
    silences.note(delivery(None))
    view = silences.view("agent")
    assert (view["status"], view["silent_since"], view["last_answer_at"]) == ("silent", "t1", "t0")
    silences.note(delivery(409))  # a rejected envelope is still an answer: alive
    view = silences.view("agent")
    assert view["status"] == "answering"
    assert view["silences"] == [
        {
            "since": "t1",
            "until": "t3",
            "missed": 2,
            "error": "ConnectError: http://agent/v1/inbox",
            "severity": "P1",
        }
    ]


def test_a_restarted_dispatcher_still_shows_the_silences_it_saw(tmp_path):
    journal = tmp_path / "s.jsonl"
    first = AgentSilences(Journal(journal), UNRESPONSIVE, now=clock())
    for status in (None, None, 202, None):
        first.note(delivery(status))
    again = AgentSilences(Journal(journal), UNRESPONSIVE)
    assert again.view("agent")["silences"] == first.view("agent")["silences"]
    assert again.view("agent")["status"] == "silent"
    assert [s["missed"] for s in again.view("agent")["silences"]] == [2, 1]


def test_a_silence_keeps_the_severity_it_was_journaled_with(tmp_path):
    journal = tmp_path / "s.jsonl"
    first = AgentSilences(Journal(journal), "P1", now=clock())
    first.note(delivery(None))
    # A policy changed between two runs: what was recorded stays as it was recorded.
    again = AgentSilences(Journal(journal), "P0", now=clock())
    again.note(delivery(202))
    again.note(delivery(None))
    assert [s["severity"] for s in again.view("agent")["silences"]] == ["P1", "P0"]


def test_a_silence_journaled_before_severities_reads_with_todays(tmp_path):
    journal = tmp_path / "s.jsonl"
    old = {"agent": "agent", "event": "silent", "at": "t0", "error": "ConnectError"}
    journal.write_text(json.dumps(old) + "\n")
    [silence] = AgentSilences(Journal(journal), UNRESPONSIVE).view("agent")["silences"]
    assert silence["severity"] == "P1"


def test_the_dispatcher_records_an_unanswering_agents_silence_as_p1(stack, wait_for):
    """Through the API, with the policy the dispatcher runs: the seeds' P1."""
    assert stack.client.post("/v1/agents", json={"name": "gone", "url": NOWHERE}).status_code == 201

    def silences() -> list[dict[str, object]]:
        agents = {a["name"]: a for a in stack.client.get("/v1/agents").json()["agents"]}
        found: list[dict[str, object]] = agents["gone"]["silences"]
        return found

    [silence] = wait_for(silences, "the dispatcher's record of the silent agent")
    assert silence["severity"] == "P1"
    assert silence["until"] is None
