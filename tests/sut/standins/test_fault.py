"""Fault control: validation of PUT /_fault, count-limited faults, and the guard over API routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sut.standins.app import build_app
from sut.standins.fault import Fault, FaultGuard, FaultSpecError, FaultState, parse_fault
from sut.standins.sink import Sink

BAD_BODIES = [
    ([], "JSON object"),
    ({}, "mode"),
    ({"mode": "broken"}, "mode"),
    ({"mode": "rate_limit", "colour": "red"}, "'colour'"),
    ({"mode": "error", "status": 200}, "status"),
    ({"mode": "error", "status": True}, "status"),
    ({"mode": "down", "status": 500}, "status"),
    ({"mode": "rate_limit", "count": 0}, "count"),
    ({"mode": "rate_limit", "count": 1.5}, "count"),
    ({"mode": "ok", "count": 2}, "count"),
    ({"mode": "rate_limit", "retry_after_seconds": "soon"}, "retry_after_seconds"),
    ({"mode": "slow", "delay_seconds": -1}, "delay_seconds"),
    ({"mode": "slow", "delay_seconds": float("inf")}, "delay_seconds"),
    ({"mode": "error", "delay_seconds": 1}, "delay_seconds"),
]


@pytest.mark.parametrize(("body", "named"), BAD_BODIES)
def test_bad_fault_is_refused_with_one_line_naming_the_field(body: object, named: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault(body)
    message = str(info.value)
    assert message.startswith("PUT /_fault: ")
    assert named in message
    assert "\n" not in message


def test_each_mode_gets_its_default_parameter() -> None:
    assert parse_fault({"mode": "error"}).status == 500
    assert parse_fault({"mode": "rate_limit"}).retry_after_seconds == 1.0
    assert parse_fault({"mode": "slow"}).delay_seconds == 1.0
    assert parse_fault({"mode": "down", "count": 3}) == Fault("down", count=3)


seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
counts = st.none() | st.integers(min_value=1, max_value=10_000)
faults = st.one_of(
    st.just(Fault()),
    st.builds(Fault, st.just("down"), counts),
    st.builds(Fault, st.just("error"), counts, st.integers(400, 599)),
    st.builds(Fault, st.just("rate_limit"), counts, st.none(), seconds),
    st.builds(Fault, st.just("slow"), counts, st.none(), st.none(), seconds),
)


@given(faults)
def test_what_get_shows_put_accepts_unchanged(fault: Fault) -> None:
    assert parse_fault(fault.as_json()) == fault


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_counted_fault_applies_to_exactly_count_requests(count: int, requests: int) -> None:
    state = FaultState()
    state.set(Fault("down", count=count))
    modes = [state.take().mode for _ in range(requests)]
    assert modes == ["down"] * min(count, requests) + ["ok"] * max(requests - count, 0)
    expected_left = count - requests if requests < count else None
    assert state.snapshot()["remaining"] == expected_left


def test_uncounted_fault_stays_until_cleared() -> None:
    state = FaultState()
    state.set(Fault("down"))
    assert [state.take().mode for _ in range(50)] == ["down"] * 50
    state.clear()
    assert state.take().mode == "ok"


# --- over HTTP, on a minimal stand-in with one API route -----------------------------------


async def _ping(request: Request) -> Response:
    return JSONResponse({"pong": True})


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str]) -> str:
    faults = FaultState()
    routes = [Route("/api/ping", FaultGuard(faults)(_ping), methods=["GET"])]
    return serve(build_app(routes, Sink(), faults))


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        client.delete("/_fault")
        yield client


def test_put_with_invalid_fault_is_400_with_the_reason(client: httpx.Client) -> None:
    answer = client.put("/_fault", json={"mode": "rate_limit", "count": -2})
    assert answer.status_code == 400
    assert answer.json() == {"error": "PUT /_fault: count: expected a whole number >= 1, got -2"}
    assert client.get("/_fault").json()["mode"] == "ok"


def test_put_with_malformed_json_is_400_with_one_line(client: httpx.Client) -> None:
    answer = client.put("/_fault", content=b"{mode: down")
    assert answer.status_code == 400
    assert answer.json()["error"] == "PUT /_fault: request body: not valid JSON"


def test_down_answers_503_on_api_routes_only(client: httpx.Client) -> None:
    assert client.put("/_fault", json={"mode": "down"}).json()["mode"] == "down"
    assert client.get("/api/ping").status_code == 503
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/_sink/messages").status_code == 200
    assert client.get("/_fault").json()["mode"] == "down"


def test_counted_error_reverts_to_ok_by_itself(client: httpx.Client) -> None:
    shown = client.put("/_fault", json={"mode": "error", "status": 502, "count": 2}).json()
    assert (shown["mode"], shown["status"], shown["remaining"]) == ("error", 502, 2)
    statuses = [client.get("/api/ping").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert client.get("/_fault").json() == {
        "mode": "ok",
        "count": None,
        "status": None,
        "retry_after_seconds": None,
        "delay_seconds": None,
        "remaining": None,
    }


def test_slow_delays_then_answers_normally(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "slow", "delay_seconds": 0.2, "count": 1})
    started = time.monotonic()
    answer = client.get("/api/ping")
    assert time.monotonic() - started >= 0.2
    assert answer.json() == {"pong": True}


def test_rate_limit_answers_429_with_error_body_and_retry_after(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "rate_limit", "retry_after_seconds": 2.5})
    answer = client.get("/api/ping")
    assert answer.status_code == 429
    assert "Rate Limit Exceeded" in answer.json()["error"]
    assert answer.headers["Retry-After"] == "3"


def test_delete_reverts_an_uncounted_fault(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "down"})
    assert client.delete("/_fault").json()["mode"] == "ok"
    assert client.get("/api/ping").status_code == 200
