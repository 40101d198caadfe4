"""Typed reading of a service's environment; a bad value is one line naming the variable."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from sop.errors import ServiceConfigError
from sop.timescale import TimeScale

T = TypeVar("T")


def startup_error_line(service: str, error: Exception) -> str:
    """The one stderr line for a service that cannot start: prefixed with its name once."""
    message = " ".join(str(error).split())
    return message if message.startswith(f"{service}: ") else f"{service}: {message}"


class Settings:
    """Reads ``SOPDRILL_*`` variables with types; every error names the variable and the value."""

    def __init__(self, service: str, environ: Mapping[str, str] | None = None) -> None:
        self.service = service
        self._env = dict(os.environ if environ is None else environ)
        self.secrets: set[str] = set()

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return None if value is None or value == "" else value

    def _fail(self, name: str, expected: str, got: object) -> ServiceConfigError:
        return ServiceConfigError(f"{self.service}: {name}: expected {expected}, got {got!r}")

    def _required(
        self, name: str, default: T | None, convert: Callable[[str], T], expected: str
    ) -> T:
        """``convert`` of the variable, ``default`` when unset; unset without one is an error."""
        value = self._raw(name)
        if value is None:
            if default is None:
                raise ServiceConfigError(f"{self.service}: {name} is not set; it is required")
            return default
        try:
            return convert(value)
        except ValueError:
            raise self._fail(name, expected, value) from None

    def text(self, name: str, default: str | None = None) -> str:
        """A required string (or ``default`` when given)."""
        return self._required(name, default, str, "text")

    def optional(self, name: str) -> str | None:
        """A string that may be absent."""
        return self._raw(name)

    def secret(self, name: str, default: str | None = None) -> str:
        """A required secret; remembered so that logs redact it."""
        value = self.text(name, default)
        self.secrets.add(value)
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        """A required integer."""
        return self._required(name, default, int, "an integer")

    def number(self, name: str, default: float | None = None) -> float:
        """A required number."""
        return self._required(name, default, float, "a number")

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean written as 1/0, true/false, yes/no."""
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise self._fail(name, "true or false", value)

    def path(self, name: str, default: str | None = None) -> Path:
        """A filesystem path."""
        return Path(self.text(name, default))

    def items(self, name: str, default: str = "") -> list[str]:
        """A comma-separated list, blanks dropped."""
        value = self._raw(name) or default
        return [part.strip() for part in value.split(",") if part.strip()]

    def url(self, name: str, default: str | None = None) -> str:
        """An http(s) base URL, without a trailing slash."""
        value = self.text(name, default)
        if not value.startswith(("http://", "https://")):
            raise self._fail(name, "an http:// or https:// URL", value)
        return value.rstrip("/")

    def urls(self) -> list[str]:
        """Every address the service was given (each ``SOPDRILL_*_URL`` that is set)."""
        return [
            value
            for name, value in self._env.items()
            if name.startswith("SOPDRILL_") and name.endswith("_URL") and value
        ]

    def time_scale(self) -> TimeScale:
        """The SOP time scale (``SOPDRILL_TIME_SCALE``), real time when unset."""
        value = self._raw("SOPDRILL_TIME_SCALE")
        return TimeScale() if value is None else TimeScale.parse(value, "SOPDRILL_TIME_SCALE")

    def bind(self) -> tuple[str, int]:
        """Where to listen: ``SOPDRILL_BIND`` (127.0.0.1) and ``SOPDRILL_PORT`` (required)."""
        return self.text("SOPDRILL_BIND", "127.0.0.1"), self.integer("SOPDRILL_PORT")
