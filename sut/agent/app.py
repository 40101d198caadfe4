"""The agent's HTTP API (DESIGN.md): inbox, state, actions, health and metrics.

The service answers in values (sut/agent/inbox.py, the gate's Decision); the status codes
are chosen here and only here: a verdict of the gate is 200 or 403 (for a local request and
a task alike), a task naming no usable action 400, a rejected envelope 401 (forged), 409
(replayed or stale) or 400, a heartbeat taken 202, and the inbox of an agent failing closed
on an invalid policy 503. ``/healthz`` is 503 while failing closed, once a detection loop
has stopped (sut/agent/liveness.py) or while its risk controls are failed
(sut/agent/riskcontrols.py), 200 otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sut.agent.failclosed import FailClosed
from sut.agent.gate import ActionRequest, Decision
from sut.agent.inbox import MALFORMED_TASK, InboxAnswer, Rejected
from sut.agent.metrics import CONTENT_TYPE
from sut.agent.resume import Resume
from sut.agent.service import AgentService
from sut.runtime.body import BodyRefused, read_json

#: A rejected envelope by the wire's tag; any other tag (``malformed``...) is a 400.
_REJECTED_STATUS = {"bad_signature": 401, "replay": 409, "stale": 409}


async def _json_body(request: Request) -> tuple[Any, JSONResponse | None]:
    try:
        return await read_json(request), None
    except BodyRefused as exc:
        # A bad or oversized body is a 400 or 413, never a 500 (sut/runtime/body.py).
        return None, JSONResponse({"error": str(exc)}, status_code=exc.status)


def _decision_response(decision: Decision, result: dict[str, Any] | None) -> JSONResponse:
    """The gate's verdict and what came of it: 200 when allowed, 403 with the reason when not."""
    return JSONResponse(
        {**decision.to_log(), "result": result}, status_code=200 if decision.allowed else 403
    )


def _inbox_response(answer: InboxAnswer | FailClosed) -> JSONResponse:
    """``POST /v1/inbox``'s answer to what the service made of an envelope."""
    if isinstance(answer, FailClosed):
        return JSONResponse({"error": answer.inbox_refusal}, status_code=503)
    if isinstance(answer, Rejected):
        status = _REJECTED_STATUS.get(answer.kind, 400)
        return JSONResponse({"error": answer.reason, "reason": answer.kind}, status_code=status)
    if answer.kind == "heartbeat":
        return JSONResponse({"accepted": True, "mode": answer.mode}, status_code=202)
    if answer.decision is None:
        return JSONResponse({"error": MALFORMED_TASK}, status_code=400)
    return _decision_response(answer.decision, answer.result)


def create_app(service: AgentService) -> Starlette:
    """The Starlette app over one AgentService; the service's loops run in its lifespan."""

    # A restarted agent resumes the OFFLINE its emergency log holds (sut/agent/resume.py).
    resume = Resume(service)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        resume.apply()  # before the loops start: the first tick already sees the latch
        await service.start()
        resume.start()
        try:
            yield
        finally:
            await resume.stop()
            await service.stop()

    async def inbox(request: Request) -> Response:
        data, error = await _json_body(request)
        if error is not None:
            return error
        return _inbox_response(await service.receive(data))

    async def state(_: Request) -> Response:
        return JSONResponse(service.state_view())

    async def list_actions(_: Request) -> Response:
        return JSONResponse(service.decisions)

    async def request_action(request: Request) -> Response:
        data, error = await _json_body(request)
        if error is not None:
            return error
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data.get(k) for k in ("action", "target")
        ):
            return JSONResponse({"error": "expected {action, target, params?, requested_by?}"}, 400)
        params = data.get("params", {})
        if not isinstance(params, dict):
            return JSONResponse({"error": "params: expected an object"}, status_code=400)
        who = str(data.get("requested_by") or "anonymous")
        decision, result = await service.act(
            ActionRequest(data["action"], data["target"], params, f"local:{who}")
        )
        return _decision_response(decision, result)

    async def healthz(_: Request) -> Response:
        if service.closed is not None:
            # Alive but unable to do its job: a health check must not call that ok.
            return JSONResponse(service.closed.health_view(), status_code=503)
        stopped = service.loops.stopped
        if stopped is not None:
            # A detection loop ended: alive, but blind to an outage it should detect or act on.
            return JSONResponse(stopped.health_view(service.mode), status_code=503)
        failed = service.risk.failed
        if failed is not None:
            # Risk controls failed (gate4 guardrail 3): watching, but every action blocked.
            return JSONResponse(failed.health_view(service.mode), status_code=503)
        return JSONResponse({"status": "ok", "mode": service.mode})

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(service.metrics_text(), media_type=CONTENT_TYPE)

    async def notifications(_: Request) -> Response:
        return JSONResponse(service.notifications)

    async def incidents(_: Request) -> Response:
        return JSONResponse(service.incidents)

    return Starlette(
        routes=[
            Route("/v1/inbox", inbox, methods=["POST"]),
            Route("/v1/state", state, methods=["GET"]),
            Route("/v1/actions", list_actions, methods=["GET"]),
            Route("/v1/actions", request_action, methods=["POST"]),
            Route("/v1/notifications", notifications, methods=["GET"]),
            Route("/v1/incidents", incidents, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
