"""A signal-cli-rest-api subset: ``POST /v2/send`` and ``GET /v1/about``.

``/v2/send`` takes ``{"message", "number", "recipients": [...]}`` and answers 201
``{"timestamp": "<ms since the epoch, as a string>"}``, the way bbernhard/signal-cli-rest-api
does; every refusal is 400 ``{"error": ...}`` with that project's wording where it has one
(a body past the size limit of docs/security.md: 413). ``number`` must be the account
registered here. The sink records each message sent.

Environment: ``SOPDRILL_SIGNAL_NUMBER`` (the registered sender, E.164 such as
``+15550100001``), and those of every service.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sop.errors import ServiceConfigError
from sut.runtime import Settings, get_logger
from sut.standins.app import NotAJsonObject, guarded_app, read_json_object, run
from sut.standins.sink import STATE_ENV, Sink, state_file

SERVICE: Final = "signal"
API_VERSION: Final = "0.92"  # the signal-cli-rest-api release whose /v2/send this follows
_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")

_log = get_logger(f"sut.standins.{SERVICE}")  # stable when run as __main__


def _refuse(reason: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": f"Couldn't process request - {reason}"}, status_code=status)


class Timestamps:
    """Message timestamps in epoch milliseconds, strictly increasing like Signal's message ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        """A fresh timestamp, later than every one before it."""
        with self._lock:
            self._last = max(int(time.time() * 1000), self._last + 1)
            return self._last


class SignalStandIn:
    """The request handlers, over the registered number and the sink."""

    def __init__(self, number: str, sink: Sink) -> None:
        self.number = number
        self.sink = sink
        self.timestamps = Timestamps()

    async def about(self, request: Request) -> Response:
        """``GET /v1/about``: API versions, build, mode, version and capabilities."""
        return JSONResponse(
            {
                "versions": ["v1", "v2"],
                "build": 2,
                "mode": "normal",
                "version": API_VERSION,
                "capabilities": {"v2/send": ["quotes", "mentions"]},
            }
        )

    async def send(self, request: Request) -> Response:
        """``POST /v2/send``: send ``message`` from ``number`` to ``recipients``."""
        try:
            body = await read_json_object(request)
        except NotAJsonObject as exc:
            return _refuse(
                "request too large" if exc.status == 413 else "invalid request", exc.status
            )
        refusal = self._check(body)
        if refusal is not None:
            return refusal
        timestamp = str(self.timestamps.next())
        self.sink.record(
            request.method,
            request.url.path,
            body,
            number=body["number"],
            recipients=list(body["recipients"]),
            message=body["message"],
            timestamp=timestamp,
        )
        _log.info(
            "message sent",
            extra={"fields": {"recipients": len(body["recipients"]), "timestamp": timestamp}},
        )
        return JSONResponse({"timestamp": timestamp}, status_code=201)

    def _check(self, body: dict[str, Any]) -> JSONResponse | None:
        recipients = body.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            return _refuse("please provide at least one recipient")
        if not all(isinstance(r, str) and r for r in recipients):
            return _refuse("recipients must be non-empty strings")
        number = body.get("number")
        if not isinstance(number, str) or not number:
            return _refuse("please provide a valid number")
        message = body.get("message")
        if not isinstance(message, str) or not message:
            return _refuse("please provide a message")
        if number != self.number:
            # signal-cli's own wording when the account is not set up on this host.
            return JSONResponse({"error": f"User {number} is not registered."}, status_code=400)
        return None


def create_app(settings: Settings) -> Starlette:
    """The signal-cli-rest-api stand-in configured from ``settings``."""
    number = settings.text("SOPDRILL_SIGNAL_NUMBER")
    if not _E164.match(number):
        raise ServiceConfigError(
            f"{SERVICE}: SOPDRILL_SIGNAL_NUMBER: expected an E.164 number such as "
            f"+15550100001, got {number!r}"
        )
    state = settings.optional(STATE_ENV)
    standin = SignalStandIn(number, Sink(journal=state_file(state, "signal-sink.jsonl")))
    api = [("GET", "/v1/about", standin.about), ("POST", "/v2/send", standin.send)]
    return guarded_app(api, standin.sink)


def main() -> None:
    """``python -m sut.standins.signal``: serve on ``SOPDRILL_BIND:SOPDRILL_PORT``."""
    run(SERVICE, create_app)


if __name__ == "__main__":
    main()
