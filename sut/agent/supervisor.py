"""A small async client for the host's supervisord (XML-RPC): list, start and restart programs."""

from __future__ import annotations

import asyncio
import xmlrpc.client
from typing import Any

from sop.errors import SopdrillError

#: supervisord states mapped onto the SOP's words (SOP 4: "down or degraded").
_DOWN_STATES = {"STOPPED", "EXITED", "FATAL", "BACKOFF", "STOPPING", "UNKNOWN"}


class SupervisorError(SopdrillError):
    """supervisord could not be reached or refused a call (the URL is never in the message)."""


class Supervisor:
    """Talks to one supervisord over XML-RPC, off the event loop."""

    def __init__(self, url: str) -> None:
        self._url = url

    def _call(self, method: str, *args: Any) -> Any:
        proxy = xmlrpc.client.ServerProxy(self._url, allow_none=True)
        try:
            return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise SupervisorError(f"supervisord: {method} failed: {exc.faultString}") from None
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            raise SupervisorError(
                f"supervisord: {method}: cannot reach it ({type(exc).__name__})"
            ) from None
        finally:
            proxy("close")()

    async def states(self) -> dict[str, str]:
        """Program name -> ``running`` or ``down``."""
        infos = await asyncio.to_thread(self._call, "getAllProcessInfo")
        return {
            info["name"]: "down" if info["statename"] in _DOWN_STATES else "running"
            for info in infos
        }

    async def start(self, name: str) -> None:
        """Start ``name`` and wait until supervisord sees it running."""
        await asyncio.to_thread(self._call, "startProcess", name, True)

    async def restart(self, name: str) -> None:
        """Stop (if running) and start ``name``: the fix for a degraded service."""
        try:
            await asyncio.to_thread(self._call, "stopProcess", name, True)
        except SupervisorError:
            pass  # already stopped is fine: starting is what matters
        await self.start(name)
