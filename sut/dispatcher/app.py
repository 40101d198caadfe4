"""The dispatcher's HTTP API (Starlette) and the lifespan that runs its heartbeat loop.

Routes (docs/architecture.md "Dispatcher"): health and status, agent registration,
task assignment, incident intake, emergency-log upload and the integrity check, and
Prometheus metrics. A refused request is answered ``{"error": "<one line>"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sop.errors import WireError
from sop.logupload import MAX_EPOCH, UploadHeader
from sut.dispatcher.auth import WriteGate
from sut.dispatcher.config import TASK_TIMEOUT_S, DispatcherConfig
from sut.dispatcher.errors import LogConflict, RequestRejected
from sut.dispatcher.father_messages import FatherMessenger
from sut.dispatcher.heartbeats import HeartbeatLoop
from sut.dispatcher.inbox import Outbox
from sut.dispatcher.incidents import IncidentBook
from sut.dispatcher.integrity import IntegrityChecks, check_epochs
from sut.dispatcher.journal import Journal
from sut.dispatcher.logstore import LogStore, check_entries
from sut.dispatcher.metrics import Metrics
from sut.dispatcher.provider import RATE_LIMITED, ProviderClient
from sut.dispatcher.registry import Agent, AgentRegistry, check_agent_name
from sut.dispatcher.signer import EnvelopeSigner
from sut.dispatcher.silences import agent_silences
from sut.dispatcher.tasks import TaskBook, TaskRequest
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.dispatcher")

#: SOP 2B: what the dispatcher says while its model provider rate-limits it.
RATE_LIMIT_ERROR = "Rate Limit Exceeded"
#: The text exposition format Prometheus scrapes.
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRejected)
    return _error(str(exc), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(f"{request.method} {request.url.path}: {exc.detail}", exc.status_code)


def _epoch_query(text: str | None) -> int | None:
    """The ``epoch`` query parameter as an epoch; RequestRejected(422) for anything else."""
    if text is None:
        return None
    # ASCII digits only, and few: "²".isdigit() is true and int() raises on it, and so it
    # does past 4300 digits (both were a 500, issue 14's fuzz).
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_EPOCH))
    if not digits or int(text) > MAX_EPOCH:
        raise RequestRejected(f"epoch: expected an integer from 0 to 2**63 - 1, got {text!r}")
    return int(text)


class Dispatcher:
    """The dispatcher's parts, wired from one config; its methods are the HTTP handlers."""

    def __init__(self, config: DispatcherConfig) -> None:
        self.config = config
        state = config.state_dir
        self.metrics = Metrics()
        self.registry = AgentRegistry(state / "agents.json", config.agents)
        self.outbox = Outbox(EnvelopeSigner(config.hmac_key, config.dispatcher_id))
        self.gate = WriteGate(config)
        self.provider = ProviderClient(
            config.provider_url, config.provider_model, config.provider_timeout_s
        )
        self.heartbeats = HeartbeatLoop(
            self.registry,
            self.outbox,
            self.provider,
            self.metrics,
            config.heartbeat_interval_s,
            config.inbox_timeout_s,
            agent_silences(
                state,
                config.policy,
                config.time_scale,
                lambda: [agent.name for agent in self.registry.all()],
            ),
            father=_father(config),
        )
        self.logs = LogStore(state / "emergency-logs")
        self.incidents = IncidentBook(Journal(state / "incidents.jsonl"))
        self.tasks = TaskBook(Journal(state / "tasks.jsonl"))
        self.checks = IntegrityChecks(Journal(state / "integrity-checks.jsonl"))
        self._client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Run the heartbeat loop for as long as the app serves; cancel it on shutdown."""
        # trust_env=False: an HTTP(S)_PROXY in the environment must never reroute
        # heartbeats or provider calls away from the addresses we were given.
        async with httpx.AsyncClient(trust_env=False) as client:
            self._client = client
            beating = asyncio.create_task(self.heartbeats.run(client), name="heartbeats")
            try:
                yield
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
                self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("dispatcher: the HTTP client exists only while the app runs")
        return self._client

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def status(self, request: Request) -> Response:
        provider = self.heartbeats.provider_status
        if provider == RATE_LIMITED:
            # SOP 2B: the dispatcher itself reports 429 / "Rate Limit Exceeded".
            return _error(RATE_LIMIT_ERROR, 429)
        return JSONResponse({"status": "ok", "provider": provider, "agents": len(self.registry)})

    async def register_agent(self, request: Request) -> Response:
        _, data = await self.gate.read(request, operator=True, agent=True)
        agent = self.registry.register(Agent.parse(data.get("name"), data.get("url")))
        log.info("agent registered", extra={"fields": agent.as_json()})
        return JSONResponse(agent.as_json(), status_code=201)

    async def list_agents(self, request: Request) -> Response:
        silences = self.heartbeats.silences
        return JSONResponse(
            {
                "agents": [
                    {**a.as_json(), **(silences.view(a.name) if silences is not None else {})}
                    for a in self.registry.all()
                ]
            }
        )

    async def assign_task(self, request: Request) -> Response:
        _, data = await self.gate.read(request, operator=True)
        task = TaskRequest.parse(data)
        agent = self.registry.get(task.agent)
        if agent is None:
            raise RequestRejected(
                f"agent: no agent named {task.agent!r} is registered; POST /v1/agents first", 404
            )
        delivery = await self.outbox.send(self.client, agent, "task", task.body(), TASK_TIMEOUT_S)
        self.metrics.tasks[delivery.outcome] += 1
        record = self.tasks.record(task, delivery)
        log.info(
            "task sent",
            extra={
                "fields": {
                    "task_id": task.task_id,
                    "agent": agent.name,
                    "action": task.action,
                    "outcome": delivery.outcome,
                    "agent_status": delivery.status,
                }
            },
        )
        return JSONResponse(record)

    async def list_tasks(self, request: Request) -> Response:
        return JSONResponse({"tasks": self.tasks.all()})

    async def report_incident(self, request: Request) -> Response:
        _, data = await self.gate.read(request, agent=True)
        incident = self.incidents.record(data)
        self.metrics.incidents += 1
        log.warning(
            "incident received",
            extra={
                "fields": {
                    "id": incident["id"],
                    "agent": incident["agent"],
                    "severity": incident["severity"],
                    "category": incident["category"],
                }
            },
        )
        return JSONResponse({"id": incident["id"]}, status_code=201)

    async def list_incidents(self, request: Request) -> Response:
        return JSONResponse({"incidents": self.incidents.all()})

    async def upload_log(self, request: Request) -> Response:
        _, data = await self.gate.read(request, agent=True)
        agent = check_agent_name(data.get("agent"))
        entries = check_entries(data.get("entries"))
        try:
            header = UploadHeader.from_json(data)
        except WireError as exc:
            raise RequestRejected(str(exc)) from exc
        try:
            merge = self.logs.merge(agent, entries, header.epoch, header.seal)
        except LogConflict:
            self.metrics.upload_conflicts += 1
            raise
        self.metrics.uploads += 1
        self.metrics.uploaded_entries_stored += merge.stored
        self.metrics.upload_conflicts += len(merge.conflicts)
        answer = {
            "agent": agent,
            "epoch": merge.epoch,
            "acknowledged_through": merge.acknowledged_through,
            "received": merge.received,
            "stored": merge.stored,
            "conflicts": list(merge.conflicts),
        }
        log.info("emergency log uploaded", extra={"fields": answer})
        return JSONResponse(answer)

    async def read_log(self, request: Request) -> Response:
        agent = check_agent_name(request.path_params["agent"])
        wanted = _epoch_query(request.query_params.get("epoch"))
        epochs = self.logs.epochs(agent)
        epoch = self.logs.latest_epoch(agent) if wanted is None else wanted
        held = epochs.get(epoch)
        return JSONResponse(
            {
                "agent": agent,
                "epoch": epoch,
                "entries": [] if held is None else held.ordered(),
                "conflicts": [] if held is None else held.conflicts,
                "epochs": [
                    {
                        "epoch": number,
                        "entries": len(each.entries),
                        "sealed": None if each.seal is None else each.seal.as_json(),
                        "conflicts": len(each.conflicts),
                    }
                    for number, each in epochs.items()
                ],
            }
        )

    async def integrity_check(self, request: Request) -> Response:
        _, data = await self.gate.read(request, operator=True, agent=True)
        agent = check_agent_name(data.get("agent"))
        report = check_epochs(agent, self.logs.epochs(agent))
        self.checks.record(report)
        self.metrics.integrity_checks[report.status] += 1
        log.info("integrity check", extra={"fields": report.as_json()})
        return JSONResponse(report.as_json())

    async def list_integrity_checks(self, request: Request) -> Response:
        return JSONResponse({"checks": self.checks.all()})

    async def metrics_text(self, request: Request) -> Response:
        return PlainTextResponse(
            self.metrics.render(len(self.registry)), media_type=PROMETHEUS_CONTENT_TYPE
        )

    def routes(self) -> list[Route]:
        """Every route of the API."""
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/v1/status", self.status, methods=["GET"]),
            Route("/v1/agents", self.register_agent, methods=["POST"]),
            Route("/v1/agents", self.list_agents, methods=["GET"]),
            Route("/v1/tasks", self.assign_task, methods=["POST"]),
            Route("/v1/tasks", self.list_tasks, methods=["GET"]),
            Route("/v1/incidents", self.report_incident, methods=["POST"]),
            Route("/v1/incidents", self.list_incidents, methods=["GET"]),
            Route("/v1/emergency-log", self.upload_log, methods=["POST"]),
            Route("/v1/emergency-log/{agent}", self.read_log, methods=["GET"]),
            Route("/v1/integrity-check", self.integrity_check, methods=["POST"]),
            Route("/v1/integrity-checks", self.list_integrity_checks, methods=["GET"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]


def _father(config: DispatcherConfig) -> FatherMessenger | None:
    """Scenario 4 STEP 3's messenger, after as many missed heartbeats as SOP 2A.2 counts."""
    if config.child_repos is None:
        return None
    misses = config.policy.scenario_a.api_failures
    return FatherMessenger(config.child_repos, config.dispatcher_id, misses, config.inbox_timeout_s)


def create_app(config: DispatcherConfig) -> Starlette:
    """The dispatcher as an ASGI app; serving it (with lifespan) starts the heartbeats."""
    dispatcher = Dispatcher(config)
    app = Starlette(
        routes=dispatcher.routes(),
        lifespan=dispatcher.lifespan,
        exception_handlers={RequestRejected: _rejected, HTTPException: _http_error},
    )
    app.state.dispatcher = dispatcher
    return app
