"""Serve stand-in apps for real on 127.0.0.1 from a uvicorn thread, as httpx's own tests do."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette


@pytest.fixture(scope="module")
def serve(server_group) -> Iterator[Callable[[Starlette], str]]:
    """Start an app on a free port for the whole module; returns its base URL."""
    group = server_group()
    yield group.start
    group.stop()
