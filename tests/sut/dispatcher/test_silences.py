"""The dispatcher records an agent that stops answering its heartbeats, and when it is back;
each silence with the severity the seeds give an unresponsive agent (P1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

from sop.alert_file import LEVEL_3, read_alerts
from sop.policy import load_policy
from sut.dispatcher.inbox import Delivery
from sut.dispatcher.journal import Journal
from sut.dispatcher.silences import KIND, AgentSilences, Level3
from sut.runtime.alertfile import AlertFile

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


#: emergency-procedures.md "Severity Levels": P0 CRITICAL, "All agents down".
ALL_DOWN = load_policy().severity_of("agent_down")
START = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)


class Minutes:
    """A wall clock the test moves, in ISO-8601 as the dispatcher records it."""

    def __init__(self) -> None:
        self.at = START

    def later(self, minutes: float) -> None:
        self.at += timedelta(minutes=minutes)

    def __call__(self) -> str:
        return self.at.isoformat()


def of(agent: str, status: int | None) -> Delivery:
    return Delivery(agent, 1, status, None, None if status is not None else "ConnectError")


def fleet(tmp_path, names, now=None, level3=None) -> AgentSilences:
    return AgentSilences(
        Journal(tmp_path / "s.jsonl"),
        UNRESPONSIVE,
        now or clock(),
        all_down=ALL_DOWN,
        known=lambda: names,
        level3=level3,
    )


def severities(silences: AgentSilences, name: str) -> list[str]:
    return [s["severity"] for s in silences.view(name)["silences"]]


def test_one_agent_silent_while_another_answers_is_p1_and_all_silent_is_p0(tmp_path):
    silences = fleet(tmp_path, ["a", "b"])
    silences.note(of("a", None))
    silences.note(of("b", 202))
    assert severities(silences, "a") == [UNRESPONSIVE], "one agent unresponsive: P1"
    silences.note(of("b", None))
    # Both silent: all agents down, both open silences raised, and so after a restart.
    assert (severities(silences, "a"), severities(silences, "b")) == ([ALL_DOWN], [ALL_DOWN])
    again = fleet(tmp_path, ["a", "b"])
    assert (severities(again, "a"), severities(again, "b")) == ([ALL_DOWN], [ALL_DOWN])
    again.note(of("a", None))
    assert severities(again, "a") == [ALL_DOWN], "still all down"
    again.note(of("a", 202))
    again.note(of("b", 202))
    again.note(of("a", None))
    assert severities(again, "a") == [ALL_DOWN, UNRESPONSIVE], "b answers, a alone: P1"
    assert severities(again, "b") == [ALL_DOWN], "a closed silence keeps its level"


def test_an_agent_known_but_never_heard_counts_as_answering_until_it_is_silent(tmp_path):
    silences = fleet(tmp_path, ["a", "b"])
    silences.note(of("a", None))
    assert severities(silences, "a") == [UNRESPONSIVE]


def test_the_only_agent_silent_is_all_agents_down(tmp_path):
    silences = fleet(tmp_path, ["agent"])
    silences.note(of("agent", None))
    assert severities(silences, "agent") == [ALL_DOWN]


def test_a_silence_open_past_level_2_is_escalated_to_level_3_once(tmp_path):
    now = Minutes()
    father = load_policy().escalation.father_minutes
    alert = tmp_path / "EMERGENCY_ALERT.txt"
    level3 = Level3(timedelta(minutes=father), AlertFile(alert))
    silences = fleet(tmp_path, ["a", "b"], now, level3)
    silences.note(of("b", 202))
    silences.note(of("a", None))
    for _ in range(int(father) - 1):
        now.later(1)
        silences.note(of("a", None))
    assert not alert.exists(), "never before Level 2's end"
    now.later(1)
    silences.note(of("a", None))
    [line] = read_alerts(alert.read_text(encoding="utf-8"))
    assert (line.severity, line.what) == (
        UNRESPONSIVE,
        f"{LEVEL_3}: agent a silent since {START.isoformat()}",
    )
    now.later(5)
    silences.note(of("a", None))
    restarted = fleet(tmp_path, ["a", "b"], now, level3)
    now.later(5)
    restarted.note(of("a", None))
    assert len(read_alerts(alert.read_text(encoding="utf-8"))) == 1, "once, restart or not"
    assert (
        restarted.view("a")["silences"][0]["escalated_at"]
        == (START + timedelta(minutes=father)).isoformat()
    )
    restarted.note(of("a", 202))
    now.later(father + 1)
    restarted.note(of("a", None))
    now.later(father)
    restarted.note(of("a", None))
    assert len(read_alerts(alert.read_text(encoding="utf-8"))) == 2, "a new silence, its own"
