"""Distress-signal validation (emergency-procedures.md "Distress Signal Format")."""

from __future__ import annotations

from typing import Any

import pytest

from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.incidents import REQUIRED_FIELDS, validate_distress_signal

EXAMPLE: dict[str, Any] = {
    "timestamp": "2026-03-31T12:00:00Z",
    "agent": "allegro-primus",
    "severity": "P1",
    "category": "service_failure",
    "component": "ollama",
    "message": "Ollama service not responding to health checks",
    "context": {
        "last_success": "2026-03-31T11:45:00Z",
        "attempts": 3,
        "error": "Connection refused",
        "auto_recovery_attempted": True,
    },
    "requested_action": "father_intervention",
    "escalation_timeout": "2026-03-31T12:30:00Z",
}


def test_the_documents_own_example_is_valid():
    assert validate_distress_signal(dict(EXAMPLE)) == EXAMPLE


@pytest.mark.parametrize("severity", ["P0", "P1", "P2", "P3"])
def test_every_severity_level_is_accepted(severity):
    validate_distress_signal({**EXAMPLE, "severity": severity})


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_a_missing_field_is_named(field):
    signal = {k: v for k, v in EXAMPLE.items() if k != field}
    with pytest.raises(RequestRejected) as caught:
        validate_distress_signal(signal)
    assert str(caught.value) == f"{field}: required field is missing"
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("severity", "P4"),
        ("severity", "p1"),
        ("timestamp", "yesterday"),
        ("timestamp", "2026-03-31T12:00:00"),
        ("escalation_timeout", 1711886400),
        ("agent", ""),
        ("category", None),
        ("component", 3),
        ("message", "   "),
        ("requested_action", ["father_intervention"]),
        ("context", "Connection refused"),
    ],
)
def test_a_bad_field_is_named_in_one_line(field, value):
    with pytest.raises(RequestRejected) as caught:
        validate_distress_signal({**EXAMPLE, field: value})
    assert str(caught.value).startswith(f"{field}:")
    assert "\n" not in str(caught.value)


def test_a_signal_that_is_not_an_object_is_refused():
    with pytest.raises(RequestRejected, match="expected a JSON object"):
        validate_distress_signal(["P1"])
