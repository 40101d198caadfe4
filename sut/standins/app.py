"""Assembling and starting a stand-in: its real API routes plus the routes every stand-in shares.

Shared: ``GET /healthz``, the recording inbox (``/_sink/messages``) and fault control
(``/_fault``). ``run`` is the body of each stand-in's ``main()``: read the environment,
build the app, log JSON lines with the secrets redacted, serve on ``SOPDRILL_BIND:SOPDRILL_PORT``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sop.errors import SopdrillError
from sut.runtime import Settings, configure_logging, get_logger
from sut.runtime.body import BodyRefused
from sut.runtime.body import read_json_object as read_bounded_object
from sut.runtime.serve import serve
from sut.standins.fault import (
    Endpoint,
    FaultGuard,
    FaultRenderer,
    FaultState,
    fault_routes,
    render_error_json,
)
from sut.standins.sink import Sink, sink_routes

_log = get_logger(__name__)


class NotAJsonObject(SopdrillError, ValueError):
    """A request body that is not a JSON object; each stand-in answers it in its API's shape.

    ``status`` is 413 for a body past the size limit (docs/security.md), else 400.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`NotAJsonObject` (bad, deep or too big)."""
    try:
        return await read_bounded_object(request)
    except BodyRefused as exc:
        raise NotAJsonObject(str(exc), exc.status) from None


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_app(api_routes: Sequence[BaseRoute], sink: Sink, faults: FaultState) -> Starlette:
    """A Starlette app serving ``api_routes`` beside ``/healthz``, ``/_sink`` and ``/_fault``.

    ``sink`` and ``faults`` are also on ``app.state`` for scripts that embed the app.
    """
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        *sink_routes(sink),
        *fault_routes(faults),
        *api_routes,
    ]
    app = Starlette(routes=routes)
    app.state.sink = sink
    app.state.faults = faults
    return app


#: One route of a stand-in's real API: method, path, endpoint.
ApiRoute = tuple[str, str, Endpoint]


#: A route outside the API's subset (404) or a method it lacks (405), in the API's own
#: error shape: request, status, the router's headers (``Allow`` for a 405).
RouteErrorRenderer = Callable[[Request, int, Mapping[str, str] | None], Response]


def guarded_app(
    api: Sequence[ApiRoute],
    sink: Sink,
    render: FaultRenderer = render_error_json,
    route_error: RouteErrorRenderer | None = None,
) -> Starlette:
    """:func:`build_app` with every route of ``api`` behind one fresh fault state.

    ``render`` answers a fault in the API's own error shape (a JSON ``error`` by default);
    ``route_error``, when given, the router's 404 and 405 under ``/api/`` (Starlette's
    plain text elsewhere).
    """
    faults = FaultState()
    guard = FaultGuard(faults, render)
    routes = [Route(path, guard(endpoint), methods=[method]) for method, path, endpoint in api]
    app = build_app(routes, sink, faults)
    if route_error is not None:
        answer = route_error

        async def _route_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            if not request.url.path.startswith("/api/"):
                return PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
            return answer(request, exc.status_code, exc.headers)

        for status in (404, 405):
            app.add_exception_handler(status, _route_error)
    return app


def run(service: str, create_app: Callable[[Settings], Starlette]) -> None:
    """Start the stand-in ``service`` from the environment; a bad setting exits 2 with one line."""
    settings = Settings(service)
    try:
        app = create_app(settings)
        host, port = settings.bind()
        # Read only to refuse a bad value like every other service does: a stand-in's own
        # durations are wall seconds, because the outside service it mimics runs in real time.
        scale = settings.time_scale()
    except SopdrillError as exc:
        # A person reads this in supervisord's log: one line that names the variable, no traceback.
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(service, settings.secrets)
    fields = {"host": host, "port": port, "time_scale": scale.factor}
    _log.info("starting", extra={"fields": fields})
    serve(app, host, port)
