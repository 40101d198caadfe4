"""Serve stand-in apps for real on 127.0.0.1 from a uvicorn thread, as httpx's own tests do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping

import httpx
import pytest
from starlette.applications import Starlette

from sut.runtime.body import MAX_BODY_BYTES


@pytest.fixture(scope="module")
def serve(server_group) -> Iterator[Callable[[Starlette], str]]:
    """Start an app on a free port for the whole module; returns its base URL."""
    group = server_group()
    yield group.start
    group.stop()


def post_too_large(app: Starlette, path: str, headers: Mapping[str, str]) -> httpx.Response:
    """``app``'s answer, in process, to a POST claiming a body one byte past the limit.

    In process: over a socket the client would have to send the 8 MiB it claims.
    """

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://standin") as client:
            claim = {**headers, "Content-Length": str(MAX_BODY_BYTES + 1)}
            return await client.post(path, content=b"{}", headers=claim)

    return asyncio.run(post())


@pytest.fixture(name="post_too_large")
def post_too_large_fixture() -> Callable[[Starlette, str, Mapping[str, str]], httpx.Response]:
    """``post_too_large(app, path, headers)``: the answer to a body past the size limit."""
    return post_too_large
