"""The Ops-Expert agent as a running service: loops that feed the detector and act on its verdicts.

The decisions live in pure modules (detector, gate, remediation.plan, inbox); the talking in
their own rooms (notifier, resync, incidents, metrics, the incident desk). This module wires
them and runs the loops: it probes the Dispatcher, takes the inbox, ticks the detector, alerts
on OFFLINE (SOP 3), remediates while offline (SOP 4), re-syncs on recovery (SOP 5) and tells
the channels it alerted that the episode is closed. Without a valid policy it fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import httpx

from sop.observations import ApiProbe, Heartbeat, Mode, Observation, ProcessCheck, RateLimitReport
from sop.wire import ReplayGuard
from sut.agent.clock import SopClock
from sut.agent.config import AgentConfig
from sut.agent.detector import Detector, Transition
from sut.agent.emlog import EmergencyLog, EmergencyLogError
from sut.agent.facts import FactGatherer
from sut.agent.failclosed import FailClosed
from sut.agent.gate import ActionGate, ActionRequest, Decision, HostFacts
from sut.agent.host_tools import host_tools
from sut.agent.inbox import InboxAnswer, InboxVerifier, Rejected, Taken, task_request
from sut.agent.incident_desk import IncidentDesk
from sut.agent.integrity import DataIntegrity
from sut.agent.liveness import Loops
from sut.agent.metrics import AgentMetrics
from sut.agent.notifier import Notifier
from sut.agent.remediation import Executor, plan
from sut.agent.resolution import Episode, close
from sut.agent.resync import Resync
from sut.agent.resync_watch import ResyncWatch
from sut.agent.riskcontrols import RiskControls
from sut.agent.views import state_view
from sut.agent.watch import check_process, probe_api
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.agent")

_START_MINUTE = 0.0  # the detector starts "online": until the first probe it has seen nothing


class AgentService:
    """Owns the agent's state and its background loops; the HTTP app is a thin view of it."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.clock = SopClock(config.scale)
        self.policy = config.policy
        self.log = EmergencyLog(config.emergency_log)
        self.gate = ActionGate(config.policy, config.policy_error)
        self.metrics = AgentMetrics()
        self.closed = FailClosed(config.policy_error) if config.policy is None else None
        self.detector: Detector | None = None
        self.guard: ReplayGuard | None = None
        self.inbox: InboxVerifier | None = None
        self.risk = RiskControls(config.policy_path, config.policy.digest if config.policy else "")
        if config.policy is not None:
            self.detector = Detector(
                config.policy, co_located=config.co_located, start=_START_MINUTE
            )
            self.guard = ReplayGuard(
                config.policy.deployment.max_envelope_age_minutes, config.scale
            )
            self.inbox = InboxVerifier(config.hmac_key, self.guard)
        self.decisions: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The detection loops: ``/healthz`` is degraded once one of them has ended.
        self.loops = Loops()
        #: The OFFLINE episode in force (or to come): the channels its alerts went out on.
        self.episode = Episode()
        self._resync: Resync | None = None
        self._resync_task: asyncio.Task[Any] | None = None
        self._refused_once: set[tuple[str, str, str]] = set()
        self._acting = asyncio.Lock()  # one action decided, done and logged: SOP 5.1 waits
        self._client: httpx.AsyncClient | None = None
        self._facts: FactGatherer | None = None
        self._executor: Executor | None = None
        self._notifier: Notifier | None = None
        #: Its incidents, escalations and Gitea issues (None until started, or failing closed).
        self.desk: IncidentDesk | None = None

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def client(self) -> httpx.AsyncClient:
        """The shared HTTP client (created on start)."""
        if self._client is None:
            raise RuntimeError("agent service not started")
        return self._client

    async def start(self) -> None:
        """Open the client, build the collaborators and start the loops."""
        self._client = httpx.AsyncClient(verify=self.config.tls_verify)
        cfg = self.config
        self._facts, self._executor = host_tools(
            cfg, self._client, self._probe_timeout_s(), self._wall
        )
        if self.closed is not None:
            self.closed.announce(self._record)
            return
        assert self.policy is not None  # a policy or fail closed: one of the two, always
        # One notifier for the agent's life: it caches the Discord DM channel id.
        self._notifier = Notifier(
            self.policy, cfg.channels, self.log, cfg.hostname, client=self._client
        )
        self.desk = desk = IncidentDesk(
            policy=self.policy,
            agent=cfg.name,
            host=cfg.hostname,
            dispatcher_url=cfg.dispatcher_url,
            timeout_s=self._probe_timeout_s(),
            key=cfg.hmac_key,
            notifier=self._notifier,
            record=self._record,
            count=self.metrics.count,
            decisions=self.decisions,
            notifications=self.notifications,
            wall=self._wall,
            risk=self.risk,
            integrity=DataIntegrity(cfg.protected_dirs),
            gitea=cfg.incidents_repo,
            spawn=self._spawn,
            father=cfg.father,
        )
        self._resync = Resync(
            self._client,
            cfg.dispatcher_url,
            cfg.name,
            self.log,
            retry_s=self._wall(self.policy.deployment.upload_retry_interval_minutes),
            timeout_s=self._probe_timeout_s(),
            sleep=asyncio.sleep,
            agent_url=cfg.url,
            key=cfg.hmac_key,
            watch=ResyncWatch(  # a refusal past the RTO escalated beside it, never holding it up
                self.policy.rto.agent_operations_minutes,
                self.clock,
                lambda refused: self._spawn(desk.escalate_refusal(self.client, refused)),
            ),
        )
        self._spawn(self._resync.register())
        self._spawn(self._probe_loop(), loop="probe_loop")
        self._spawn(self._tick_loop(), loop="tick_loop")
        self._spawn(self._remediation_loop(), loop="remediation_loop")

    async def stop(self) -> None:
        """Cancel every loop and close the client."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, Any], loop: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; ``loop`` names a detection loop, watched for its end."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        if loop is not None:
            self.loops.watch(loop, task)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # ---- SOP time and the emergency log -------------------------------------------------
    def _wall(self, minutes: float) -> float:
        return self.clock.wall_seconds(minutes)

    def _probe_timeout_s(self) -> float:
        return self._wall(self.policy.deployment.api_probe_timeout_minutes) if self.policy else 5.0

    def _record(self, kind: str, **fields: Any) -> None:
        """Append to the emergency log; a full disk keeps the entry pending (nothing lost)."""
        try:
            self.log.append(kind, **fields)
        except EmergencyLogError as exc:
            self.metrics.count("emergency_log_unwritable")
            log.warning(
                "emergency log unwritable; entry kept pending",
                extra={"fields": {"kind": kind, "error": str(exc)}},
            )

    @property
    def mode(self) -> Mode:
        """The detector's mode (``online`` when failing closed without a policy)."""
        return self.detector.state.mode if self.detector else FailClosed.mode

    @property
    def incidents(self) -> list[dict[str, Any]]:
        """The distress signals the dispatcher received, oldest first."""
        return self.desk.reporter.sent if self.desk is not None else []

    # ---- the detector ------------------------------------------------------------------
    def _observe(self, observation: Observation) -> None:
        if self.detector is not None:
            self._handle(self.detector.observe(observation))

    def _handle(self, transition: Transition | None) -> None:
        if transition is None:
            return
        self.metrics.count(f"transition_{transition.to_mode}")
        fields = {
            "from": transition.from_mode,
            "to": transition.to_mode,
            "trigger": transition.trigger,
            "reason": transition.reason,
            "sop_minute": round(transition.at, 4),
        }
        log.info("mode changed", extra={"fields": fields})
        emergency = {"offline", "recovering"}
        if transition.to_mode in emergency or transition.from_mode in emergency:
            self._record(
                "state",
                mode=transition.to_mode,
                from_mode=transition.from_mode,
                trigger=transition.trigger,
                reason=transition.reason,
            )
        if transition.to_mode == "offline":
            if self._resync_task is not None:
                self._resync_task.cancel()
                self._resync_task = None
            # SOP 3: every confirmation of OFFLINE is told, a relapse from a stalled re-sync
            # too: the dispatcher was silent for a whole new window and 0x01 heard nothing
            # of it (CI's generated schedules: a host killed again during the re-sync).
            self._refused_once.clear()
            self.episode.sending(self._spawn(self._alert(transition, self.episode)))
        elif transition.to_mode == "recovering":
            self._resync_task = self._spawn(self._resync_now())

    async def _tick_loop(self) -> None:
        assert self.detector is not None
        assert self.policy is not None
        interval = self._wall(self.policy.deployment.detector_tick_minutes)
        while True:
            self._handle(self.detector.tick(self.clock.now()))
            await asyncio.sleep(interval)

    async def _probe_loop(self) -> None:
        assert self.policy is not None
        interval = self._wall(self.policy.scenario_a.api_probe_interval_minutes)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            began = loop.time()
            outcome = await probe_api(
                self.client, self.config.dispatcher_url, self._probe_timeout_s()
            )
            if outcome == "ok" and self.desk is not None:  # emergency-procedures.md P2 latency
                self.desk.log_slowness({"dispatcher": loop.time() - began})
            self.metrics.count(f"probe_{outcome}")
            now = self.clock.now()
            self._observe(ApiProbe(now, outcome))
            if self.config.dispatcher_pidfile is not None:
                state = await asyncio.to_thread(check_process, self.config.dispatcher_pidfile)
                self._observe(ProcessCheck(self.clock.now(), state))
            # SOP 2A.2: attempts at fixed one-minute intervals, not drifting with probe latency.
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    # ---- inbox -------------------------------------------------------------------------
    async def receive(self, data: Any) -> InboxAnswer | FailClosed:
        """Take one inbox envelope; a rejected one never touches the silence timer."""
        if self.inbox is None:
            assert self.closed is not None
            return self.closed  # the inbox takes nothing while failing closed
        envelope = self.inbox.verify(data)
        if isinstance(envelope, Rejected):
            self.metrics.count(f"inbox_rejected_{envelope.kind}")
            log.warning("inbox envelope rejected", extra={"fields": {"reason": envelope.kind}})
            return envelope
        self.metrics.count(f"inbox_accepted_{envelope.kind}")
        now = self.clock.now()
        self._observe(Heartbeat(now, True))  # SOP 2A.1: a valid heartbeat or task assignment
        if envelope.kind == "heartbeat":
            provider = envelope.body.get("provider")
            if provider in ("ok", "rate_limited"):
                self._observe(RateLimitReport(now, provider == "rate_limited"))
            return Taken("heartbeat", self.mode)
        request = task_request(envelope.body)
        if request is None:
            return Taken("task", self.mode)
        decision, result = await self.act(request)
        return Taken("task", self.mode, decision, result)

    # ---- acting ------------------------------------------------------------------------
    async def facts(self) -> HostFacts:
        """The host as it is now."""
        assert self._facts is not None
        return await self._facts.gather(self.clock.now())

    async def act(
        self, request: ActionRequest, facts: HostFacts | None = None
    ) -> tuple[Decision, dict[str, Any] | None]:
        """Ask the gate, execute if allowed, log the decision either way (SOP 4)."""
        async with self._acting:
            facts = facts or await self.facts()
            self.risk.guard(self.gate, self.clock.now())  # gate4 guardrail 3: every action
            decision = self.gate.decide(request, self.mode, facts)
            entry = decision.to_log()
            result: dict[str, Any] | None = None
            if decision.allowed:
                assert self._executor is not None
                if self.desk is not None:  # cell0 "P1 - High Memory Usage": logged first
                    await self.desk.kill_ahead(self.client, request, facts)
                try:
                    result = await self._executor.execute(request, facts)
                    entry["result"] = result
                except Exception as exc:  # the failure is evidence, not a crash of the agent
                    entry["decision"] = "failed"
                    entry["error"] = f"{type(exc).__name__}: {exc}"
            # The gate read the host an action's time before the entry (Ollama's restart: 1 s).
            entry["facts_age_minutes"] = round(self.clock.now() - facts.now, 4)
            key = (request.action, request.target, decision.reason)
            if decision.allowed or request.source != "autonomous" or key not in self._refused_once:
                if not decision.allowed and request.source == "autonomous":
                    self._refused_once.add(key)
                entry.pop("kind", None)
                self._record("decision", **entry)
                self.decisions.append({"at": self.clock.iso(self.clock.now()), **entry})
                self.metrics.count(f"action_{entry['decision']}")
            return decision, result

    async def _remediation_loop(self) -> None:
        assert self.policy is not None
        interval = self._wall(self.policy.deployment.remediation_interval_minutes)
        while True:
            facts = await self.facts()
            self.risk.guard(self.gate, self.clock.now())
            assert self.desk is not None
            states, took = dict(facts.service_states), facts.health_check_wall_s
            await self.desk.round(
                self.client,
                states,
                online=self.mode in ("online", "suspect"),
                orphaned=self.detector is not None and self.detector.orphaned(self.clock.now()),
                health_check_wall_s=took,
                processes=facts.processes,
            )
            if self.mode == "offline":
                for request in plan(facts, self.policy):
                    if self.mode != "offline":
                        break  # SOP 5.1: stop at once when the dispatcher is back
                    await self.act(request, facts)
            await asyncio.sleep(interval)

    # ---- SOP 3 and SOP 5 -------------------------------------------------------------------
    async def _alert(self, transition: Transition, episode: Episode) -> None:
        assert self._notifier is not None
        ref = episode.reference(self.config.name, transition.trigger or "unknown")  # gate4 g. 4
        result = await self._notifier.alert(transition.trigger or "unknown", transition.reason, ref)
        episode.told(result)
        self.notifications.append(result.as_json())

    async def _resync_now(self) -> None:
        """SOP 5 now that the dispatcher is back; then the detector is online again."""
        assert self._resync is not None
        assert self.detector is not None
        async with self._acting:
            pass  # SOP 5.1: the action under way is done and logged before the re-sync
        acknowledged = await self._resync.run(self._record)
        self._resync_task = None
        transition = self.detector.resynced(self.clock.now())
        self.metrics.count(f"transition_{transition.to_mode}")
        log.info("re-sync complete", extra={"fields": {"acknowledged_through": acknowledged}})
        # Notification Flow 5: the episode is closed; a new declaration opens the next one.
        closed, self.episode = self.episode, Episode()
        self._spawn(self._resolve(closed, self._resync.integrity or "unknown"))

    async def _resolve(self, episode: Episode, integrity: str) -> None:
        assert self._notifier is not None
        assert self._resync is not None
        results = await close(episode, self._notifier, integrity, self._resync.upload)
        self.notifications.extend(result.as_json() for result in results)

    # ---- views -------------------------------------------------------------------------
    @property
    def resyncing(self) -> bool:
        """Whether a re-sync (SOP 5) is under way."""
        return self._resync_task is not None

    def state_view(self) -> dict[str, Any]:
        """``GET /v1/state``: the contract of DESIGN.md plus the detector's counters."""
        return state_view(self)

    def metrics_text(self) -> str:
        """Prometheus text exposition of the agent's counters and mode."""
        return self.metrics.render(self.mode, len(self.log.pending()))
