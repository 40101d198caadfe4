"""The integrity check an agent requests after re-sync (SOP 5.3), and the record of requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sop.chain import verify_chain
from sop.errors import ChainError
from sut.dispatcher.journal import Journal


@dataclass(frozen=True)
class IntegrityReport:
    """Whether an agent's uploaded log verifies as one unbroken hash chain from seq 0."""

    agent: str
    status: str  # "ok" | "broken"
    entries: int
    head: str | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        """The report as the API answers it."""
        return asdict(self)


def check_integrity(agent: str, entries: list[dict[str, Any]]) -> IntegrityReport:
    """Verify ``entries`` (ordered by seq) with the one chain verifier, sop.chain."""
    try:
        verify_chain(entries, where=f"emergency log of {agent}")
    except ChainError as exc:
        return IntegrityReport(agent, "broken", len(entries), None, str(exc))
    head = str(entries[-1]["hash"]) if entries else None
    return IntegrityReport(agent, "ok", len(entries), head, None)


class IntegrityChecks:
    """Every integrity check requested, with its result, so a drill can see SOP 5.3 happened."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(self, report: IntegrityReport) -> dict[str, Any]:
        """Remember that ``report.agent`` asked, when, and what it was told."""
        return self.journal.append(
            {"requested_at": datetime.now(UTC).isoformat(), **report.as_json()}
        )

    def all(self) -> list[dict[str, Any]]:
        """Every request, oldest first."""
        return self.journal.records()
