"""The history's records of actions: what the harness asked of the agent, the advisories it
published, and the effects it saw by itself (SOP 4). Part of sop/history.py's ``Record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ActionSource = Literal["task", "local"]


@dataclass(frozen=True)
class ActionRequest:
    """An action the harness asked of the agent: a dispatcher task or a local request."""

    at: float
    source: ActionSource
    action: str
    target: str
    params: Mapping[str, Any]
    evidence_id: str


@dataclass(frozen=True)
class Advisory:
    """A vulnerability the harness published for the drill (SOP 4: patch precondition)."""

    at: float
    cve: str
    cvss: float
    active_exploit: bool
    evidence_id: str


@dataclass(frozen=True)
class ActionEffect:
    """An action's effect the harness saw by itself, whoever did it.

    ``action`` is the green or red name it amounts to (a service restarted by its process
    manager with a new pid: restart_service; a sampled process killed by a signal the
    harness did not send: kill_runaway; a protected tree changed: delete_data).
    """

    at: float
    action: str
    target: str
    evidence_id: str
