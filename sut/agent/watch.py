"""Watching the Dispatcher: the direct API probe (SOP 2A.2) and the process check (SOP 2A.3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil

from sop.observations import ProbeOutcome, ProcessState

#: SOP 2B: the dispatcher's own words for being rate-limited.
RATE_LIMIT_MARKERS = ("rate limit exceeded", "too many requests")


def classify_status(status: int, body: str) -> ProbeOutcome:
    """Map one answer of ``GET /v1/status`` to a probe outcome."""
    if status == 429 or any(marker in body.lower() for marker in RATE_LIMIT_MARKERS):
        return "rate_limited"
    if status >= 500:
        return "server_error"
    # SOP 2A.2 counts only 5xx and timeouts; any other answer proves the API is alive.
    return "ok"


async def probe_api(
    client: httpx.AsyncClient, dispatcher_url: str, timeout_s: float
) -> ProbeOutcome:
    """Call the dispatcher's status endpoint once and classify what happened."""
    try:
        response = await client.get(f"{dispatcher_url}/v1/status", timeout=timeout_s)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError:
        # Refused or reset: a killed dispatcher answers nothing, the SOP's "no answer".
        return "unreachable"
    return classify_status(response.status_code, response.text)


def check_process(pidfile: Path) -> ProcessState:
    """The co-located dispatcher process as ``ps`` sees it: running, stopped, zombie or dead."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return "dead"
    if pid <= 0:
        return "dead"  # psutil raises ValueError on these; a corrupt pidfile names no process
    try:
        process = psutil.Process(pid)
        status = process.status()
        # A recycled pid is not our dispatcher: guard against it through the command line.
        if status != psutil.STATUS_ZOMBIE and "sut.dispatcher" not in " ".join(process.cmdline()):
            return "dead"
    except psutil.NoSuchProcess:
        return "dead"
    except psutil.AccessDenied:
        return "running"
    if status == psutil.STATUS_ZOMBIE:
        return "zombie"
    if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
        return "stopped"  # SIGSTOP: hung but alive, SOP 2A.3 is not met
    return "running"
