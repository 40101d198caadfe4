"""Reading JSON into the history's frozen dataclasses, field by field, with one-line errors.

sop/history.py maps each field annotation to one of these readers; a reader raises
ValueError saying what it expected, and :func:`read_fields` turns that into an
EvidenceError naming the record and the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import Any, get_args

from sop.errors import EvidenceError

Reader = Callable[[Any], Any]


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {value!r}")
    return dict(value)


def mappings(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of objects, got {value!r}")
    return tuple(mapping(item) for item in value)


def texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(text(item) for item in value)


def one_of(alias: Any) -> Callable[[Any], str]:
    """A reader accepting only the values of the Literal ``alias``."""
    allowed = get_args(alias)

    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {list(allowed)}, got {value!r}")
        return str(value)

    return parse


def optional(parse: Reader) -> Reader:
    """``parse``, or None for a JSON null."""
    return lambda value: None if value is None else parse(value)


def read_fields(cls: type[Any], raw: Any, where: str, readers: Mapping[str, Reader]) -> Any:
    """An instance of the dataclass ``cls`` from its JSON object; EvidenceError names the field."""
    if not isinstance(raw, Mapping):
        raise EvidenceError(f"history: {where}: expected an object, got {raw!r}")
    values: dict[str, Any] = {}
    for column in fields(cls):
        if column.name not in raw:
            if column.default is not MISSING or column.default_factory is not MISSING:
                continue
            raise EvidenceError(f"history: {where}: {column.name}: missing")
        try:
            values[column.name] = readers[str(column.type)](raw[column.name])
        except ValueError as exc:
            raise EvidenceError(f"history: {where}: {column.name}: {exc}") from None
    return cls(**values)
