"""While online the agent reports, it does not heal: one distress signal per outage of a service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from sop.policy import load_policy
from sut.agent.incidents import IncidentReporter, distress_signal, outage_kind
from sut.dispatcher.incidents import validate_distress_signal

DISPATCHER = "http://dispatcher.test"


POLICY = load_policy()


def reporter() -> IncidentReporter:
    return IncidentReporter(
        "ops", DISPATCHER, escalation_wall_s=60.0, timeout_s=1.0, severity_of=POLICY.severity_of
    )


def client_answering(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def rounds(reports: IncidentReporter, client: httpx.AsyncClient, *states: dict[str, str]) -> None:
    async def run() -> None:
        async with client:
            for each in states:
                await reports.report(client, each)

    asyncio.run(run())


def test_the_distress_signal_is_the_format_the_dispatcher_validates():
    signal = distress_signal(
        "ops",
        "ollama",
        "ollama is down",
        severity="P1",
        last_success=None,
        attempts=1,
        escalation_wall_s=60,
    )
    validate_distress_signal(signal)  # raises RequestRejected on any deviation


@pytest.mark.parametrize(
    ("component", "kind", "severity"),
    [
        ("ollama", "ollama_down", "P1"),  # emergency-procedures.md: "Ollama down" is P1
        ("gitea", "gitea_down", "P1"),  # Scenario 3: Gitea Unavailable (P1)
        ("nginx", "service_down", "P1"),  # P1 "Major service failure"
    ],
)
def test_an_outage_carries_the_severity_of_its_kind(component, kind, severity):
    assert outage_kind(component) == kind
    posted: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.read()))
        return httpx.Response(201, json={"id": "inc"})

    rounds(reporter(), client_answering(answer), {component: "down"})
    assert [signal["severity"] for signal in posted] == [severity]


def test_an_outage_is_reported_once_and_a_new_outage_again():
    posted: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{DISPATCHER}/v1/incidents"
        posted.append(request.read().decode())
        return httpx.Response(201, json={"id": "inc"})

    reports = reporter()
    down, up = {"ollama": "down", "nginx": "running"}, {"ollama": "running", "nginx": "running"}
    rounds(reports, client_answering(answer), down, down, down, up, down)

    assert len(posted) == 2
    assert [s["component"] for s in reports.sent] == ["ollama", "ollama"]


@pytest.mark.parametrize(
    ("failure", "reported_again"),
    [
        (httpx.ConnectError("refused"), True),  # never reached: the next round tries again
        (httpx.ReadTimeout("no answer"), False),  # most likely received: no second copy
    ],
)
def test_a_failed_delivery_is_retried_only_when_it_never_reached_the_dispatcher(
    failure, reported_again
):
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise failure
        return httpx.Response(201, json={"id": "inc"})

    reports = reporter()
    rounds(reports, client_answering(answer), {"ollama": "down"}, {"ollama": "down"})

    assert calls == (2 if reported_again else 1)


def test_a_refusing_dispatcher_is_asked_again_next_round():
    statuses = iter([503, 201])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={})

    reports = reporter()
    rounds(reports, client_answering(answer), {"nginx": "degraded"}, {"nginx": "degraded"})

    assert [s["context"]["error"] for s in reports.sent] == ["nginx is degraded"]
