"""The dispatcher records an agent that stops answering its heartbeats, and when it is back."""

from __future__ import annotations

from itertools import count

from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal
from sut.dispatcher.silences import AgentSilences


def delivery(status: int | None) -> Delivery:
    error = None if status is not None else "ConnectError: http://agent/v1/inbox"
    return Delivery("agent", 1, status, None, error)


def clock():
    ticks = count()
    return lambda: f"t{next(ticks)}"


def test_a_silence_opens_on_the_first_unanswered_heartbeat_and_closes_on_any_answer(tmp_path):
    silences = AgentSilences(Journal(tmp_path / "s.jsonl"), now=clock())
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
        {"since": "t1", "until": "t3", "missed": 2, "error": "ConnectError: http://agent/v1/inbox"}
    ]


def test_a_restarted_dispatcher_still_shows_the_silences_it_saw(tmp_path):
    journal = tmp_path / "s.jsonl"
    first = AgentSilences(Journal(journal), now=clock())
    for status in (None, None, 202, None):
        first.note(delivery(status))
    again = AgentSilences(Journal(journal))
    assert again.view("agent")["silences"] == first.view("agent")["silences"]
    assert again.view("agent")["status"] == "silent"
    assert [s["missed"] for s in again.view("agent")["silences"]] == [2, 1]
