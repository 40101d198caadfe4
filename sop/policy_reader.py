"""Reading one mapping of the policy file field by field, naming ``file: a.b.c`` in every error.

The policy's sections (sop/policy.py) are read with it, so a wrong value is refused with
the file, the dotted field, what was expected and what was there, and a field nobody
reads (a typo, a key from a newer SOP) is an error, not silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sop.errors import PolicyError


class FieldReader:
    """Walks one mapping of the policy file, naming ``file: a.b.c`` in every error."""

    def __init__(self, where: str, data: Any, path: str = "") -> None:
        self.where = where
        self.path = path
        if not isinstance(data, Mapping):
            raise self.error(path or "(top level)", "expected a mapping", data)
        self.data: Mapping[str, Any] = data
        self.seen: set[str] = set()

    def error(self, field: str, why: str, got: Any) -> PolicyError:
        """The one-line error for ``field``: what was expected and what was there."""
        return PolicyError(f"{self.where}: {field}: {why}, got {got!r}")

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        if key not in self.data:
            raise PolicyError(f"{self.where}: {self.field(key)}: missing; it is required")
        return self.data[key]

    def child(self, key: str) -> FieldReader:
        return FieldReader(self.where, self.raw(key), self.field(key))

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(self.field(key), "expected a non-empty string", value)
        return value

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.error(self.field(key), "expected true or false", value)
        return value

    def positive(self, key: str, *, integer: bool = False, upper: float | None = None) -> float:
        value = self.raw(key)
        kind = "a positive integer" if integer else "a positive number"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value <= 0:
            raise self.error(self.field(key), f"expected {kind}", value)
        if upper is not None and value > upper:
            raise self.error(self.field(key), f"expected at most {upper:g}", value)
        return float(value) if not integer else value

    def minutes(self, key: str) -> float:
        # Durations must say their unit in the key; a bare number is a unit bug waiting.
        if not key.endswith("_minutes"):
            raise self.error(self.field(key), "durations are keyed *_minutes", key)
        return self.positive(key)

    def seconds(self, key: str) -> float:
        # The one duration a seed gives in seconds (cell0 "API latency > 5 seconds").
        if not key.endswith("_seconds"):
            raise self.error(self.field(key), "durations are keyed *_seconds", key)
        return self.positive(key)

    def strings(self, key: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.error(self.field(key), "expected a non-empty list of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{self.field(key)}[{index}]", "expected a string", item)
            if allowed is not None and item not in allowed:
                raise self.error(
                    f"{self.field(key)}[{index}]", f"unknown; expected one of {list(allowed)}", item
                )
        if len(set(value)) != len(value):
            raise self.error(self.field(key), "expected no duplicates", value)
        return tuple(value)

    def items(self, key: str) -> list[FieldReader]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.error(self.field(key), "expected a non-empty list", value)
        return [
            FieldReader(self.where, item, f"{self.field(key)}[{i}]") for i, item in enumerate(value)
        ]

    def done(self, optional: tuple[str, ...] = ()) -> None:
        extra = sorted(set(self.data) - self.seen - set(optional))
        if extra:
            raise self.error(self.field(extra[0]), "unknown field", extra[0])


__all__ = ["FieldReader"]
