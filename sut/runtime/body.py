"""Reading a request's JSON body with bounds: a hostile body is a 4xx, never a 500 or a stall.

Every write route of the SUT takes JSON. Read naively, a body nested a thousand deep
raises RecursionError (a 500), and a 200 MB body is buffered and parsed before anything
refuses it, stalling the service's other routes meanwhile. Here the size is checked
before reading (Content-Length) and while reading (a chunked body has none), and the
parse turns every failure, recursion included, into one refusal with its HTTP status.

Python's parser also takes what is not JSON (RFC 8259) or not text: ``NaN``, ``Infinity``
and numbers too large for a float, which Starlette's JSONResponse then refuses to write,
and escapes of lone UTF-16 surrogates (``"\\ud800"``), which no UTF-8 answer, log or
journal can hold. Taken in, either became a 500 on whatever route answered with the value
later, a stand-in's sink or the dispatcher's incident list, for good (issue 14's fuzz,
tests/sut/test_fuzz_every_route.py). They are refused here, with the malformed rest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sop import jsonwire
from sop.errors import SopdrillError

#: The largest body any route takes. The biggest real one is an emergency-log upload: a
#: quarterly drill's log is a few hundred KB, so this leaves a wide margin.
MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyRefused(SopdrillError):
    """A request body the service will not take; ``status`` is the HTTP answer (400, 413)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(f"request body: larger than {limit} bytes", 413)


async def read_bytes(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request's raw body; BodyRefused (413) past ``limit``, before or while reading."""
    declared = request.headers.get("content-length", "")
    # isdigit() alone takes "²", on which int() raises; a length of other text is left to
    # the streaming check below (the HTTP server refuses it before we ever see it).
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON; BodyRefused (400) for anything that is not."""
    try:
        return jsonwire.loads(raw)
    except jsonwire.NotJson as exc:
        # Bad JSON, bad UTF-8, NaN, a number past a float64, nesting deeper than the
        # parser goes: one plain reason; a lone surrogate is named (it is valid JSON text).
        surrogate = "surrogate" in str(exc)
        reason = "a lone UTF-16 surrogate is not text" if surrogate else "not valid JSON"
        raise BodyRefused(f"request body: {reason}", 400) from None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object; BodyRefused (400) for any other JSON value or none."""
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BodyRefused(f"request body: expected a JSON object, got {type(data).__name__}", 400)
    return data


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's body parsed as JSON; BodyRefused (413 too large, 400 not JSON)."""
    return parse_json(await read_bytes(request, limit))


async def read_json_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's body as a JSON object; BodyRefused (400) for any other JSON value."""
    return parse_json_object(await read_bytes(request, limit))


__all__ = [
    "MAX_BODY_BYTES",
    "BodyRefused",
    "parse_json",
    "parse_json_object",
    "read_bytes",
    "read_json",
    "read_json_object",
]
