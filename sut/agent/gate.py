"""The action gate of SOP section 4: what the agent may do, decided before it does it, fail closed.

One pure decision per request, from the policy, the detector's mode and the facts of the
host; the caller executes only what is allowed and logs every decision either way. The
order of the checks is the order of their authority:

1. no valid policy, or risk controls that failed since (sut/agent/riskcontrols.py): refuse
   everything (an agent without its SOP has no authority; gate4 guardrail 3);
2. the red list (SOP 4 "Prohibited"): refused whoever asks, in any mode;
3. anything not on the green list: refused (unknown is not allowed);
4. re-sync in progress (SOP 5.1): every action stops;
5. who asks and when: the agent itself, or a person on its host, only while OFFLINE
   ("without Dispatcher mediation"); a Dispatcher task only while the Dispatcher is
   online (or merely suspect), which is what mediation means;
6. the green action's own precondition, with the policy's numbers.

Nothing a request carries can make the gate raise: malformed input is refused with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sop.observations import MODES
from sop.policy import Policy

#: Sources: the agent's own remediation loop, a Dispatcher task, or a local operator request.
AUTONOMOUS = "autonomous"
TASK_PREFIX = "task:"
LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class ProcessUsage:
    """One in-scope process as sampled: its share of CPU and RAM, and since when it is over."""

    pid: int
    name: str
    cpu_percent: float
    ram_percent: float
    over_since: float | None  # SOP minute since which it has been above a threshold


@dataclass(frozen=True)
class HostFacts:
    """The host as the gate sees it when deciding (SOP minutes for time)."""

    now: float
    service_states: Mapping[str, str]  # supervisord program -> running | down | degraded
    disk_usage_percent: float | None  # of the log volume; None when unknown
    processes: Mapping[int, ProcessUsage]  # in scope only
    #: Managed service -> wall seconds its health check took to answer 200 this time (an
    #: answer's time is measured, not SOP time); absent when it did not answer 200.
    health_check_wall_s: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionRequest:
    """Someone wants ``action`` done to ``target``; ``source`` says who (see the constants)."""

    action: str
    target: str
    params: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one request, with the reason a person can read."""

    allowed: bool
    reason: str
    action: str
    target: str
    source: str
    mode: str

    def to_log(self) -> dict[str, Any]:
        """The fields of an emergency-log ``decision`` entry (docs/architecture.md)."""
        return {
            "kind": "decision",
            "action": self.action,
            "target": self.target,
            "decision": "executed" if self.allowed else "refused",
            "reason": self.reason,
            "source": self.source,
            "mode": self.mode,
        }


def _number(value: Any) -> float | None:
    """A finite real number, or None (bools, strings, NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _mode_refusal(source: Any, mode: str) -> str | None:
    """Who may ask in which mode: the SOP 4 'without Dispatcher mediation' rule."""
    if not isinstance(source, str):
        return f"source {source!r} is not a name; failing closed"
    if source == AUTONOMOUS or (source.startswith(LOCAL_PREFIX) and source != LOCAL_PREFIX):
        if mode != "offline":
            return (
                f"dispatcher is {mode}: actions without Dispatcher mediation are "
                "authorized only while it is offline (SOP 4)"
            )
        return None
    if source.startswith(TASK_PREFIX) and source != TASK_PREFIX:
        if mode not in ("online", "suspect"):
            return f"dispatcher task refused while {mode}: the Dispatcher cannot mediate it"
        return None
    return f"unknown source {source!r}; failing closed"


def _restart_service(policy: Policy, request: ActionRequest, facts: HostFacts) -> str | None:
    # SOP 4: restart a critical service "if they are down or degraded".
    when = policy.green_list.restart_service.when_states
    state = facts.service_states.get(request.target)
    if state is None:
        return f"restart_service: {request.target!r} is not a managed service"
    if state not in when:
        return f"restart_service: {request.target} is {state}, not {' or '.join(when)}"
    return None


def _rotate_logs(policy: Policy, request: ActionRequest, facts: HostFacts) -> str | None:
    # SOP 4: rotate or clear logs only "if disk usage exceeds 90%": strictly above.
    above = policy.green_list.rotate_logs.disk_usage_percent_above
    usage = _number(facts.disk_usage_percent)
    if usage is None:
        return "rotate_logs: disk usage unknown; failing closed"
    if not usage > above:
        return f"rotate_logs: disk usage {usage:g} % does not exceed {above:g} %"
    return None


def _security_patch(policy: Policy, request: ActionRequest, facts: HostFacts) -> str | None:
    # SOP 4: "critical security updates (CVSS > 9.0) if an active exploit is detected".
    rule = policy.green_list.security_patch
    cvss = _number(request.params.get("cvss"))
    if cvss is None:
        return f"security_patch: params.cvss must be a number, got {request.params.get('cvss')!r}"
    if not cvss > rule.cvss_above:
        return f"security_patch: CVSS {cvss:g} is not above {rule.cvss_above:g}"
    if rule.requires_active_exploit and request.params.get("active_exploit") is not True:
        return "security_patch: no active exploit detected (params.active_exploit is not true)"
    return None


def _kill_runaway(policy: Policy, request: ActionRequest, facts: HostFacts) -> str | None:
    # SOP 4: ">80% CPU/RAM for >5 minutes (excluding allowlisted system processes)".
    rule = policy.green_list.kill_runaway
    target = request.target
    if not (target.isascii() and target.isdigit()):
        return f"kill_runaway: target {target!r} is not a process id"
    process = facts.processes.get(int(target))
    if process is None:
        return f"kill_runaway: no in-scope process {target}"
    if process.name in rule.allowlist:
        return f"kill_runaway: {process.name} (pid {target}) is an allowlisted system process"
    cpu, ram = _number(process.cpu_percent), _number(process.ram_percent)
    over_cpu = cpu is not None and cpu > rule.cpu_percent_above
    over_ram = ram is not None and ram > rule.ram_percent_above
    if not (over_cpu or over_ram):
        return (
            f"kill_runaway: pid {target} uses {process.cpu_percent}% CPU and "
            f"{process.ram_percent}% RAM, not above {rule.cpu_percent_above:g}/"
            f"{rule.ram_percent_above:g} %"
        )
    since = _number(process.over_since)
    now = _number(facts.now)
    if since is None or now is None or not now - since > rule.sustained_minutes:
        held = "" if since is None or now is None else f" for {now - since:g} min"
        return (
            f"kill_runaway: pid {target} has not been over the limit{held}, "
            f"more than {rule.sustained_minutes:g} min is required"
        )
    return None


#: One precondition per green action; each returns why it is not met, or None.
_PRECONDITIONS: dict[str, Callable[[Policy, ActionRequest, HostFacts], str | None]] = {
    "restart_service": _restart_service,
    "rotate_logs": _rotate_logs,
    "security_patch": _security_patch,
    "kill_runaway": _kill_runaway,
}


class ActionGate:
    """Decides every action request against the SOP 4 lists and preconditions; fails closed."""

    def __init__(self, policy: Policy | None, policy_error: str | None = None) -> None:
        self._policy = policy
        self._policy_error = policy_error or "no policy loaded"
        self._blocked: str | None = None

    def block(self, reason: str | None) -> None:
        """Refuse every request with ``reason`` from now on (None: stop refusing for it)."""
        self._blocked = reason

    def decide(self, request: ActionRequest, mode: str, facts: HostFacts) -> Decision:
        """Allow or refuse ``request`` while the detector is in ``mode``; never raises."""
        try:
            refusal = self._refusal(request, mode, facts)
        except Exception as exc:  # fail closed: a gate that raises must never read as "allowed"
            refusal = f"gate could not check the request ({type(exc).__name__}); failing closed"
        if refusal is None:
            action = str(request.action)
            reason = f"{action}: green list, precondition met (SOP 4)"
        else:
            reason = refusal
        return Decision(
            allowed=refusal is None,
            reason=reason,
            action=str(request.action),
            target=str(request.target),
            source=str(request.source),
            mode=str(mode),
        )

    def _refusal(self, request: ActionRequest, mode: str, facts: HostFacts) -> str | None:
        """Why ``request`` is refused, or None when it is allowed."""
        policy = self._policy
        if policy is None:
            return f"policy invalid: {self._policy_error}; failing closed"
        if self._blocked is not None:
            return f"{self._blocked}; side-effecting actions blocked (gate4 guardrail 3)"
        action = request.action
        if not isinstance(action, str):
            return f"action {action!r} is not a name; failing closed"
        for red in policy.red_list:
            if red.name == action:
                return f"{action} is prohibited by SOP 4 (red list): {red.description}"
        if action not in policy.green_names() or action not in _PRECONDITIONS:
            return f"unknown action {action!r}: not on the SOP 4 green list; failing closed"
        if mode not in MODES:
            return f"unknown mode {mode!r}; failing closed"
        if mode == "recovering":
            return "re-sync in progress: autonomous actions stopped (SOP 5.1)"
        refusal = _mode_refusal(request.source, mode)
        if refusal is not None:
            return refusal
        if not isinstance(request.target, str) or not request.target:
            return f"{action}: target {request.target!r} is not a name"
        if not isinstance(request.params, Mapping):
            return f"{action}: params must be a mapping, got {type(request.params).__name__}"
        return _PRECONDITIONS[action](policy, request, facts)
