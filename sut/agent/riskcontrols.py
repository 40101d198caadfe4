"""Risk controls failing while the agent runs: side effects stay blocked (gate4 guardrail 3).

gate4-incident-runbooks.md: "Side-effecting commands remain blocked when risk controls
fail", and "Keep side-effecting operations blocked while policy validity is uncertain". The
agent's risk controls are its policy file, the SOP as data (the green and red lists, the
numbers). An agent that failed to load it at start fails closed (sut/agent/failclosed.py);
one that loaded it keeps reading it, before every action and every remediation round. Once
the file no longer reads, no longer validates, or holds something other than the policy the
agent runs by (a policy changed under a running agent is not one it has checked), the
controls have failed: the action gate refuses everything with the reason, ``/healthz`` is
degraded with it, and the agent reports the incident. Detection and the SOP 3 alert go on:
they change nothing on the host, and the SOP requires them. The controls are restored when
the file holds the running policy again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.errors import PolicyError
from sop.observations import Mode
from sop.policy import load_policy
from sut.agent.gate import ActionGate

#: The incident kind of the severity table (sop/offline-emergency.yaml ``severity``).
KIND = "risk_controls_failed"


@dataclass(frozen=True)
class ControlsFailed:
    """The agent's risk controls failed at SOP minute ``since``; ``error`` says how."""

    error: str
    since: float

    @property
    def reason(self) -> str:
        """One line for refusals, ``/healthz`` and the incident."""
        return f"risk controls failed: {self.error}"

    def health_view(self, mode: Mode) -> dict[str, Any]:
        """``GET /healthz`` while the controls are failed (served with 503)."""
        return {"status": "degraded", "mode": mode, "reason": self.reason}


@dataclass(frozen=True)
class Change:
    """What changed since the last news: the controls failed, or were restored."""

    failed: ControlsFailed | None
    restored: bool


class RiskControls:
    """Re-reads the policy file at ``path`` and compares it with the one the agent runs
    (None: no file to watch, as a test's agent given its policy in memory)."""

    def __init__(self, path: Path | None, running_digest: str) -> None:
        self.path = path
        self._digest = running_digest
        self.failed: ControlsFailed | None = None
        self._told = False
        # The file's (inode, size, mtime) at the last read and what that read found: an
        # unchanged file is not parsed again (once a remediation round on a 2-core host).
        self._seen: tuple[tuple[int, int, int], str | None] | None = None

    def _error(self) -> str | None:
        """Why the file does not hold the running policy now (None: it does)."""
        assert self.path is not None
        try:
            info = os.stat(self.path)
        except OSError:
            self._seen = None  # load_policy below says why, in the policy's own words
        else:
            signature = (info.st_ino, info.st_size, info.st_mtime_ns)
            if self._seen is not None and self._seen[0] == signature:
                return self._seen[1]
            self._seen = (signature, self._read())
            return self._seen[1]
        return self._read()

    def _read(self) -> str | None:
        """Parse the file: why it is not the running policy (None: it is)."""
        assert self.path is not None
        try:
            on_disk = load_policy(self.path)
        except PolicyError as exc:
            return f"policy invalid: {exc}"
        if on_disk.digest != self._digest:
            return (
                f"{self.path}: the policy changed while the agent runs (sha256 "
                f"{on_disk.digest[:12]}, running {self._digest[:12]}); restart the agent to adopt"
            )
        return None

    def check(self, now: float) -> ControlsFailed | None:
        """Look at the file once: the failure in force now (None: the controls hold)."""
        error = self._error() if self.path is not None else None
        if error is None:
            self.failed = None
        elif self.failed is None:
            self.failed = ControlsFailed(error, now)
        else:
            # Still failed, maybe otherwise (invalid, then gone): the reason follows the file,
            # the failure keeps its first time.
            self.failed = ControlsFailed(error, self.failed.since)
        return self.failed

    def guard(self, gate: ActionGate, now: float) -> None:
        """Look at the file; ``gate`` refuses every action while the controls are failed."""
        failed = self.check(now)
        gate.block(failed.reason if failed is not None else None)

    def news(self) -> Change:
        """What changed since the last call: a failure not yet told, or a restoration."""
        if self.failed is not None and not self._told:
            self._told = True
            return Change(self.failed, False)
        if self.failed is None and self._told:
            self._told = False
            return Change(None, True)
        return Change(None, False)


__all__ = ["KIND", "Change", "ControlsFailed", "RiskControls"]
