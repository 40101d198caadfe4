"""The history's records of incident updates outside the backchannels: the distress signals
the Dispatcher recorded and the issues on the agent's Gitea, both read by the harness itself
(gate4 guardrail 4, judged in sop/checker/correlation.py). Part of sop/history.py's ``Record``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistressRecord:
    """A distress signal as the Dispatcher recorded it (``GET /v1/incidents``), stamped when
    it was received; ``correlation_id`` and ``issue`` as the agent sent them (None: absent)."""

    at: float
    severity: str
    category: str
    component: str
    correlation_id: str | None
    issue: str | None
    evidence_id: str


@dataclass(frozen=True)
class IssueRecord:
    """An issue of the incidents repository as Gitea serves it, stamped at its creation (Gitea's
    ``created_at``, whole seconds); its links and the body that names its incidents."""

    at: float
    number: int
    html_url: str
    api_url: str
    body: str
    evidence_id: str


__all__ = ["DistressRecord", "IssueRecord"]
