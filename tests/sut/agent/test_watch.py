"""Watching the Dispatcher for real: the API probe over HTTP and the process check over ps."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sut.agent.watch import check_process, classify_status, probe_api

#: The probe's timeout in these tests; the slow answer takes SLOW_S, well beyond it.
PROBE_TIMEOUT_S = 0.2
SLOW_S = 1.0


# ---- classify_status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, '{"status": "ok", "provider": "ok"}', "ok"),
        (204, "", "ok"),
        (429, '{"error": "Rate Limit Exceeded"}', "rate_limited"),
        (429, "", "rate_limited"),
        (503, '{"error": "Rate Limit Exceeded"}', "rate_limited"),
        (200, "upstream said: rate limit exceeded", "rate_limited"),
        (502, "Too Many Requests", "rate_limited"),
        (500, "internal error", "server_error"),
        (502, "bad gateway", "server_error"),
        (503, "", "server_error"),
        (599, "", "server_error"),
        (404, "not found", "ok"),
        (401, "unauthorized", "ok"),
        (400, "bad request", "ok"),
        (499, "", "ok"),
    ],
)
def test_classify_status_maps_answers_to_probe_outcomes(status, body, expected):
    assert classify_status(status, body) == expected


# ---- probe_api against a real server ----------------------------------------------------


class StatusServer:
    """A dispatcher ``/v1/status`` answering by ``mode``; served by a ThreadedServer."""

    def __init__(self, threaded_server) -> None:
        self.mode = "ok"
        app = Starlette(routes=[Route("/v1/status", self.status, methods=["GET"])])
        self.server = threaded_server(app, graceful_shutdown_s=0.1)

    @property
    def url(self) -> str:
        return self.server.url

    async def status(self, _: Request) -> Response:
        if self.mode == "unavailable":
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if self.mode == "rate_limited":
            return JSONResponse({"error": "Rate Limit Exceeded"}, status_code=429)
        if self.mode == "teapot":
            return PlainTextResponse("no", status_code=418)
        if self.mode == "slow":
            # Slow, yet quick to give up when the server stops (no cancelled handler at exit).
            until = time.monotonic() + SLOW_S
            while time.monotonic() < until and not self.server.stopping:
                await asyncio.sleep(0.01)
        return JSONResponse({"status": "ok", "provider": "ok"})

    def __enter__(self) -> StatusServer:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def dispatcher(threaded_server) -> Iterator[StatusServer]:
    with StatusServer(threaded_server) as server:
        yield server


def probe(url: str) -> str:
    async def once() -> str:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await probe_api(client, url, PROBE_TIMEOUT_S)

    return asyncio.run(once())


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ok", "ok"),
        ("unavailable", "server_error"),
        ("rate_limited", "rate_limited"),
        ("teapot", "ok"),
        ("slow", "timeout"),
    ],
)
def test_probe_api_classifies_a_live_dispatcher(dispatcher, mode, expected):
    dispatcher.mode = mode
    started = time.monotonic()
    assert probe(dispatcher.url) == expected
    # The timeout is the probe's, not the server's: it never waits for the slow answer.
    assert time.monotonic() - started < SLOW_S


def test_probe_api_calls_a_closed_port_unreachable():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe(f"http://127.0.0.1:{port}") == "unreachable"


def test_probe_api_calls_a_listener_that_never_answers_a_timeout():
    # A hung dispatcher: the kernel accepts the connection, nobody ever reads or answers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        host, port = sock.getsockname()
        started = time.monotonic()
        assert probe(f"http://{host}:{port}") == "timeout"
        assert time.monotonic() - started < SLOW_S


# ---- check_process against real processes -----------------------------------------------

WAIT_S = 5.0


def wait_for_state(pidfile: Path, wanted: str) -> None:
    """Poll the check until it says ``wanted``; fail with the last thing it said."""
    deadline = time.monotonic() + WAIT_S
    seen = check_process(pidfile)
    while seen != wanted:
        if time.monotonic() > deadline:
            pytest.fail(f"check_process({pidfile}) never said {wanted!r}; last said {seen!r}")
        time.sleep(0.01)
        seen = check_process(pidfile)


@pytest.fixture
def fake_dispatcher(tmp_path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A child whose command line names sut.dispatcher, and a pidfile pointing at it."""
    # The extra argv word is what the recycled-pid guard looks for.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(1000)", "-m", "sut.dispatcher"]
    )
    pidfile = tmp_path / "dispatcher.pid"
    pidfile.write_text(f"{child.pid}\n")
    try:
        yield child, pidfile
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(WAIT_S)


def test_check_process_follows_a_dispatcher_through_stop_kill_and_reap(fake_dispatcher):
    child, pidfile = fake_dispatcher
    assert check_process(pidfile) == "running"

    os.kill(child.pid, signal.SIGSTOP)
    # SOP 2A.3: a SIGSTOPped process is hung but alive: "stopped", never "dead".
    wait_for_state(pidfile, "stopped")
    assert psutil.Process(child.pid).status() == psutil.STATUS_STOPPED

    os.kill(child.pid, signal.SIGCONT)
    wait_for_state(pidfile, "running")

    os.kill(child.pid, signal.SIGKILL)
    # Killed but not yet reaped by its parent (us): a zombie.
    wait_for_state(pidfile, "zombie")

    child.wait(WAIT_S)
    assert check_process(pidfile) == "dead"


def test_check_process_says_dead_for_a_pid_that_is_not_the_dispatcher(tmp_path):
    stranger = subprocess.Popen(["sleep", "1000"])
    try:
        pidfile = tmp_path / "dispatcher.pid"
        pidfile.write_text(str(stranger.pid))
        assert psutil.Process(stranger.pid).is_running()
        assert check_process(pidfile) == "dead"
    finally:
        stranger.kill()
        stranger.wait(WAIT_S)


@pytest.mark.parametrize("content", [None, "", "not-a-pid", "12.5", "-1", "0"])
def test_check_process_says_dead_without_a_usable_pidfile(tmp_path, content):
    pidfile = tmp_path / "dispatcher.pid"
    if content is not None:
        pidfile.write_text(content)
    assert check_process(pidfile) == "dead"
