"""A small async client for the host's supervisord (XML-RPC): list, start and restart programs."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import xmlrpc.client
from typing import Any

from sop.errors import SopdrillError

#: supervisord states mapped onto the SOP's words (SOP 4: "down or degraded").
_DOWN_STATES = {"STOPPED", "EXITED", "FATAL", "BACKOFF", "UNKNOWN"}
#: In between: neither running nor down yet; acting now would race supervisord itself.
_TRANSITIONAL_STATES = {"STOPPING"}
#: Wall seconds a program that came up is still "starting": its process runs but its
#: service may not answer yet (a Python service takes a second or two to bind, more on a
#: loaded host). Its failing health check then is no outage: CI's parallel docker drills
#: saw the agent report Ollama degraded while the host was still booting.
STARTUP_GRACE_S = 15.0
#: supervisord's fault for a start of a program in RUNNING, STARTING or BACKOFF.
_ALREADY_STARTED = "ALREADY_STARTED"


class SupervisorCallError(SopdrillError):
    """supervisord could not be reached or refused a call (the URL is never in the message)."""


def _state_word(info: dict[str, Any]) -> str:
    statename = str(info.get("statename"))
    if statename in _TRANSITIONAL_STATES:
        return "stopping"
    if statename in _DOWN_STATES:
        return "down"
    if statename == "STARTING":
        return "starting"
    up_for = float(info.get("now") or 0) - float(info.get("start") or 0)
    return "starting" if up_for < STARTUP_GRACE_S else "running"


class _TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc's transport with a socket timeout: a hung supervisord must not hang the agent."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout_s
        return connection


class Supervisor:
    """Talks to one supervisord over XML-RPC, off the event loop."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url = url
        self._timeout_s = timeout_s

    def _call(self, method: str, *args: Any) -> Any:
        transport = _TimeoutTransport(self._timeout_s)
        proxy = xmlrpc.client.ServerProxy(self._url, transport=transport, allow_none=True)
        try:
            return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise SupervisorCallError(f"supervisord: {method} failed: {exc.faultString}") from None
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            raise SupervisorCallError(
                f"supervisord: {method}: cannot reach it ({type(exc).__name__})"
            ) from None
        finally:
            proxy("close")()

    def process_info(self, name: str) -> dict[str, Any]:
        """supervisord's record of ``name`` (``statename``, ``pid``...), blocking."""
        info: dict[str, Any] = self._call("getProcessInfo", name)
        return info

    def send_signal(self, name: str, signal_name: str) -> None:
        """Send ``signal_name`` (``KILL``...) to ``name``'s process via supervisord, blocking."""
        self._call("signalProcess", name, signal_name)

    def launch(self, name: str) -> None:
        """Start ``name`` without waiting for it to come up (the watchdog's STEP 3), blocking."""
        self._call("startProcess", name, False)

    async def states(self) -> dict[str, str]:
        """Program name -> ``running``, ``down``, ``starting`` (up for less than
        STARTUP_GRACE_S) or ``stopping`` (in between: leave it be)."""
        infos = await asyncio.to_thread(self._call, "getAllProcessInfo")
        return {info["name"]: _state_word(info) for info in infos}

    async def start(self, name: str) -> None:
        """Start ``name`` and wait until supervisord sees it running.

        A program supervisord is itself retrying (BACKOFF, or STARTING between two tries)
        counts as down (SOP 4) but refuses a start with ALREADY_STARTED: it is stopped, which
        ends the back-off, and started afresh, so the outcome logged is the start's own.
        """
        try:
            await asyncio.to_thread(self._call, "startProcess", name, True)
        except SupervisorCallError as exc:
            if _ALREADY_STARTED not in str(exc):
                raise
            state = (await asyncio.to_thread(self.process_info, name)).get("statename")
            if state == "RUNNING":
                return
            await self._stop(name)
            await asyncio.to_thread(self._call, "startProcess", name, True)

    async def _stop(self, name: str) -> None:
        """Stop ``name`` and wait; already stopped (or ended meanwhile) is fine."""
        with contextlib.suppress(SupervisorCallError):
            await asyncio.to_thread(self._call, "stopProcess", name, True)

    async def restart(self, name: str) -> None:
        """Stop (if running) and start ``name``: the fix for a degraded service."""
        await self._stop(name)
        await self.start(name)
