"""Incident intake: the distress signal of emergency-procedures.md, validated and recorded.

While the dispatcher is online the agent reports what it sees as a distress signal
("Distress Signal Format"): timestamp, agent, severity P0-P3, category, component,
message, context {...}, requested_action, escalation_timeout. Each malformed field is
refused with one line naming it; fields beyond these are kept as sent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sop.timescale import aware_instant
from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.journal import Journal

#: emergency-procedures.md "Severity Levels".
SEVERITIES = ("P0", "P1", "P2", "P3")
_TEXT_FIELDS = ("agent", "category", "component", "message", "requested_action")
_TIME_FIELDS = ("timestamp", "escalation_timeout")
REQUIRED_FIELDS = (
    "timestamp",
    "agent",
    "severity",
    "category",
    "component",
    "message",
    "context",
    "requested_action",
    "escalation_timeout",
)


def _check_time(field: str, value: Any) -> None:
    try:
        aware_instant(value, field)
    except ValueError as exc:
        raise RequestRejected(str(exc)) from None


def validate_distress_signal(data: Any) -> dict[str, Any]:
    """``data`` if it is a valid distress signal; else RequestRejected(422) naming the field."""
    if not isinstance(data, dict):
        raise RequestRejected(f"distress signal: expected a JSON object, got {data!r}")
    for field in REQUIRED_FIELDS:
        if field not in data:
            raise RequestRejected(f"{field}: required field is missing")
    for field in _TIME_FIELDS:
        _check_time(field, data[field])
    for field in _TEXT_FIELDS:
        value = data[field]
        if not isinstance(value, str) or not value.strip():
            raise RequestRejected(f"{field}: expected a non-empty string, got {value!r}")
    if data["severity"] not in SEVERITIES:
        raise RequestRejected(
            f"severity: expected one of {', '.join(SEVERITIES)}, got {data['severity']!r}"
        )
    if not isinstance(data["context"], dict):
        raise RequestRejected(f"context: expected an object, got {data['context']!r}")
    return data


class IncidentBook:
    """Accepted distress signals, each with an id and the time it was received."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(self, signal: dict[str, Any]) -> dict[str, Any]:
        """Validate and store ``signal``; returns the stored incident (with ``id``)."""
        validate_distress_signal(signal)
        incident = {
            "id": str(uuid.uuid4()),
            "received_at": datetime.now(UTC).isoformat(),
            **{k: v for k, v in signal.items() if k not in ("id", "received_at")},
        }
        return self.journal.append(incident)

    def all(self) -> list[dict[str, Any]]:
        """Every incident, oldest first."""
        return self.journal.records()
