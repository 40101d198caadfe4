"""What counts as JSON on the wire: RFC 8259 text that every surface can write back.

One reading for every HTTP surface (the SUT's services, the stand-ins, the harness's
embedded proxy): Python's parser also takes NaN, Infinity, numbers past a float64 and
lone UTF-16 surrogates, which no JSON writer can send back (a 500 later, on the read
that meets them), and it recurses, so deep nesting escapes as a RecursionError. Each
becomes a ``NotJson`` here with the reason, in the words Go's decoder uses where it has
them (the proxy stands in for a Go service).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

#: Half of a UTF-16 surrogate pair: never a character on its own.
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotJson(ValueError):
    """The bytes are not JSON a peer could have sent; ``str()`` is the reason."""


def _constant(word: str) -> Any:
    raise NotJson(f"invalid character {word[0]!r} looking for beginning of value")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise NotJson(f"cannot unmarshal number {text[:20]} into a float64")
    return number


def strings(value: Any) -> Iterator[str]:
    """Every string of a parsed JSON value, the keys included; no recursion, any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(raw: bytes | str) -> Any:
    """``raw`` parsed as wire JSON; ``NotJson`` naming why it is not."""
    try:
        value = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except NotJson:
        raise
    except ValueError as exc:  # bad JSON, bad UTF-8, integers past the digit limit
        raise NotJson(str(exc)) from None
    if any(_SURROGATE.search(text) for text in strings(value)):
        raise NotJson("a lone UTF-16 surrogate is not text")
    return value


__all__ = ["NotJson", "loads", "strings"]
