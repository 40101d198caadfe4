"""Serve stand-in apps for real on 127.0.0.1 from a uvicorn thread, as httpx's own tests do."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from starlette.applications import Starlette

STARTUP_TIMEOUT_S = 5.0


class ThreadedServer:
    """One app under uvicorn in a daemon thread, on a socket bound before the thread starts."""

    def __init__(self, app: Starlette) -> None:
        # Binding port 0 here (not in uvicorn) means the port is known and cannot be taken.
        # IPPROTO_TCP must be explicit: asyncio sets TCP_NODELAY only on sockets whose proto
        # says TCP, and without it every keep-alive answer waits 40 ms on delayed ACKs.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_config=None, access_log=False, ws="none", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"uvicorn did not start on {self.url} within {STARTUP_TIMEOUT_S} s"
                )
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STARTUP_TIMEOUT_S)
        self.sock.close()


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
