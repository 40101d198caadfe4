"""Apps served for real on 127.0.0.1 by uvicorn in a daemon thread, for every SUT test.

As httpx's own tests/conftest.py does: a real server, a real socket, in the test's process.
It lives here, not in sut/, because only tests serve an app this way (the services run
under ``python -m`` with sut/runtime/serve.py). With ``--import-mode=importlib`` a test
module cannot import this file, so it hands the pieces out as fixtures:

threaded_server  the ThreadedServer class: one app, a context manager (``with ... as server``)
server_group     the ServerGroup class: several apps started one by one, stopped together
serve            a ServerGroup for one test: ``serve(app)`` is the app's base URL
in_process       the InProcess class: one app on its own event loop, no socket at all, for
                 requests no HTTP server would pass on (tests/sut/test_fuzz_every_route.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

T = TypeVar("T")

#: Wall seconds uvicorn may take to start serving, and to stop.
STARTUP_TIMEOUT_S = 10.0
#: Wall seconds any one call into an in-process app may take before the test gives up.
CALL_TIMEOUT_S = 30.0


class ThreadedServer:
    """``app`` on a free 127.0.0.1 port, the socket bound before the thread starts."""

    def __init__(self, app: Starlette, *, graceful_shutdown_s: float | None = None) -> None:
        # Bound here, not in uvicorn: the port is known at once and cannot be taken. The
        # explicit IPPROTO_TCP makes asyncio set TCP_NODELAY; without it every keep-alive
        # answer waits out a 40 ms delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            ws="none",
            lifespan="on",
            # The loop the SUT serves on (sut/runtime/serve.py). uvloop, which "auto"
            # would pick, refuses to close while a refused client's socket is open.
            loop="asyncio",
            timeout_graceful_shutdown=graceful_shutdown_s,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL the app answers on."""
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def stopping(self) -> bool:
        """uvicorn was told to stop: a slow handler can give up early instead of being cut."""
        return bool(self.server.should_exit)

    def start(self) -> str:
        """Start serving; return the base URL once uvicorn says it serves."""
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"threaded server: uvicorn did not start on {self.url} "
                    f"within {STARTUP_TIMEOUT_S:g} s; its log is in the captured output"
                )
            time.sleep(0.005)
        return self.url

    def request_stop(self) -> None:
        """Ask uvicorn to stop without waiting (stop several, then join each)."""
        self.server.should_exit = True

    def stop(self) -> None:
        """Stop serving and wait for the thread; the socket is closed."""
        self.request_stop()
        self.thread.join(STARTUP_TIMEOUT_S)
        self.sock.close()

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerGroup:
    """Apps started one by one and stopped together, the last started first."""

    def __init__(self, *, graceful_shutdown_s: float | None = None) -> None:
        self.graceful_shutdown_s = graceful_shutdown_s
        self.servers: list[ThreadedServer] = []

    def start(self, app: Starlette) -> str:
        """Serve ``app`` on a free port; its base URL."""
        server = ThreadedServer(app, graceful_shutdown_s=self.graceful_shutdown_s)
        self.servers.append(server)
        return server.start()

    def stop(self) -> None:
        """Stop them all (an agent before the dispatcher its loops talk to)."""
        # Told to exit together, joined together: their shutdown ticks overlap.
        for server in reversed(self.servers):
            server.request_stop()
        for server in reversed(self.servers):
            server.stop()


class InProcess:
    """``app`` on an event loop of its own thread, lifespan running; requests through httpx.

    No socket: the request reaches the app as sent, a Content-Length of "\u00b2" or a claim
    past the body included, which a real server refuses before the app sees it. Starlette's
    TestClient would do, but with httpx it warns (it wants httpx2) and it reads a request
    body whole before the app asks; httpx's ASGITransport streams it. An exception in the
    app is raised into the test, traceback and all, rather than read back as a bare 500.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._lifespan: contextlib.AbstractAsyncContextManager[Any] | None = None
        self._client: httpx.AsyncClient | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the app's loop; its result (or its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT_S)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request (redirects not followed); ``kwargs`` as httpx's ``request`` takes."""
        assert self._client is not None, "the app serves only inside `with`"
        return self.call(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    async def _start(self) -> None:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app), base_url="http://testserver"
        )

    async def _stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()

    def __enter__(self) -> InProcess:
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(CALL_TIMEOUT_S)
            self.loop.close()


@pytest.fixture(scope="session")
def in_process() -> type[InProcess]:
    """The InProcess class: ``with in_process(app) as client: client.get("/healthz")``."""
    return InProcess


@pytest.fixture(scope="session")
def threaded_server() -> type[ThreadedServer]:
    """The ThreadedServer class: ``with threaded_server(app) as server: server.url``."""
    return ThreadedServer


@pytest.fixture(scope="session")
def server_group() -> type[ServerGroup]:
    """The ServerGroup class, for fixtures of other scopes than ``serve``'s."""
    return ServerGroup


@pytest.fixture
def serve() -> Iterator[Callable[[Starlette], str]]:
    """Start apps on free ports for one test; returns each one's base URL."""
    group = ServerGroup()
    yield group.start
    group.stop()
