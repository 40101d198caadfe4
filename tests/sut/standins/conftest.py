"""Serve stand-in apps for real on 127.0.0.1 from a uvicorn thread, as httpx's own tests do."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette

from sut.runtime.threaded import ThreadedServer


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[Starlette], str]]:
    """Start an app on a free port for the whole module; returns its base URL."""
    servers: list[ThreadedServer] = []

    def start(app: Starlette) -> str:
        server = ThreadedServer(app)
        servers.append(server)
        server.start()
        return server.url

    yield start
    for server in servers:
        server.stop()
