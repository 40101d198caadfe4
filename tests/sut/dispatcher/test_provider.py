"""The provider client: what each kind of answer means for SOP 2B."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sut.dispatcher.provider import ProviderClient, classify


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, '{"message": {"content": "ok"}}', "ok"),
        (429, '{"error": "too many requests"}', "rate_limited"),
        (503, "Rate Limit Exceeded", "rate_limited"),
        (200, '{"error": "rate limit exceeded"}', "rate_limited"),
        (500, '{"error": "boom"}', "error"),
        (503, "", "error"),
        (404, '{"error": "model not found"}', "error"),
    ],
)
def test_classify(status, body, expected):
    assert classify(status, body) == expected


@given(st.text(), st.text())
def test_the_rate_limit_phrase_wins_over_any_status(prefix, suffix):
    body = prefix + "RATE LIMIT EXCEEDED" + suffix
    assert classify(200, body) == classify(500, body) == "rate_limited"
    assert classify(429, prefix + suffix) == "rate_limited"


def check(url: str, timeout_s: float = 0.5) -> str:
    async def run() -> str:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await ProviderClient(url, "m", timeout_s).check(client)

    return asyncio.run(run())


def test_a_refused_connection_is_an_error():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert check(f"http://127.0.0.1:{port}") == "error"


def test_a_provider_that_never_answers_is_an_error_after_the_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        assert check(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout_s=0.2) == "error"


def test_answers_of_a_served_provider(serve):
    answers = iter([(200, {"done": True}), (429, {"error": "slow down"}), (502, {})])

    async def chat(request: Request) -> JSONResponse:
        status, body = next(answers)
        return JSONResponse(body, status_code=status)

    url = serve(Starlette(routes=[Route("/api/chat", chat, methods=["POST"])]))
    assert [check(url), check(url), check(url)] == ["ok", "rate_limited", "error"]
