"""One app served under uvicorn in a daemon thread: for tests and for embedding a service."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from sop.errors import ServiceConfigError

#: Wall seconds uvicorn may take to start serving, and to stop.
STARTUP_TIMEOUT_S = 10.0


class ThreadedServer:
    """``app`` on a free 127.0.0.1 port, the socket bound before the thread starts."""

    def __init__(self, app: Starlette, *, graceful_shutdown_s: int | None = None) -> None:
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

    def start(self) -> str:
        """Start serving; return the base URL once uvicorn says it serves."""
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServiceConfigError(
                    f"threaded server: uvicorn did not start on {self.url} "
                    f"within {STARTUP_TIMEOUT_S:g} s"
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
