"""The integrity check an agent requests after re-sync (SOP 5.3), and the record of requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sop.chain import verify_chain
from sop.errors import ChainError
from sop.logupload import LEGACY_EPOCH
from sut.dispatcher.journal import Journal
from sut.dispatcher.logstore import EpochLog


@dataclass(frozen=True)
class EpochReport:
    """Whether one epoch of an agent's uploaded log verifies as one unbroken chain from seq 0."""

    epoch: int
    status: str  # "ok" | "broken"
    entries: int
    head: str | None
    error: str | None
    sealed: bool = False


@dataclass(frozen=True)
class IntegrityReport:
    """The latest epoch's verdict (the log the agent writes now), and every epoch's below it."""

    agent: str
    status: str  # "ok" | "broken": of the latest epoch
    entries: int
    head: str | None
    error: str | None
    epoch: int = LEGACY_EPOCH
    epochs: tuple[EpochReport, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The report as the API answers it."""
        report = asdict(self)
        report["epochs"] = [asdict(each) for each in self.epochs]
        return report


def check_integrity(agent: str, entries: list[dict[str, Any]]) -> IntegrityReport:
    """Verify ``entries`` (ordered by seq) with the one chain verifier, sop.chain."""
    try:
        verify_chain(entries, where=f"emergency log of {agent}")
    except ChainError as exc:
        return IntegrityReport(agent, "broken", len(entries), None, str(exc))
    head = str(entries[-1]["hash"]) if entries else None
    return IntegrityReport(agent, "ok", len(entries), head, None)


def check_epoch(agent: str, epoch: int, held: EpochLog) -> EpochReport:
    """One epoch: its chain first (naming the line), then what its seal and conflicts say."""
    where = f"emergency log of {agent}, epoch {epoch}"
    entries = held.ordered()
    sealed = held.seal is not None
    try:
        verify_chain(entries, where=where)
    except ChainError as exc:
        return EpochReport(epoch, "broken", len(entries), None, str(exc), sealed)
    head = str(entries[-1]["hash"]) if entries else None
    if held.conflicts:
        seqs = ", ".join(str(entry["seq"]) for entry in held.conflicts)
        error = (
            f"{where}: seq {seqs}: the agent's copy differs from the entry acknowledged before "
            "(both kept)"
        )
        return EpochReport(epoch, "broken", len(entries), head, error, sealed)
    if held.seal is not None:
        # What was uploaded verifies (a cut tail cannot show in a chain); the agent's file did
        # not, and the seal names its line: broken all the same (docs/architecture.md).
        line = "" if held.seal.line is None else f" at line {held.seal.line}"
        error = f"{where}: sealed by the agent{line}: {held.seal.error}"
        return EpochReport(epoch, "broken", len(entries), head, error, sealed)
    return EpochReport(epoch, "ok", len(entries), head, None, sealed)


def check_epochs(agent: str, epochs: dict[int, EpochLog]) -> IntegrityReport:
    """Every epoch checked apart; the answer's top level is the latest epoch's verdict."""
    reports = tuple(check_epoch(agent, epoch, epochs[epoch]) for epoch in sorted(epochs))
    if not reports:
        return IntegrityReport(agent, "ok", 0, None, None)
    latest = reports[-1]
    return IntegrityReport(
        agent, latest.status, latest.entries, latest.head, latest.error, latest.epoch, reports
    )


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
