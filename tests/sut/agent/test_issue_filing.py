"""P1 incidents filed as Gitea issues, against the real Gitea stand-in over real HTTP.

emergency-procedures.md notification flow, step 3: "Gitea issue (P1)", "Log entry (P2/P3)".
The desk reports to a dispatcher that answers 201 (a mock: it is not what is tested here);
the issues go to the stand-in of sut/standins/gitea.py on a real socket, and are read back
from it as a person would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sop.policy import load_policy
from sop.timescale import TimeScale
from sut.agent.integrity import DataIntegrity
from sut.agent.issue_filing import MARKER, IncidentsRepo
from sut.agent.riskcontrols import RiskControls
from sut.runtime import Settings
from sut.standins.gitea import API, create_app
from tests.sut.agent.test_incident_desk import Told, desk_for

POLICY = load_policy()
SCALE = TimeScale(600)
TOKEN = "5ca1ab1e0ddba11c0ffee5ca1ab1e0ddba11c0ff"  # shaped like a Gitea access token
REPO = "ops/incidents"
DISPATCHER = "http://dispatcher.test"
#: Wall seconds one request to Gitea may take here: a hung Gitea costs the filing this much.
GITEA_TIMEOUT_S = 0.2


class Agent:
    """One agent process's desk: its own memory, an emergency log it may share with a
    successor (a restart), the dispatcher mocked, Gitea real."""

    def __init__(self, gitea: str, log: list[dict[str, Any]] | None = None) -> None:
        self.gitea = gitea
        self.log: list[dict[str, Any]] = [] if log is None else log
        self.signals: list[dict[str, Any]] = []
        self.told = Told()
        self.filings: list[asyncio.Task[None]] = []
        self.desk = desk_for(
            self.told,
            self.log,
            agent="agent",
            host="ops",
            dispatcher=DISPATCHER,
            risk=RiskControls(None, POLICY.digest),
            integrity=DataIntegrity([]),
            gitea=IncidentsRepo(gitea, REPO, TOKEN),
            spawn=self._spawn,
        )
        self.desk.filer.timeout_s = GITEA_TIMEOUT_S
        self.desk.filer.restore(self.log)  # what a predecessor owed (sut/agent/resume.py)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.filings.append(task)
        return task

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.signals.append(json.loads(request.read()))
        return httpx.Response(201, json={"id": "inc"})

    def run(self, step: Callable[[httpx.AsyncClient], Coroutine[Any, Any, None]]) -> None:
        """``step`` with the agent's client, then every filing it started, to its end."""

        async def go() -> None:
            mounts = {DISPATCHER: httpx.MockTransport(self._answer)}
            async with httpx.AsyncClient(mounts=mounts, trust_env=False) as client:
                self.filings = []  # each run is an event loop of its own
                await step(client)
                await asyncio.gather(*self.filings)

        asyncio.run(go())

    def round(self, states: dict[str, str], *, online: bool = True) -> None:
        self.run(lambda client: self.desk.round(client, states, online=online))

    def notes(self, issue: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e["kind"] == "note" and e.get("issue") == issue]


@pytest.fixture
def gitea(serve: Callable[[Starlette], str]) -> str:
    env = {"SOPDRILL_GITEA_TOKEN": TOKEN, "SOPDRILL_GITEA_REPOS": REPO}
    return serve(create_app(Settings("gitea", environ=env)))


def issues(gitea: str, state: str = "all") -> list[dict[str, Any]]:
    """The repository's issues as Gitea serves them, oldest first."""
    answer = httpx.get(
        f"{gitea}{API}/repos/{REPO}/issues",
        params={"state": state, "limit": 50},
        headers={"Authorization": f"token {TOKEN}"},
        trust_env=False,
    )
    answer.raise_for_status()
    return list(reversed(answer.json()))


def created(gitea: str) -> list[str]:
    """The titles of the issues the stand-in created, oldest first (its sink, never faulted)."""
    answer = httpx.get(f"{gitea}/_sink/messages", trust_env=False)
    answer.raise_for_status()
    return [entry["title"] for entry in answer.json()]


def fault(gitea: str, **spec: Any) -> None:
    """Set (or with no spec, clear) the stand-in's fault on its API routes."""
    if spec:
        httpx.put(f"{gitea}/_fault", json=spec, trust_env=False).raise_for_status()
    else:
        httpx.delete(f"{gitea}/_fault", trust_env=False).raise_for_status()


def test_a_p1_outage_reported_online_files_one_issue_saying_what_since_and_tried(gitea):
    agent = Agent(gitea)
    agent.round({"ollama": "down"})

    [signal] = agent.signals
    [issue] = issues(gitea)
    severity = POLICY.severity_of("ollama_down")
    assert severity == "P1"
    assert issue["title"] == f"{severity} ollama_down: ollama"
    body = issue["body"]
    assert "- Failed: ollama service not responding to health checks (ollama is down)" in body
    assert f"- Since: {signal['timestamp']}" in body
    assert f"- Tried: distress signal to the Dispatcher at {signal['timestamp']}" in body
    assert body.splitlines()[-1] == f"{MARKER} agent/ollama_down/ollama"
    # Owed on disk before any network, then filed with its number.
    [owed] = agent.notes("owed")
    [filed] = agent.notes("filed")
    assert agent.log.index(owed) < agent.log.index(filed)
    assert (filed["number"], filed["repo"]) == (issue["number"], REPO)
    # gate4 guardrail 4: the issue names the incident's id, its filed note the link Gitea
    # gave, which the incident's later updates carry.
    assert f"- Correlation ID: {signal['correlation_id']}" in body
    assert (filed["correlation_id"], filed["url"]) == (signal["correlation_id"], issue["html_url"])

    agent.round({"ollama": "down"})
    assert len(issues(gitea)) == 1, "the same outage, reported once, is one issue"
    assert len(agent.notes("owed")) == 1


def test_an_outage_again_while_its_issue_is_open_is_that_issue_and_news_once_closed(gitea):
    agent = Agent(gitea)
    agent.round({"ollama": "down"})
    agent.round({"ollama": "running"})
    agent.round({"ollama": "down"})
    assert len(agent.signals) == 2, "two outages, two distress signals"
    [issue] = issues(gitea)
    assert [n["number"] for n in agent.notes("filed")] == [issue["number"]] * 2

    # A person closes the issue: the next outage is a new incident, with a new issue.
    closed = httpx.patch(
        f"{gitea}{API}/repos/{REPO}/issues/{issue['number']}",
        json={"state": "closed"},
        headers={"Authorization": f"token {TOKEN}"},
        trust_env=False,
    )
    assert closed.status_code == 201, closed.text
    agent.round({"ollama": "running"})
    agent.round({"ollama": "down"})
    assert [(i["title"], i["state"]) for i in issues(gitea)] == [
        ("P1 ollama_down: ollama", "closed"),
        ("P1 ollama_down: ollama", "open"),
    ]


def test_an_agent_restarted_after_filing_finds_its_issue_and_files_none(gitea):
    first = Agent(gitea)
    first.round({"ollama": "down"})
    successor = Agent(gitea, first.log)  # a new process: nothing in memory, the log on disk
    successor.round({"ollama": "down"})

    assert len(successor.signals) == 1, "the new process reports the outage again"
    [issue] = issues(gitea)
    assert [n["number"] for n in first.notes("filed")] == [issue["number"]] * 2


def test_an_issue_owed_when_the_agent_restarted_is_filed_by_its_successor(gitea):
    fault(gitea, mode="down")
    first = Agent(gitea)
    first.round({"ollama": "down"})
    assert created(gitea) == []
    fault(gitea)

    successor = Agent(gitea, first.log)
    successor.round({"ollama": "running"})  # resolved meanwhile: the issue is still owed

    [issue] = issues(gitea)
    assert issue["title"] == "P1 ollama_down: ollama"
    assert len(first.notes("owed")) == 1, "restored from the log, not owed a second time"
    assert [n["number"] for n in first.notes("filed")] == [issue["number"]]


def test_gitea_down_keeps_its_own_issue_owed_until_it_answers_then_files_it_once(gitea, caplog):
    caplog.set_level(logging.INFO, logger="sut.agent")
    fault(gitea, mode="down")  # Gitea answers 503 on its API, as while it restarts
    agent = Agent(gitea)
    agent.round({"gitea": "down"})
    agent.round({"gitea": "down"})
    assert created(gitea) == []
    assert agent.desk.filer.owed, "nothing lost: still owed"
    failures = [r for r in caplog.records if r.getMessage().startswith("gitea issue not filed")]
    assert len(failures) == 1, "the failure's reason is logged once"
    assert "503" in failures[0].fields["error"]  # type: ignore[attr-defined]

    fault(gitea)
    agent.round({"gitea": "running"})
    agent.round({"gitea": "running"})
    [issue] = issues(gitea)
    assert issue["title"] == f"{POLICY.severity_of('gitea_down')} gitea_down: gitea"
    assert agent.desk.filer.owed == []
    said = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert TOKEN not in said + repr(agent.log)


def test_a_second_outage_while_the_first_is_still_owed_is_answered_by_the_same_issue(gitea):
    """gate4 guardrail 4: each incident's updates name its issue's link; a second outage of
    the same service while Gitea is down is one issue, linked from both incidents' ids, and
    a restarted agent knows both links."""
    fault(gitea, mode="down")
    agent = Agent(gitea)
    agent.round({"ollama": "down"})
    agent.round({"ollama": "running"})
    agent.round({"ollama": "down"})
    first, second = (signal["correlation_id"] for signal in agent.signals)
    assert first != second, "two outages, two incidents"
    fault(gitea)
    agent.round({"ollama": "down"})

    [issue] = issues(gitea)
    url = issue["html_url"]
    assert {n["correlation_id"]: n["url"] for n in agent.notes("filed")} == {
        first: url,
        second: url,
    }
    assert agent.desk.ids.reference(second, "P1").issue == url
    successor = Agent(gitea, agent.log)
    successor.desk.ids.restore(agent.log)
    assert successor.desk.ids.reference(second, "P1").issue == url
    assert successor.desk.filer.owed == []


def test_a_hung_gitea_never_holds_up_the_round(gitea):
    fault(gitea, mode="slow", delay_seconds=10 * GITEA_TIMEOUT_S)
    agent = Agent(gitea)
    seen: dict[str, bool] = {}

    async def step(client: httpx.AsyncClient) -> None:
        await agent.desk.round(client, {"ollama": "down"}, online=True)
        seen["filing running after the round"] = any(not t.done() for t in agent.filings)

    agent.run(step)
    assert seen == {"filing running after the round": True}
    assert [i.title for i in agent.desk.filer.owed] == ["P1 ollama_down: ollama"]
    fault(gitea)
    agent.round({"ollama": "down"})
    assert len(issues(gitea)) == 1


def test_a_p1_raised_while_offline_is_filed_though_the_dispatcher_cannot_hear(gitea):
    agent = Agent(gitea)
    agent.run(
        lambda client: agent.desk.raise_incident(
            client, "risk_controls_failed", "policy", "policy file unreadable", online=False
        )
    )
    agent.round({}, online=False)
    assert agent.signals == []
    [issue] = issues(gitea)
    assert issue["title"] == "P1 risk_controls_failed: policy"
    assert "- Tried: logged; the Dispatcher hears it with the re-sync" in issue["body"]


@pytest.mark.parametrize(
    ("kind", "severity"), [("slow_inference", "P2"), ("data_corruption", "P0")]
)
def test_p0_and_p2_incidents_are_not_filed_in_gitea(gitea, kind, severity):
    """P0 goes to 0x01 at once, P2 is the log entry alone: neither is a Gitea issue."""
    agent = Agent(gitea)
    agent.run(
        lambda client: agent.desk.raise_incident(client, kind, "ollama", "it failed", online=True)
    )
    agent.round({})
    [incident] = [e for e in agent.log if e["kind"] == "incident"]
    assert incident["severity"] == severity
    assert issues(gitea) == []
    assert agent.notes("owed") == []
    # P0: a distress signal and 0x01 told at once; P2: "Log and continue", nothing sent.
    assert (len(agent.signals), len(agent.told.messages)) == (
        (1, 1) if severity == "P0" else (0, 0)
    )
