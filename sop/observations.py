"""What a watchdog can observe about the Dispatcher, stamped in SOP minutes.

The agent's detector and the reference model (sop/oracle.py) consume the same values,
so a drill can replay what the agent saw through the oracle and compare verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

ProbeOutcome = Literal["ok", "server_error", "timeout", "unreachable", "rate_limited"]
ProcessState = Literal["running", "stopped", "zombie", "dead"]
Mode = Literal["online", "suspect", "offline", "recovering"]
Trigger = Literal["scenario_a", "scenario_b"]

#: SOP 2A.2 counts 5xx and timeouts; a refused connection is the same "no answer".
FAILED_PROBES: frozenset[str] = frozenset({"server_error", "timeout", "unreachable"})
#: SOP 2A.3: only these confirm the co-located process is gone (SIGSTOP is alive).
GONE_STATES: frozenset[str] = frozenset({"dead", "zombie"})
MODES: tuple[Mode, ...] = ("online", "suspect", "offline", "recovering")
#: A managed service's health as the seeds check it: Ollama's ``curl .../api/tags``
#: (emergency-procedures.md scenario 2 STEP 1), Gitea's ``curl .../api/v1/version``
#: (scenario 3 STEP 1). The agent and the harness both read it here; a service not named
#: is healthy when its ``/healthz`` answers 200.
HEALTH_PATHS: Mapping[str, str] = MappingProxyType(
    {"ollama": "/api/tags", "gitea": "/api/v1/version"}
)


@dataclass(frozen=True)
class Heartbeat:
    """An inbox envelope (heartbeat or task); only ``valid`` ones reset the silence timer."""

    at: float
    valid: bool = True


@dataclass(frozen=True)
class ApiProbe:
    """One direct call to the Dispatcher API (SOP 2A.2) and how it ended."""

    at: float
    outcome: ProbeOutcome


@dataclass(frozen=True)
class ProcessCheck:
    """The co-located Dispatcher process as ps sees it (SOP 2A.3)."""

    at: float
    state: ProcessState


@dataclass(frozen=True)
class RateLimitReport:
    """The Dispatcher's own word (in a heartbeat) on whether its provider rate-limits it."""

    at: float
    limited: bool


Observation = Heartbeat | ApiProbe | ProcessCheck | RateLimitReport
