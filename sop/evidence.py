"""The evidence vocabulary every room shares: names, journal entry, detection, redaction.

The harness writes evidence.json (fixtures/evidence.py), the reports read it (reports/),
and neither imports the other: what both must agree on lives here. A drill's detection
verdict is a :class:`Detection` (recorded as the data of a ``state_change`` event) with
its one rendering; a drill's journal entry is a :class:`JournalEntry` in the shape of
Chaos Toolkit's journal; a secret is replaced by ``REDACTED`` wherever it is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sop.errors import EvidenceError

#: The file name of the evidence inside a run's output directory.
EVIDENCE_FILE = "evidence.json"
#: The schema tag of evidence.json; reports/ refuses anything else
#: (reports/evidence.schema.json describes the whole document).
EVIDENCE_SCHEMA = "sopdrill.evidence/1"
#: A drill's journal status, as Chaos Toolkit names them (chaoslib/run.py).
DRILL_STATUSES = ("completed", "failed", "aborted", "interrupted")
#: The outcome of a drill the harness's own exception ended: the SOP was not judged.
HARNESS_ERROR = "harness_error"
#: What a secret is replaced with in every written artifact.
REDACTED = "[redacted]"
#: Shorter strings are never treated as secrets: replacing them would mangle ordinary
#: text, and every secret the harness generates is far longer (tokens of 24+ chars).
MIN_SECRET_LENGTH = 8
#: The evidence event kind a detection verdict is recorded as.
DETECTION_KIND = "state_change"


@dataclass(frozen=True)
class Detection:
    """When OFFLINE was declared against the window the SOP allows, in SOP minutes.

    All minutes share one origin (e.g. the fault's injection). No window means OFFLINE
    must not be declared at all (a short outage).
    """

    trigger: str | None
    declared_sop_minutes: float | None
    window_start_sop_minutes: float | None
    window_end_sop_minutes: float | None
    within_window: bool

    @classmethod
    def judge(
        cls,
        trigger: str | None,
        declared_sop_minutes: float | None,
        window_sop_minutes: tuple[float, float] | None,
    ) -> Detection:
        """The verdict of declaring at ``declared_sop_minutes`` against the window."""
        if window_sop_minutes is None:
            return cls(trigger, declared_sop_minutes, None, None, declared_sop_minutes is None)
        start, end = window_sop_minutes
        within = declared_sop_minutes is not None and start <= declared_sop_minutes <= end
        return cls(trigger, declared_sop_minutes, start, end, within)

    @property
    def must_not_declare(self) -> bool:
        """Whether the SOP says OFFLINE must not be declared at all here."""
        return self.window_start_sop_minutes is None

    def describe(self) -> str:
        """One line: the declared instant against its window, and the verdict."""
        declared = self.declared_sop_minutes
        verdict = "within window" if self.within_window else "OUTSIDE window"
        if self.must_not_declare:
            seen = "not declared" if declared is None else f"declared at {declared:.2f} SOP-min"
            return f"{seen}, must not be ({verdict})"
        seen = "never declared" if declared is None else f"{declared:.2f} SOP-min"
        start = self.window_start_sop_minutes or 0.0
        end = self.window_end_sop_minutes or 0.0
        return f"{seen} in [{start:.2f}, {end:.2f}] ({verdict})"

    def to_dict(self) -> dict[str, Any]:
        """The data of its ``state_change`` event (``detection`` marks it as a verdict)."""
        return {
            "detection": True,
            "trigger": self.trigger,
            "declared_sop_minutes": self.declared_sop_minutes,
            "window_start_sop_minutes": self.window_start_sop_minutes,
            "window_end_sop_minutes": self.window_end_sop_minutes,
            "within_window": self.within_window,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Detection | None:
        """The verdict an event's ``data`` carries; None when it is no detection."""
        if not data.get("detection"):
            return None
        return cls(
            trigger=data.get("trigger"),
            declared_sop_minutes=data.get("declared_sop_minutes"),
            window_start_sop_minutes=data.get("window_start_sop_minutes"),
            window_end_sop_minutes=data.get("window_end_sop_minutes"),
            within_window=bool(data.get("within_window")),
        )

    @classmethod
    def of_event(cls, kind: str, data: Mapping[str, Any]) -> Detection | None:
        """The verdict an event of ``kind`` with ``data`` records, if it records one."""
        return cls.from_dict(data) if kind == DETECTION_KIND else None


@dataclass(frozen=True)
class JournalEntry:
    """One drill's journal entry: when it ran, how it ended, whether the steady state held."""

    nodeid: str
    correlation_id: str
    started_at: str
    ended_at: str
    duration_s: float
    status: str
    deviated: bool
    outcome: str | None = None
    reason: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this entry in evidence.json's ``journal`` (keys in field order)."""
        entry = {column.name: getattr(self, column.name) for column in fields(self)}
        return {**entry, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JournalEntry:
        """The entry ``to_dict`` wrote; EvidenceError names what is malformed."""
        try:
            return cls(
                nodeid=str(raw["nodeid"]),
                correlation_id=str(raw.get("correlation_id") or ""),
                started_at=str(raw["started_at"]),
                ended_at=str(raw["ended_at"]),
                duration_s=float(raw["duration_s"]),
                status=str(raw["status"]),
                deviated=bool(raw["deviated"]),
                outcome=raw.get("outcome"),
                reason=raw.get("reason"),
                meta=dict(raw.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"evidence: journal entry: malformed ({exc!r})") from exc


def secrets_to_hide(values: Iterable[str]) -> set[str]:
    """The ``values`` long enough to be redacted as secrets (see MIN_SECRET_LENGTH)."""
    return {value for value in values if len(value) >= MIN_SECRET_LENGTH}


def redact_secrets(value: Any, hidden: Iterable[str]) -> Any:
    """``value`` (a JSON-like tree) with every occurrence of each ``hidden`` string redacted."""
    hidden = tuple(hidden)
    if not hidden:
        return value
    if isinstance(value, str):
        for secret in hidden:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {redact_secrets(k, hidden): redact_secrets(v, hidden) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_secrets(item, hidden) for item in value]
    return value


__all__ = [
    "DETECTION_KIND",
    "DRILL_STATUSES",
    "EVIDENCE_FILE",
    "EVIDENCE_SCHEMA",
    "HARNESS_ERROR",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Detection",
    "JournalEntry",
    "redact_secrets",
    "secrets_to_hide",
]
