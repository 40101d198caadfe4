"""A hostile request body is a 4xx answer from every write route, never a 500 or a stall."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sut.runtime.body import BodyRefused, read_json_object

LIMIT = 16 * 1024  # room for DEEP (10 KB), far below any real limit
#: Deeper than CPython's JSON parser recurses (it raised RecursionError: a 500).
DEEP = b"[" * 5000 + b"]" * 5000


def _echo_app() -> Starlette:
    async def echo(request: Request) -> Response:
        try:
            data = await read_json_object(request, LIMIT)
        except BodyRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"keys": sorted(data)})

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


@pytest.fixture
def client(serve: Callable[[Starlette], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve(_echo_app()), trust_env=False, timeout=10) as http:
        yield http


def test_an_object_within_the_limit_is_read(client: httpx.Client) -> None:
    answer = client.post("/echo", json={"b": 1, "a": [1, 2]})
    assert (answer.status_code, answer.json()) == (200, {"keys": ["a", "b"]})


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (DEEP, 400, "request body: not valid JSON"),
        (b"{not json", 400, "request body: not valid JSON"),
        (b"\xff\xfe", 400, "request body: not valid JSON"),
        (b"[1, 2]", 400, "request body: expected a JSON object, got list"),
        (b"{" + b" " * LIMIT + b"}", 413, f"request body: larger than {LIMIT} bytes"),
        # Python's parser takes these; JSONResponse cannot write them back (issue 14's fuzz).
        (b'{"a": NaN}', 400, "request body: not valid JSON"),
        (b'{"a": -Infinity}', 400, "request body: not valid JSON"),
        (b'{"a": 1e999}', 400, "request body: not valid JSON"),
        # Lone surrogates, escaped or encoded: no UTF-8 answer or journal can hold them.
        (b'{"a": "\\ud800"}', 400, "request body: a lone UTF-16 surrogate is not text"),
        (b'{"\\udfff": 1}', 400, "request body: a lone UTF-16 surrogate is not text"),
        (b'{"a": ["\xed\xa0\x80"]}', 400, "request body: a lone UTF-16 surrogate is not text"),
    ],
)
def test_a_bad_body_is_refused_with_its_status(
    client: httpx.Client, body: bytes, status: int, error: str
) -> None:
    answer = client.post("/echo", content=body)
    assert (answer.status_code, answer.json()) == (status, {"error": error})


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(client: httpx.Client) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        for _ in range(128):
            sent.append(1)
            yield b" " * 256

    answer = client.post("/echo", content=chunks())
    assert answer.status_code == 413
    assert answer.json() == {"error": f"request body: larger than {LIMIT} bytes"}


def test_a_surrogate_pair_is_text(client: httpx.Client) -> None:
    answer = client.post("/echo", content=b'{"\\ud83d\\ude00": 1.5e308}')
    assert (answer.status_code, answer.json()) == (200, {"keys": ["\U0001f600"]})


def test_a_length_in_digits_that_are_not_ascii_is_left_to_the_stream() -> None:
    # "\u00b2".isdigit() is true and int() raises on it: a 500 (issue 14's fuzz, in process;
    # uvicorn refuses such a header itself, the check must not count on it).
    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"\xb2")]}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b'{"a": 1}', "more_body": False}

    assert asyncio.run(read_json_object(Request(scope, receive))) == {"a": 1}
