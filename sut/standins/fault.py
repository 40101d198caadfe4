"""Fault control of a stand-in: which fault is on, for how many requests, and how it answers.

The harness drives it over HTTP (``GET``/``PUT``/``DELETE /_fault``, docs/architecture.md,
"Stand-ins"); a :class:`FaultGuard` applies it to the stand-in's real API routes only, never
to ``/healthz``, ``/_sink`` or ``/_fault`` themselves, so the harness can always see and
revert what it did.

Every duration here is in wall seconds, not SOP time: a stand-in mimics an outside service
(Discord, Ollama) whose clock does not compress, and the harness converts before it asks.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sop.errors import ServiceConfigError
from sut.runtime import get_logger
from sut.runtime.body import BodyRefused, read_json

MODES: Final = ("ok", "rate_limit", "error", "slow", "down")

RATE_LIMIT_STATUS: Final = 429
DOWN_STATUS: Final = 503
DEFAULT_ERROR_STATUS: Final = 500
DEFAULT_RETRY_AFTER_SECONDS: Final = 1.0
DEFAULT_DELAY_SECONDS: Final = 1.0

# Each optional field means something for one mode only; accepting it elsewhere would let a
# harness bug ("status 502 with mode down") pass silently, so it is refused with a reason.
_FIELD_MODE: Final[Mapping[str, str]] = {
    "status": "error",
    "retry_after_seconds": "rate_limit",
    "delay_seconds": "slow",
}
_FIELDS: Final = ("mode", "count", *_FIELD_MODE)

_log = get_logger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
FaultRenderer = Callable[["Fault", Request], Response]


class FaultSpecError(ServiceConfigError):
    """A ``PUT /_fault`` body is invalid; the stand-in answers 400 with this one-line message."""


@dataclass(frozen=True)
class Fault:
    """One fault setting: ``mode`` plus the parameter that mode uses (the others stay None)."""

    mode: str = "ok"
    count: int | None = None
    status: int | None = None
    retry_after_seconds: float | None = None
    delay_seconds: float | None = None

    @property
    def answers_itself(self) -> bool:
        """True when the fault replaces the real answer (rate_limit, error, down)."""
        return self.mode in ("rate_limit", "error", "down")

    @property
    def status_code(self) -> int:
        """The HTTP status a replacing fault answers with (200 for ok and slow)."""
        if self.mode == "rate_limit":
            return RATE_LIMIT_STATUS
        if self.mode == "down":
            return DOWN_STATUS
        if self.mode == "error":
            return self.status if self.status is not None else DEFAULT_ERROR_STATUS
        return 200

    def as_json(self) -> dict[str, Any]:
        """The fault as the JSON object ``GET /_fault`` shows (and ``PUT /_fault`` accepts)."""
        return asdict(self)


def _fail(reason: str) -> FaultSpecError:
    return FaultSpecError(f"PUT /_fault: {reason}")


def _seconds(name: str, value: object) -> float:
    # Python's json module accepts Infinity and NaN, so finiteness is checked here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{name}: expected a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise _fail(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def parse_fault(payload: object) -> Fault:
    """Validate a ``PUT /_fault`` body into a :class:`Fault`, filling the mode's defaults.

    Absent and null fields are the same. Raises :class:`FaultSpecError` naming the field,
    the value and what was expected.
    """
    if not isinstance(payload, dict):
        raise _fail('body must be a JSON object, e.g. {"mode": "rate_limit", "count": 3}')
    unknown = sorted(str(key) for key in payload if key not in _FIELDS)
    if unknown:
        raise _fail(f"unknown field {unknown[0]!r}; expected {', '.join(_FIELDS)}")
    mode = payload.get("mode")
    if mode not in MODES:
        raise _fail(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    for field, owner in _FIELD_MODE.items():
        if payload.get(field) is not None and mode != owner:
            raise _fail(f"{field} applies to mode {owner!r} only, got mode {mode!r}")

    count = payload.get("count")
    if count is not None:
        if mode == "ok":
            raise _fail("count does not apply to mode 'ok'")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _fail(f"count: expected a whole number >= 1, got {count!r}")

    status = retry_after = delay = None
    if mode == "error":
        status = payload.get("status", DEFAULT_ERROR_STATUS)
        if status is None:
            status = DEFAULT_ERROR_STATUS
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise _fail(f"status: expected an HTTP error status 400-599, got {status!r}")
    elif mode == "rate_limit":
        raw = payload.get("retry_after_seconds")
        retry_after = (
            DEFAULT_RETRY_AFTER_SECONDS if raw is None else _seconds("retry_after_seconds", raw)
        )
    elif mode == "slow":
        raw = payload.get("delay_seconds")
        delay = DEFAULT_DELAY_SECONDS if raw is None else _seconds("delay_seconds", raw)
    return Fault(mode, count, status, retry_after, delay)


class FaultState:
    """The fault currently on, deciding per API request whether it applies.

    A fault with a ``count`` applies to that many requests and then reverts to ok by itself.
    Safe to share between the event loop and a thread that drives it directly.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault = Fault()
        self._remaining: int | None = None

    def set(self, fault: Fault) -> None:
        """Turn ``fault`` on, replacing whatever was on."""
        with self._lock:
            self._fault = fault
            self._remaining = fault.count

    def clear(self) -> None:
        """Back to ok."""
        self.set(Fault())

    def take(self) -> Fault:
        """The fault that applies to one API request now, counting it against ``count``."""
        with self._lock:
            fault = self._fault
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault, self._remaining = Fault(), None
            return fault

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_fault`` answers: the fault and how many requests it still applies to."""
        with self._lock:
            return {**self._fault.as_json(), "remaining": self._remaining}


def render_error_json(fault: Fault, request: Request) -> Response:
    """A replacing fault as ``{"error": ...}``, the error shape Ollama and signal-cli share."""
    headers: dict[str, str] = {}
    if fault.mode == "rate_limit":
        seconds = fault.retry_after_seconds or 0.0
        message = f"Rate Limit Exceeded: too many requests, retry after {seconds:g} s"
        headers["Retry-After"] = str(math.ceil(seconds))
    elif fault.mode == "down":
        message = "service unavailable"
    else:
        message = f"stand-in fault: injected error {fault.status_code}"
    return JSONResponse({"error": message}, status_code=fault.status_code, headers=headers)


class FaultGuard:
    """Wraps a real API endpoint so that the current fault applies to it before it runs."""

    def __init__(self, state: FaultState, render: FaultRenderer = render_error_json) -> None:
        self.state = state
        self.render = render

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` behind the fault state: answered by the fault, delayed, or untouched."""

        async def guarded(request: Request) -> Response:
            fault = self.state.take()
            if fault.mode == "slow" and fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            elif fault.answers_itself:
                _log.info(
                    "fault answered",
                    extra={"fields": {"mode": fault.mode, "path": request.url.path}},
                )
                return self.render(fault, request)
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "endpoint")
        return guarded


def fault_routes(state: FaultState) -> list[Route]:
    """``GET``/``PUT``/``DELETE /_fault`` over ``state``."""

    async def show(request: Request) -> Response:
        return JSONResponse(state.snapshot())

    async def put(request: Request) -> Response:
        try:
            fault = parse_fault(await read_json(request))
        except BodyRefused as exc:
            return JSONResponse({"error": f"PUT /_fault: {exc}"}, status_code=exc.status)
        except FaultSpecError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        state.set(fault)
        _log.info("fault set", extra={"fields": fault.as_json()})
        return JSONResponse(state.snapshot())

    async def clear(request: Request) -> Response:
        state.clear()
        _log.info("fault cleared")
        return JSONResponse(state.snapshot())

    return [
        Route("/_fault", show, methods=["GET"]),
        Route("/_fault", put, methods=["PUT"]),
        Route("/_fault", clear, methods=["DELETE"]),
    ]
