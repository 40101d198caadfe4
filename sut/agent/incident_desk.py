"""The agent's incidents: logged, reported, escalated, told to 0x01, each by its severity.

emergency-procedures.md "Emergency Notification Flow" classifies before it notifies:
"P0 -> Immediate human alert; P1 -> Agent escalation; P2 -> Log and continue". So every
incident lands in the emergency log first (on disk before any network, as the SOP 3.3
marker does), with the severity the seeds assign to its kind (the policy's ``severity``);
a P0 or P1 becomes a distress signal to the Dispatcher (when it can hear it; the log goes
with the re-sync otherwise, SOP 5.2); a P0 is told to 0x01 at once; a P1 is watched and
escalated to 0x01 once if still unresolved at its escalation timeout (sut/agent/escalation.py).
Also here: a re-sync refused past the Agent Operations RTO (sut/agent/resync_watch.py); a
service outage reported while online, logged once (its signal retried until taken); a P2 once
an episode for an answer slower than its bound (sut/agent/slowness.py); a P1 logged before
SOP 4 kills a process over the RAM bar (sut/agent/high_memory.py); a restart that did not
bring its service back, scenario 2 STEP 4's distress signal, also as the seed's line in the
father's spool (sut/agent/recovery.py). Every P1 is owed a Gitea issue ("Gitea issue (P1)"),
filed in the background until Gitea takes it (sut/agent/issue_filing.py). Every incident has
a correlation id in its entries and updates, and they name its issue (gate4 guardrail 4).
Each remediation round (:meth:`IncidentDesk.round`) looks at what raises and resolves them:
risk controls (sut/agent/riskcontrols.py), data integrity (sut/agent/integrity.py), Gitea's
data (sut/agent/gitea_loss.py), the services, their health checks' times, the escalations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sop.policy import Policy
from sop.references import ID_FIELD, ISSUE_FIELD, Reference
from sut.agent.correlation import CLOSED, Correlations, make_id
from sut.agent.emlog import Recorder
from sut.agent.escalation import CATEGORY, EscalationWatch
from sut.agent.father_channel import FatherChannel, FatherLink
from sut.agent.gate import ActionRequest, HostFacts, ProcessUsage
from sut.agent.gitea_loss import KIND as GITEA_LOST
from sut.agent.gitea_loss import GiteaLossWatch
from sut.agent.high_memory import KIND as HIGH_MEMORY
from sut.agent.high_memory import MemoryWatch, runaway, watch_key
from sut.agent.incidents import IncidentReporter, distress_signal, outage_kind
from sut.agent.integrity import KIND as DATA_CORRUPTION
from sut.agent.integrity import DataIntegrity
from sut.agent.issue_filing import IncidentsRepo, IssueFiler, Spawn, owed_issue
from sut.agent.notifier import Notifier
from sut.agent.recovery import FailedRecovery, RecoveryWatch, distress_line
from sut.agent.resync_watch import CATEGORY as RESYNC_REFUSED
from sut.agent.resync_watch import Escalation
from sut.agent.riskcontrols import KIND as RISK_CONTROLS
from sut.agent.riskcontrols import RiskControls
from sut.agent.slowness import SlowWatch
from sut.runtime.jsonlog import get_logger

# The agent's own logger: its log lines read the same whichever part of it writes them.
log = get_logger("sut.agent")

#: Severities that go to the Dispatcher as a distress signal; the first also to 0x01 at once.
_SIGNALLED = ("P0", "P1")
_TOLD_AT_ONCE = "P0"
#: The severity that is owed a Gitea issue (notification flow: "Gitea issue (P1)").
_FILED = "P1"


def outage_key(component: str) -> str:
    """What a service outage's distress signal is about, in the escalation watch."""
    return f"service:{component}"


@dataclass(eq=False, kw_only=True)
class IncidentDesk:
    """Logs, reports and escalates the agent's incidents (a plain class; see the module)."""

    policy: Policy
    agent: str
    host: str
    #: Where distress signals go, how long to wait for an answer, the key they are signed with.
    dispatcher_url: str
    timeout_s: float
    key: bytes = field(repr=False)
    notifier: Notifier
    record: Recorder
    count: Callable[[str], None]
    #: The gate's decisions and the notifications so far (the service's lists, shared).
    decisions: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    #: SOP minutes -> wall seconds (the service's clock).
    wall: Callable[[float], float]
    risk: RiskControls
    integrity: DataIntegrity
    watch: EscalationWatch = field(default_factory=EscalationWatch)
    #: The incidents repository on Gitea (None: no issues filed) and how filings start.
    gitea: IncidentsRepo | None = None
    spawn: Spawn | None = None
    #: The father's spool on this host and its messages on Gitea (sut/agent/father_channel.py).
    father: FatherLink = field(default_factory=FatherLink)
    recovery: RecoveryWatch = field(default_factory=RecoveryWatch)
    #: Reads the father's messages while orphaned (None: no repository to read).
    messages: FatherChannel | None = field(default=None, init=False)
    reporter: IncidentReporter = field(init=False)
    #: The open incidents' correlation ids and their issues' links (gate4 guardrail 4).
    ids: Correlations = field(init=False)
    filer: IssueFiler = field(init=False)
    gitea_loss: GiteaLossWatch = field(init=False)
    slowness: SlowWatch = field(init=False)
    memory: MemoryWatch = field(init=False)
    #: The services whose outage (reported online) is logged and not yet over.
    _outages_logged: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ids = Correlations(self.agent)
        self.filer = IssueFiler(
            self.gitea, self.timeout_s, self.record, self.spawn, linked=self.ids.link
        )
        if (gitea := self.father.gitea) is not None:
            channel = FatherChannel(gitea, self.agent, self.timeout_s, self.record, self.spawn)
            self.messages = channel
        every_s = self.wall(self.policy.deployment.heartbeat_interval_minutes)
        self.gitea_loss = GiteaLossWatch(self.gitea, self.timeout_s, every_s, self.spawn)
        self.slowness = SlowWatch(self.policy.latency)
        self.memory = MemoryWatch(self.policy.green_list.kill_runaway)
        self.reporter = IncidentReporter(
            self.agent,
            self.dispatcher_url,
            self.escalation_wall_s,
            self.timeout_s,
            self.policy.severity_of,
            self.key,
        )

    @property
    def escalation_wall_s(self) -> float:
        """Wall seconds of Level 1 self-healing: each signal's escalation timeout."""
        return self.wall(self.policy.escalation.self_healing_minutes)

    async def round(
        self,
        client: httpx.AsyncClient,
        states: dict[str, str],
        *,
        online: bool,
        health_check_wall_s: Mapping[str, float] | None = None,
        processes: Mapping[int, ProcessUsage] | None = None,
        orphaned: bool = False,
    ) -> None:
        """One look at everything that raises or resolves an incident, then the escalations;
        ``health_check_wall_s``: the wall seconds each health check took to answer 200;
        ``processes``: the in-scope processes as sampled (None: not known this round);
        ``orphaned``: the father unreachable over its own link (its messages come by Gitea)."""
        news = self.risk.news()
        if news.failed is not None:
            reason = news.failed.reason
            await self.raise_incident(client, RISK_CONTROLS, "policy", reason, online=online)
        elif news.restored:
            self.resolve(RISK_CONTROLS)
        corrupt, cleared = await asyncio.to_thread(self.integrity.look)
        if corrupt:
            what = "; ".join(m.describe() for m in corrupt)
            message = f"application data failed its integrity check: {what}"
            files = [f"{m.directory}/{m.name}" for m in corrupt]
            await self.raise_incident(
                client, DATA_CORRUPTION, "data", message, online=online, files=files
            )
        elif cleared:
            self.resolve(DATA_CORRUPTION)
        lost, back = self.gitea_loss.news()  # P0 "Gitea lost": its data gone, not stopped
        if lost is not None:
            await self.raise_incident(client, GITEA_LOST, "gitea", lost, online=online)
        elif back:
            self.resolve(GITEA_LOST)
        if states.get("gitea") == "running":  # a Gitea not answering is scenario 3's
            self.gitea_loss.poke(client, self.filer.filed)
        # Restarts decided since the last look belong to the outage they retried: read first.
        for failed in self.recovery.news(self.decisions):
            await self.recovery_failed(client, failed, online=online)
        self.resolve_outages(states)
        if online:  # while the Dispatcher mediates, the agent reports and does not heal
            await self.report_outages(client, states)
        self.log_slowness(health_check_wall_s or {})
        if processes is not None:
            self.resolve_runaways(processes)
        await self.escalate_due()
        self.filer.poke(client)  # the owed issues, in the background: Gitea may be down
        if orphaned and self.messages is not None:  # scenario 4 STEP 3, in the background too
            self.messages.poke(client)

    def file_p1(self, kind: str, signal: dict[str, Any], tried: Sequence[str]) -> None:
        """Owe a Gitea issue for ``signal`` if it is a P1 (notification flow, step 3)."""
        if signal["severity"] == _FILED:
            self.filer.owe(owed_issue(signal, kind, self.host, tried))

    async def report_outages(self, client: httpx.AsyncClient, states: dict[str, str]) -> None:
        """While online: log each service outage once, report it once (its signal retried
        until the Dispatcher takes it) and watch it for escalation."""
        for name, state in states.items():
            if state != "running" and name not in self._outages_logged:
                self._outages_logged.add(name)  # on disk before the signal is sent
                kind = outage_kind(name)
                self.log_incident(kind, name, f"{name} is {state}", key=outage_key(name))

        def reference_of(name: str, severity: str) -> Reference:
            cid = self.ids.open(outage_key(name), outage_kind(name), name)
            return self.ids.reference(cid, severity)

        for signal in await self.reporter.report(client, states, reference_of):
            component = str(signal["component"])
            kind = outage_kind(component)
            self.watch.open(outage_key(component), kind, signal, len(self.decisions))
            # SOP 4 heals only while offline: online, the report is what the agent tried.
            tried = (_reported(signal), "no restart without the Dispatcher's task")
            self.file_p1(kind, signal, tried)

    def resolve_outages(self, states: dict[str, str]) -> None:
        """Every service seen running again: its outage is over, nothing to escalate."""
        for name, state in states.items():
            if state == "running":
                self.watch.resolve(outage_key(name))
                self.close_id(outage_key(name))
                self._outages_logged.discard(name)  # the next outage is a new incident
        self.recovery.resolve(states)

    def log_slowness(self, health_check_wall_s: Mapping[str, float]) -> None:
        """Each component just slower than its P2 bound (a health check, or the Dispatcher's
        API): one incident logged. P2: "Log and continue" (no signal, issue, message)."""
        sop_s = self.wall(1 / 60)  # wall seconds of one SOP second
        took = {name: wall_s / sop_s for name, wall_s in health_check_wall_s.items()}
        for slow in self.slowness.look(took):
            details: dict[str, Any] = slow.details()  # its own id: logged once, never updated
            self.log_incident(slow.kind, slow.component, slow.reason(), **details)

    async def kill_ahead(
        self, client: httpx.AsyncClient, request: ActionRequest, facts: HostFacts
    ) -> None:
        """An action the gate allowed, about to run: if it is SOP 4's kill of a process over
        the RAM bar, its P1 high_memory incident first, once an episode (cell0 "P1 - High
        Memory Usage"). Only the agent's own kills count, and those run only while OFFLINE:
        the Dispatcher cannot hear the signal, the log goes with the re-sync (SOP 5.2)."""
        found = runaway(self.policy.green_list.kill_runaway, request, facts)
        if found is None or not self.memory.news(found):
            return
        await self.raise_incident(
            client,
            HIGH_MEMORY,
            found.component,
            found.reason(),
            online=False,
            watched_as=found.watch_key,
            tried=(found.tried(),),
            **found.details(),
        )

    async def recovery_failed(
        self, client: httpx.AsyncClient, failed: FailedRecovery, *, online: bool
    ) -> None:
        """Scenario 2 STEP 4: "recovery FAILED", logged, then the father notified: the
        distress signal (to the Dispatcher if it hears; watched, owed an issue) and the seed's
        line in the father's spool, which needs no network the father may have lost."""
        service = failed.service
        father = self.father.spool
        spool = None if father is None else str(father.path)
        await self.raise_incident(
            client,
            outage_kind(service),
            service,
            failed.message(),
            online=online,
            watched_as=outage_key(service),
            tried=(failed.tried(),),
            recovery="failed",
            distress_file=spool,
        )
        if father is None:
            return
        try:
            await asyncio.to_thread(father.write, distress_line(service, self.watch.now()))
        except OSError as exc:  # the log holds it (above); the re-sync carries it (SOP 5.2)
            self.count("distress_file_unwritable")
            log.error("distress file unwritable", extra={"fields": {"error": str(exc)}})
            return
        self.count("distress_filed")

    def resolve_runaways(self, processes: Mapping[int, ProcessUsage]) -> None:
        """Every memory runaway reported and now gone or under the bar: its P1 is over."""
        for pid in self.memory.ended(processes):
            self.watch.resolve(watch_key(pid))
            self.close_id(watch_key(pid))

    async def raise_incident(
        self,
        client: httpx.AsyncClient,
        kind: str,
        component: str,
        message: str,
        *,
        online: bool,
        watched_as: str | None = None,
        tried: Sequence[str] = (),
        **details: Any,
    ) -> None:
        """One incident of ``kind``: logged, then signalled, told or watched by its severity.
        ``watched_as``: what a P1's escalation watch is keyed by (the kind unless one kind
        can be open more than once); ``tried``: what the agent does about it besides."""
        key = watched_as or kind
        severity = self.log_incident(kind, component, message, key=key, **details)
        if severity not in _SIGNALLED:
            return  # P2, P3: "Log and continue"
        reference = self.ids.reference(self.ids.open(key, kind, component), severity)
        signal = distress_signal(
            self.agent,
            component,
            message,
            severity=severity,
            last_success=None,
            attempts=1,
            escalation_wall_s=self.escalation_wall_s,
            category=kind,
            message=message,
            reference=reference,
        )
        sent = online and await self.reporter.send(client, signal)
        told = _reported(signal) if sent else "logged; the Dispatcher hears it with the re-sync"
        self.file_p1(kind, signal, (told, *tried))
        if severity == _TOLD_AT_ONCE:
            text = (
                f"INCIDENT ({severity}): {kind}. Host: {self.host}. {message}. "
                f"Since: {signal['timestamp']}. Nothing changed by the agent: this needs a person."
            )
            text = self.policy.reference.append(text, reference)  # gate4 guardrail 4
            self.notifications.append((await self.notifier.escalate(kind, text)).as_json())
        else:
            self.watch.open(key, kind, signal, len(self.decisions))

    def log_incident(
        self, kind: str, component: str, message: str, *, key: str | None = None, **details: Any
    ) -> str:
        """The ``incident`` entry of ``kind`` with the severity the seeds give it (returned),
        and the correlation id of the incident open about ``key`` (a new one if none is, or
        if there is no key: an incident logged once and never updated, a P2's)."""
        severity = self.policy.severity_of(kind)
        fields = {"category": kind, "severity": severity, "component": component}
        if key is None:
            fields[ID_FIELD] = make_id(self.agent, kind, component)
        else:
            fields |= {ID_FIELD: self.ids.open(key, kind, component), "incident_key": key}
        self.record("incident", **fields, reason=message, **details)
        self.count(f"incident_{kind}")
        log.error("incident", extra={"fields": {"kind": kind, "severity": severity}})
        return severity

    def resolve(self, kind: str) -> None:
        """The incident of ``kind`` is over (its watch, if any, is closed)."""
        self.watch.resolve(kind)
        self.close_id(kind)

    def close_id(self, key: str) -> None:
        """The incident about ``key`` is over: its id is closed, in the log too (a restart
        must not reopen it, sut/agent/correlation.py)."""
        cid = self.ids.close(key)
        if cid is not None:
            self.record("note", **{CLOSED: True, ID_FIELD: cid, "incident_key": key})

    async def escalate_due(self) -> None:
        """Escalation matrix, Level 1 to 2: every signal past its timeout, logged, told once."""
        for overdue in self.watch.due(self.decisions):
            cid = str(overdue.signal.get(ID_FIELD) or make_id(self.agent, CATEGORY, overdue.kind))
            # On disk before any network is touched: nothing can lose it.
            self.record("incident", **overdue.log_fields(), **{ID_FIELD: cid})
            self.count("escalated")
            log.error("incident escalated", extra={"fields": {"kind": overdue.kind}})
            text = overdue.alert_text(self.host)  # the incident's id and issue (gate4 g. 4)
            text = self.policy.reference.append(text, self.ids.reference(cid, overdue.severity))
            result = await self.notifier.escalate(CATEGORY, text)
            self.notifications.append(result.as_json())

    async def escalate_refusal(self, client: httpx.AsyncClient, escalation: Escalation) -> None:
        """A re-sync refused past the RTO: log it, tell the Dispatcher and 0x01 what failed."""
        severity = self.policy.severity_of(RESYNC_REFUSED)
        cid = make_id(self.agent, RESYNC_REFUSED, "dispatcher")  # one refusal, one incident
        self.record("incident", severity=severity, **escalation.log_fields(), **{ID_FIELD: cid})
        self.count("resync_escalated")
        log.error("re-sync refused; escalated", extra={"fields": {"reason": escalation.reason}})
        rto_wall_s = self.wall(self.policy.rto.agent_operations_minutes)
        reference = self.ids.reference(cid, severity)
        signal = escalation.signal(self.agent, rto_wall_s, severity)
        signal |= {ID_FIELD: cid, ISSUE_FIELD: reference.issue}  # gate4 guardrail 4
        await self.reporter.send(client, signal)
        self.file_p1(RESYNC_REFUSED, signal, (f"re-sync calls retried {escalation.attempts}x",))
        text = self.policy.reference.append(escalation.alert_text(self.host, severity), reference)
        self.notifications.append((await self.notifier.escalate(RESYNC_REFUSED, text)).as_json())


def _reported(signal: dict[str, Any]) -> str:
    """What a distress signal taken by the Dispatcher tried, in words."""
    return (
        f"distress signal to the Dispatcher at {signal['timestamp']} ({signal['requested_action']})"
    )


__all__ = ["IncidentDesk", "outage_key"]
