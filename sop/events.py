"""The evidence event: one line of the timeline that SUT logs, drills and reports share.

Every fault, probe, state change, notification and action is recorded as an :class:`Event`
with a wall time (ISO-8601, for people and auditors), a monotonic time (seconds, for
durations that a clock jump cannot falsify) and a correlation id (gate4 runbook: "every
incident update must include correlation IDs"). The schema is small on purpose; later
work adds kinds here, never ad-hoc dictionaries elsewhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sop.errors import EvidenceError
from sop.timescale import aware_instant
from sop.wire import canonical_json

#: Every kind of event the evidence timeline knows.
EVENT_KINDS: tuple[str, ...] = (
    "fault_injected",  # a fault's inject() took effect
    "fault_reverted",  # ... and its revert()
    "probe",  # an observation of the SUT (state, sink inbox, log file, process table)
    "state_change",  # the agent's mode moved (online/suspect/offline/recovering)
    "notification",  # SOP 3: a backchannel message sent, refused or retried
    "action",  # SOP 4: an action gate decision (executed or refused)
    "resync",  # SOP 5: a recovery step
    "drill_started",
    "drill_finished",
    "note",  # free text for the report
)
_FIELDS = ("kind", "at_wall", "at_mono", "correlation_id", "source", "data")


@dataclass(frozen=True)
class Event:
    """One recorded fact; ``data`` holds the kind-specific JSON fields."""

    kind: str
    at_wall: str
    at_mono: float
    correlation_id: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise EvidenceError(
                f"event: kind: unknown, expected one of {list(EVENT_KINDS)}, got {self.kind!r}"
            )
        _check_wall(self.at_wall)
        mono = self.at_mono
        if isinstance(mono, bool) or not isinstance(mono, int | float) or not math.isfinite(mono):
            raise EvidenceError(
                f"event {self.kind}: at_mono: expected finite seconds, got {mono!r}"
            )
        for name in ("correlation_id", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise EvidenceError(
                    f"event {self.kind}: {name}: expected a non-empty string, got {value!r}"
                )
        if not isinstance(self.data, Mapping) or not all(isinstance(k, str) for k in self.data):
            raise EvidenceError(
                f"event {self.kind}: data: expected an object with string keys, got {self.data!r}"
            )
        try:
            canonical_json(self.data)
        except (TypeError, ValueError) as exc:
            raise EvidenceError(f"event {self.kind}: data: not JSON-serialisable ({exc})") from exc
        # A private copy: the caller's dict changing later must not rewrite the evidence.
        object.__setattr__(self, "at_mono", float(mono))
        object.__setattr__(self, "data", dict(self.data))

    @classmethod
    def stamp(
        cls,
        kind: str,
        *,
        source: str,
        correlation_id: str,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        """An event of ``kind`` stamped now (UTC wall clock and ``time.monotonic()``)."""
        return cls(
            kind=kind,
            at_wall=datetime.now(UTC).isoformat(),
            at_mono=time.monotonic(),
            correlation_id=correlation_id,
            source=source,
            data=dict(data or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this event (evidence.json, JSON-line logs)."""
        return {
            "kind": self.kind,
            "at_wall": self.at_wall,
            "at_mono": self.at_mono,
            "correlation_id": self.correlation_id,
            "source": self.source,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Event:
        """Parse and validate an event object; raises EvidenceError naming the bad field."""
        if not isinstance(raw, Mapping):
            raise EvidenceError(f"event: expected a JSON object, got {raw!r}")
        missing = [name for name in _FIELDS if name not in raw]
        if missing:
            raise EvidenceError(f"event: {missing[0]}: missing; it is required")
        extra = sorted(set(raw) - set(_FIELDS))
        if extra:
            raise EvidenceError(f"event: {extra[0]}: unknown field")
        return cls(**{name: raw[name] for name in _FIELDS})


def _check_wall(value: Any) -> None:
    try:
        aware_instant(value, "event: at_wall")
    except ValueError as exc:
        raise EvidenceError(str(exc)) from None
