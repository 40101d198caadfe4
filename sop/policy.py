"""The typed SOP policy: load ``offline-emergency.yaml``, validate every field, fail with one line.

An invalid policy raises :class:`~sop.errors.PolicyError` naming the file, the field, the
value and why (``sop/offline-emergency.yaml: scenario_b.rate_limited_minutes: expected a
positive number, got -3``). Whoever holds no valid policy must fail closed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from sop.errors import PolicyError
from sop.policy_reader import FieldReader
from sop.references import ReferenceTemplate, read_reference
from sop.severity import Latency, read_latency, read_severity

#: The policy shipped with the project (the SOP of ../shared/seeds, as data).
DEFAULT_POLICY_PATH = Path(__file__).with_name("offline-emergency.yaml")
#: libyaml's safe loader where PyYAML has it (its wheels do): every service reads the
#: policy as it starts, and the pure-Python loader took 10 ms of CPU for it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The actions of SOP section 4 that the green list may hold; anything else is unknown.
GREEN_ACTIONS = ("restart_service", "rotate_logs", "security_patch", "kill_runaway")
#: The prohibited categories of SOP section 4.
RED_ACTIONS = ("deploy_code", "change_config", "delete_data", "escalate_privilege")
#: SOP section 5, the only recovery steps there are.
RECOVERY_STEPS = ("stop_autonomous_actions", "upload_emergency_log", "request_integrity_check")
BACKCHANNEL_KINDS = ("discord_dm", "signal", "local_log")
SERVICE_STATES = ("down", "degraded")


@dataclass(frozen=True)
class ScenarioA:
    """SOP 2A: total system failure; all conditions must hold."""

    silence_minutes: float
    api_failures: int
    api_probe_interval_minutes: float
    process_check_when_co_located: bool


@dataclass(frozen=True)
class ScenarioB:
    """SOP 2B: the model provider rate-limits the dispatcher for longer than the threshold."""

    rate_limited_minutes: float
    signals: tuple[str, ...]


@dataclass(frozen=True)
class Backchannel:
    """One channel of SOP 3; ``priority`` 1 is tried first."""

    name: str
    kind: str
    priority: int
    recipient: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class RestartService:
    """Green: restart a critical service only if it is down or degraded."""

    when_states: tuple[str, ...]


@dataclass(frozen=True)
class RotateLogs:
    """Green: rotate or clear logs only above this disk usage."""

    disk_usage_percent_above: float


@dataclass(frozen=True)
class SecurityPatch:
    """Green: a critical patch only above this CVSS score, with an active exploit."""

    cvss_above: float
    requires_active_exploit: bool


@dataclass(frozen=True)
class KillRunaway:
    """Green: kill a process above the CPU or RAM share for longer than the window."""

    cpu_percent_above: float
    ram_percent_above: float
    sustained_minutes: float
    allowlist: tuple[str, ...]


@dataclass(frozen=True)
class GreenList:
    """SOP 4 allowed actions with their preconditions."""

    restart_service: RestartService
    rotate_logs: RotateLogs
    security_patch: SecurityPatch
    kill_runaway: KillRunaway

    def names(self) -> frozenset[str]:
        """The action names this list allows."""
        return frozenset(GREEN_ACTIONS)


@dataclass(frozen=True)
class RedAction:
    """SOP 4 prohibited action."""

    name: str
    description: str


@dataclass(frozen=True)
class Rto:
    """Recovery time objectives of emergency-procedures.md Appendix B."""

    ollama_minutes: float
    agent_operations_minutes: float
    gitea_minutes: float


@dataclass(frozen=True)
class Rpo:
    """Recovery point objectives of emergency-procedures.md Appendix B."""

    agent_operations_minutes: float


@dataclass(frozen=True)
class Escalation:
    """emergency-procedures.md escalation matrix: Level 1 (the agent's self-healing) ends at
    ``self_healing_minutes``, Level 2 (the father's) at ``father_minutes``; then it escalates."""

    self_healing_minutes: float
    father_minutes: float


@dataclass(frozen=True)
class Deployment:
    """Cadence of this deployment: not SOP clauses, but every service keeps to them."""

    heartbeat_interval_minutes: float
    api_probe_timeout_minutes: float
    detector_tick_minutes: float
    max_envelope_age_minutes: float
    remediation_interval_minutes: float
    upload_retry_interval_minutes: float


@dataclass(frozen=True)
class Policy:
    """The whole Offline Emergency SOP as typed values."""

    version: str
    source: str
    scenario_a: ScenarioA
    scenario_b: ScenarioB
    backchannels: tuple[Backchannel, ...]
    alert_template: str
    #: emergency-procedures.md Notification Flow 5 (RESOLUTION): what the channels that
    #: delivered an OFFLINE alert are told when the episode closes (``{host}``, ``{integrity}``).
    resolution_template: str
    reference: ReferenceTemplate  # gate4 guardrail 4: every update's correlation id and issue
    green_list: GreenList
    red_list: tuple[RedAction, ...]
    recovery_steps: tuple[str, ...]
    rto: Rto
    rpo: Rpo
    escalation: Escalation
    #: Incident kind -> severity (P0..P3), as the seeds' severity tables assign them.
    severity: tuple[tuple[str, str], ...]
    #: When a slow answer is an incident (cell0 "P2 - Slow Response Times").
    latency: Latency
    deployment: Deployment
    digest: str

    def green_names(self) -> frozenset[str]:
        """Names of the allowed actions."""
        return self.green_list.names()

    def red_names(self) -> frozenset[str]:
        """Names of the prohibited actions."""
        return frozenset(action.name for action in self.red_list)

    def backchannel(self, kind: str) -> Backchannel:
        """The backchannel of ``kind`` (``discord_dm``, ``signal``, ``local_log``)."""
        for channel in self.backchannels:
            if channel.kind == kind:
                return channel
        raise PolicyError(f"policy {self.version}: no backchannel of kind {kind!r}")

    def render_alert(self, host: str, reason: str) -> str:
        """The SOP 3.1 alert text for ``host`` and ``reason``."""
        return self.alert_template.format(host=host, reason=reason)

    def is_alert(self, text: str) -> bool:
        """Whether ``text`` is a SOP 3.1 alert: the template's words up to its first field."""
        return text.startswith(self.alert_template.partition("{")[0])

    def render_resolution(self, host: str, integrity: str) -> str:
        """The Notification Flow 5 resolution for ``host``, with the SOP 5.3 check's status."""
        return self.resolution_template.format(host=host, integrity=integrity)

    def is_resolution(self, text: str) -> bool:
        """Whether ``text`` is a resolution: the template's words up to its first field."""
        return text.startswith(self.resolution_template.partition("{")[0])

    def severity_of(self, kind: str) -> str:
        """The severity the seeds assign to incidents of ``kind`` (PolicyError if none)."""
        for known, level in self.severity:
            if known == kind:
                return level
        raise PolicyError(f"policy {self.version}: severity: no level for incident kind {kind!r}")


def _scenario_a(r: FieldReader) -> ScenarioA:
    value = ScenarioA(
        silence_minutes=r.minutes("silence_minutes"),
        api_failures=int(r.positive("api_failures", integer=True)),
        api_probe_interval_minutes=r.minutes("api_probe_interval_minutes"),
        process_check_when_co_located=r.flag("process_check_when_co_located"),
    )
    r.done()
    return value


def _scenario_b(r: FieldReader) -> ScenarioB:
    value = ScenarioB(
        rate_limited_minutes=r.minutes("rate_limited_minutes"), signals=r.strings("signals")
    )
    r.done()
    return value


def _backchannels(top: FieldReader) -> tuple[Backchannel, ...]:
    channels = []
    for priority, r in enumerate(top.items("backchannels"), start=1):
        kind = r.text("kind")
        if kind not in BACKCHANNEL_KINDS:
            raise r.error(
                r.field("kind"), f"unknown; expected one of {list(BACKCHANNEL_KINDS)}", kind
            )
        recipient = r.text("recipient") if kind != "local_log" else None
        path = r.text("path") if kind == "local_log" else None
        channels.append(Backchannel(r.text("name"), kind, priority, recipient, path))
        r.done()
    kinds = [c.kind for c in channels]
    if sorted(kinds) != sorted(BACKCHANNEL_KINDS):
        raise top.error("backchannels", f"expected each of {list(BACKCHANNEL_KINDS)} once", kinds)
    return tuple(channels)


def _green_list(r: FieldReader) -> GreenList:
    restart = r.child("restart_service")
    rotate = r.child("rotate_logs")
    patch = r.child("security_patch")
    runaway = r.child("kill_runaway")
    value = GreenList(
        restart_service=RestartService(restart.strings("when_states", SERVICE_STATES)),
        rotate_logs=RotateLogs(rotate.positive("disk_usage_percent_above", upper=100)),
        security_patch=SecurityPatch(
            cvss_above=patch.positive("cvss_above", upper=10),
            requires_active_exploit=patch.flag("requires_active_exploit"),
        ),
        kill_runaway=KillRunaway(
            cpu_percent_above=runaway.positive("cpu_percent_above", upper=100),
            ram_percent_above=runaway.positive("ram_percent_above", upper=100),
            sustained_minutes=runaway.minutes("sustained_minutes"),
            allowlist=runaway.strings("allowlist"),
        ),
    )
    for sub in (restart, rotate, patch, runaway):
        sub.done()
    unknown = sorted(set(r.data) - set(GREEN_ACTIONS))
    if unknown:
        raise r.error(
            r.field(unknown[0]), "unknown action; not on the SOP's green list", unknown[0]
        )
    r.done()
    return value


def _red_list(top: FieldReader) -> tuple[RedAction, ...]:
    actions = []
    for r in top.items("red_list"):
        name = r.text("name")
        if name not in RED_ACTIONS:
            raise r.error(
                r.field("name"), f"unknown action; expected one of {list(RED_ACTIONS)}", name
            )
        actions.append(RedAction(name, r.text("description")))
        r.done()
    names = [a.name for a in actions]
    if sorted(names) != sorted(RED_ACTIONS):
        raise top.error("red_list", f"expected each of {list(RED_ACTIONS)} once", names)
    return tuple(actions)


def _deployment(r: FieldReader) -> Deployment:
    value = Deployment(
        heartbeat_interval_minutes=r.minutes("heartbeat_interval_minutes"),
        api_probe_timeout_minutes=r.minutes("api_probe_timeout_minutes"),
        detector_tick_minutes=r.minutes("detector_tick_minutes"),
        max_envelope_age_minutes=r.minutes("max_envelope_age_minutes"),
        remediation_interval_minutes=r.minutes("remediation_interval_minutes"),
        upload_retry_interval_minutes=r.minutes("upload_retry_interval_minutes"),
    )
    r.done()
    return value


def _yaml_problem(text: str, exc: yaml.YAMLError) -> str:
    """One line saying where the YAML broke and why (parser and reader errors differ)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line, why = mark.line + 1, getattr(exc, "problem", None) or "syntax error"
    elif isinstance(exc, yaml.reader.ReaderError):
        line, why = text[: exc.position].count("\n") + 1, exc.reason
    else:
        line, why = None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    at = f"line {line}: " if line is not None else ""
    return f"{at}not valid YAML ({why})"


def _resolution_template(top: FieldReader, alert: str) -> str:
    """Notification Flow 5's text: it names the host and the integrity check, and is told
    from the alert by its opening words (the checker counts each by its template)."""
    template = top.text("resolution_template")
    if "{host}" not in template or "{integrity}" not in template:
        raise top.error(
            "resolution_template", "expected the {host} and {integrity} placeholders", template
        )
    opening, alert_opening = template.partition("{")[0], alert.partition("{")[0]
    if not opening or opening.startswith(alert_opening) or alert_opening.startswith(opening):
        raise top.error(
            "resolution_template", "expected opening words of its own, not the alert's", opening
        )
    return template


def parse_policy(text: str, where: str = "policy") -> Policy:
    """Validate the YAML ``text`` of a policy; ``where`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: {_yaml_problem(text, exc)}") from exc
    top = FieldReader(where, data)
    template = top.text("alert_template")
    if "{host}" not in template or "{reason}" not in template:
        raise top.error("alert_template", "expected the {host} and {reason} placeholders", template)
    if not template.startswith("\N{POLICE CARS REVOLVING LIGHT}"):
        raise top.error("alert_template", "expected the SOP's U+1F6A8 prefix", template[:12])
    recovery = top.strings("recovery_steps", RECOVERY_STEPS)
    if recovery != RECOVERY_STEPS:
        raise top.error(
            "recovery_steps", f"expected the SOP 5 order {list(RECOVERY_STEPS)}", recovery
        )
    rto, rpo, escalation = top.child("rto"), top.child("rpo"), top.child("escalation")
    deployment = _deployment(top.child("deployment"))
    policy = Policy(
        version=top.text("version"),
        source=top.text("source"),
        scenario_a=_scenario_a(top.child("scenario_a")),
        scenario_b=_scenario_b(top.child("scenario_b")),
        backchannels=_backchannels(top),
        alert_template=template,
        resolution_template=_resolution_template(top, template),
        reference=read_reference(top),
        green_list=_green_list(top.child("green_list")),
        red_list=_red_list(top),
        recovery_steps=recovery,
        rto=Rto(*map(rto.minutes, ("ollama_minutes", "agent_operations_minutes", "gitea_minutes"))),
        rpo=Rpo(rpo.minutes("agent_operations_minutes")),
        escalation=Escalation(*map(escalation.minutes, ("self_healing_minutes", "father_minutes"))),
        severity=read_severity(top.child("severity")),
        latency=read_latency(top.child("latency"), deployment.api_probe_timeout_minutes),
        deployment=deployment,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )
    for section in (rto, rpo, escalation):
        section.done()
    top.done()
    return policy


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy at ``path`` (the shipped one when None)."""
    target = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{target}: cannot read the policy file ({exc.strerror})") from exc
    return parse_policy(text, where=str(target))
