"""The action gate against SOP 4: red never; green only in its mode, when its precondition holds."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sop.observations import MODES
from sop.policy import GREEN_ACTIONS, RED_ACTIONS, load_policy
from sut.agent.gate import ActionGate, ActionRequest, Decision, HostFacts, ProcessUsage

POLICY = load_policy()
GREEN = POLICY.green_list
DISK_ABOVE = GREEN.rotate_logs.disk_usage_percent_above
CVSS_ABOVE = GREEN.security_patch.cvss_above
CPU_ABOVE = GREEN.kill_runaway.cpu_percent_above
RAM_ABOVE = GREEN.kill_runaway.ram_percent_above
SUSTAINED = GREEN.kill_runaway.sustained_minutes
ALLOWLIST = GREEN.kill_runaway.allowlist
DOWN = GREEN.restart_service.when_states[0]

NOW = 100.0
RUNAWAY = 4242


def facts(
    *,
    services: dict[str, str] | None = None,
    disk: float | None = 50.0,
    processes: dict[int, ProcessUsage] | None = None,
    now: float = NOW,
) -> HostFacts:
    return HostFacts(
        now=now,
        service_states={"nginx": "running"} if services is None else services,
        disk_usage_percent=disk,
        processes={} if processes is None else processes,
    )


def runaway(
    *, name: str = "burner", cpu: float = 99.0, ram: float = 1.0, over_for: float | None = 10.0
) -> dict[int, ProcessUsage]:
    since = None if over_for is None else NOW - over_for
    return {RUNAWAY: ProcessUsage(RUNAWAY, name, cpu, ram, since)}


GATE = ActionGate(POLICY)


def decide(
    action: str,
    target: str = "x",
    params: dict[str, Any] | None = None,
    *,
    source: str = "autonomous",
    mode: str = "offline",
    host: HostFacts | None = None,
) -> Decision:
    request = ActionRequest(action, target, params or {}, source)
    return GATE.decide(request, mode, host or facts())  # type: ignore[arg-type]


# ---- worked examples: one per precondition boundary --------------------------------------


@pytest.mark.parametrize(
    ("disk", "allowed"),
    [(DISK_ABOVE, False), (DISK_ABOVE + 0.1, True), (DISK_ABOVE - 20, False), (None, False)],
)
def test_rotate_logs_only_when_disk_usage_exceeds_the_threshold(
    disk: float | None, allowed: bool
) -> None:
    decision = decide("rotate_logs", "log_dir", host=facts(disk=disk))
    assert decision.allowed is allowed, decision.reason


@pytest.mark.parametrize(
    ("state", "allowed"), [("down", True), ("degraded", True), ("running", False)]
)
def test_restart_service_only_when_down_or_degraded(state: str, allowed: bool) -> None:
    assert (state in GREEN.restart_service.when_states) is allowed
    decision = decide("restart_service", "nginx", host=facts(services={"nginx": state}))
    assert decision.allowed is allowed, decision.reason


def test_restart_of_an_unknown_service_is_refused() -> None:
    decision = decide("restart_service", "postgres", host=facts(services={"nginx": DOWN}))
    assert not decision.allowed
    assert "not a managed service" in decision.reason


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ({"cvss": CVSS_ABOVE + 0.1, "active_exploit": True}, True),
        ({"cvss": CVSS_ABOVE, "active_exploit": True}, False),
        ({"cvss": CVSS_ABOVE + 0.1, "active_exploit": False}, False),
        ({"cvss": CVSS_ABOVE + 0.1, "active_exploit": "yes"}, False),
        ({"cvss": CVSS_ABOVE + 0.1}, False),
        ({"cvss": str(CVSS_ABOVE + 0.5), "active_exploit": True}, False),
        ({"cvss": math.nan, "active_exploit": True}, False),
        ({"cvss": True, "active_exploit": True}, False),
        ({}, False),
    ],
)
def test_security_patch_needs_critical_cvss_and_an_active_exploit(
    params: dict[str, Any], allowed: bool
) -> None:
    decision = decide("security_patch", "openssl", params)
    assert decision.allowed is allowed, decision.reason


@pytest.mark.parametrize(
    ("usage", "allowed"),
    [
        ({"cpu": CPU_ABOVE + 0.1}, True),
        ({"cpu": 1.0, "ram": RAM_ABOVE + 0.1}, True),
        ({"cpu": CPU_ABOVE}, False),
        ({"cpu": CPU_ABOVE, "ram": RAM_ABOVE}, False),
        ({"over_for": SUSTAINED}, False),
        ({"over_for": SUSTAINED + 0.1}, True),
        ({"over_for": None}, False),
        ({"name": ALLOWLIST[0]}, False),
        ({"name": "sshd"}, False),
    ],
)
def test_kill_runaway_needs_sustained_excess_and_no_allowlisted_name(
    usage: dict[str, Any], allowed: bool
) -> None:
    decision = decide("kill_runaway", str(RUNAWAY), host=facts(processes=runaway(**usage)))
    assert decision.allowed is allowed, decision.reason


@pytest.mark.parametrize("target", ["4243", "-4242", "burner", "42.0", "", "４２４２"])
def test_kill_runaway_target_must_be_a_known_pid(target: str) -> None:
    decision = decide("kill_runaway", target, host=facts(processes=runaway()))
    assert not decision.allowed


@pytest.mark.parametrize("red", RED_ACTIONS)
@pytest.mark.parametrize("source", ["autonomous", "task:7", "local:root"])
def test_red_list_is_refused_whoever_asks_and_names_the_prohibition(red: str, source: str) -> None:
    for mode in MODES:
        decision = decide(red, source=source, mode=mode)
        assert not decision.allowed
        assert "prohibited by SOP 4" in decision.reason


def test_recovering_stops_every_action() -> None:
    host = facts(disk=DISK_ABOVE + 5)
    for source in ("autonomous", "task:1", "local:ops"):
        decision = decide("rotate_logs", "log_dir", source=source, mode="recovering", host=host)
        assert decision.reason == "re-sync in progress: autonomous actions stopped (SOP 5.1)"


@pytest.mark.parametrize(
    ("source", "mode", "allowed"),
    [
        ("autonomous", "offline", True),
        ("autonomous", "online", False),
        ("autonomous", "suspect", False),
        ("local:alice", "offline", True),
        ("local:alice", "online", False),
        ("task:42", "online", True),
        ("task:42", "suspect", True),
        ("task:42", "offline", False),
        ("task:", "online", False),
        ("somebody", "offline", False),
        ("autonomous", "panic", False),
    ],
)
def test_who_may_ask_in_which_mode(source: str, mode: str, allowed: bool) -> None:
    decision = decide("rotate_logs", "log_dir", source=source, mode=mode, host=facts(disk=99.0))
    assert decision.allowed is allowed, decision.reason


def test_invalid_policy_refuses_everything() -> None:
    gate = ActionGate(None, "scenario_a.silence_minutes: expected a positive number, got -1")
    request = ActionRequest("rotate_logs", "log_dir", {}, "autonomous")
    decision = gate.decide(request, "offline", facts(disk=99.0))
    assert not decision.allowed
    assert decision.reason == (
        "policy invalid: scenario_a.silence_minutes: expected a positive number, got -1; "
        "failing closed"
    )


def test_decision_log_entry_has_the_contract_fields() -> None:
    decision = decide("rotate_logs", "log_dir", source="local:ops", host=facts(disk=99.0))
    assert decision.to_log() == {
        "kind": "decision",
        "action": "rotate_logs",
        "target": "log_dir",
        "decision": "executed",
        "reason": decision.reason,
        "source": "local:ops",
        "mode": "offline",
    }
    assert decide("delete_data").to_log()["decision"] == "refused"


def test_malformed_requests_are_refused_not_raised() -> None:
    host = facts(disk=99.0, processes=runaway())
    bad: list[ActionRequest] = [
        ActionRequest("security_patch", "x", None, "autonomous"),  # type: ignore[arg-type]
        ActionRequest("security_patch", "x", [1, 2], "autonomous"),  # type: ignore[arg-type]
        ActionRequest("kill_runaway", 4242, {}, "autonomous"),  # type: ignore[arg-type]
        ActionRequest(None, "x", {}, "autonomous"),  # type: ignore[arg-type]
        ActionRequest("rotate_logs", "log_dir", {}, None),  # type: ignore[arg-type]
        ActionRequest(["rotate_logs"], "log_dir", {}, "autonomous"),  # type: ignore[arg-type]
    ]
    for request in bad:
        assert not GATE.decide(request, "offline", host).allowed
    broken = HostFacts(NOW, None, 99.0, None)  # type: ignore[arg-type]
    for action in GREEN_ACTIONS:
        request = ActionRequest(action, "4242", {"cvss": 9.9, "active_exploit": True}, "autonomous")
        decision = GATE.decide(request, "offline", broken)
        assert decision.allowed is (action in ("rotate_logs", "security_patch"))


# ---- properties --------------------------------------------------------------------------

SOURCES = st.one_of(
    st.sampled_from(["autonomous", "task:1", "local:ops"]),
    st.sampled_from(["task:abc", "local:", "task:", ""]),
    st.text(max_size=12),
)
ACTIONS = st.one_of(
    st.sampled_from(GREEN_ACTIONS),
    st.sampled_from([*RED_ACTIONS, "reboot", "RESTART_SERVICE", "rm -rf"]),
    st.text(max_size=16),
)
MODE_NAMES = st.one_of(st.sampled_from(MODES), st.text(max_size=8))
# Near the thresholds on purpose: either side of every boundary, and NaN.
PERCENT = st.one_of(
    st.floats(min_value=0, max_value=100),
    st.sampled_from([DISK_ABOVE, DISK_ABOVE + 0.1, CPU_ABOVE, CPU_ABOVE + 0.1, 100.0]),
    st.sampled_from([RAM_ABOVE, RAM_ABOVE + 0.1, 95.0, 5.0, math.nan]),
)


def processes(min_size: int = 0) -> st.SearchStrategy[dict[int, ProcessUsage]]:
    over_since = st.one_of(
        st.none(),
        st.floats(min_value=0, max_value=NOW),
        st.sampled_from([NOW - SUSTAINED, NOW - SUSTAINED - 0.1, NOW - 2 * SUSTAINED]),
    )
    usage = st.tuples(
        st.sampled_from([*ALLOWLIST[:2], "burner", "python"]), PERCENT, PERCENT, over_since
    )
    return st.dictionaries(st.integers(1, 5), usage, min_size=min_size, max_size=3).map(
        lambda d: {pid: ProcessUsage(pid, *values) for pid, values in d.items()}
    )


def hosts(min_size: int = 0) -> st.SearchStrategy[HostFacts]:
    """Hosts; ``min_size`` 1 gives every host a service and a process to aim at."""
    return st.builds(
        HostFacts,
        now=st.just(NOW),
        service_states=st.dictionaries(
            st.sampled_from(["nginx", "redis", "ollama"]),
            st.sampled_from(["running", "down", "degraded", "exited"]),
            min_size=min_size,
        ),
        disk_usage_percent=st.one_of(st.none(), PERCENT) if min_size == 0 else PERCENT,
        processes=processes(min_size),
    )


CVSS = st.one_of(
    st.floats(0, 10),
    st.sampled_from([CVSS_ABOVE, CVSS_ABOVE + 0.1, 10]),
    st.sampled_from(["9.5", None, True, math.inf]),
)
EXPLOIT = st.one_of(st.just(True), st.sampled_from([False, None, "true", 1]))
PARAMS = st.fixed_dictionaries({}, optional={"cvss": CVSS, "active_exploit": EXPLOIT})
PATCH_PARAMS = st.fixed_dictionaries({"cvss": CVSS, "active_exploit": EXPLOIT})


@st.composite
def situations(draw: st.DrawFn) -> tuple[ActionRequest, str, HostFacts]:
    """A request, a mode and a host; often coherent (a green action on something that exists,
    by a source entitled in that mode) so that the allowed side is exercised as well."""
    coherent = draw(st.booleans())
    host = draw(hosts(min_size=1 if coherent else 0))
    targets = [*host.service_states, *(str(pid) for pid in host.processes), "log_dir"]
    params = draw(PARAMS)
    if coherent:
        mode = draw(st.sampled_from(MODES))
        entitled = ["autonomous", "local:ops"] if mode == "offline" else ["task:1"]
        source = draw(st.sampled_from(entitled))
        action = draw(st.sampled_from(GREEN_ACTIONS))
        aimed = {
            "restart_service": sorted(host.service_states),
            "kill_runaway": [str(pid) for pid in host.processes],
        }.get(action) or ["log_dir"]
        target = draw(st.sampled_from(aimed))
        if action == "security_patch":
            params = draw(PATCH_PARAMS)
    else:
        mode, source, action = draw(MODE_NAMES), draw(SOURCES), draw(ACTIONS)
        target = draw(st.one_of(st.sampled_from(targets), st.text(max_size=6)))
    return ActionRequest(action, target, params, source), mode, host


def precondition_met(request: ActionRequest, host: HostFacts) -> bool:
    """The test's own reading of the SOP 4 preconditions, with the policy's numbers."""
    if request.action == "restart_service":
        return host.service_states.get(request.target) in GREEN.restart_service.when_states
    if request.action == "rotate_logs":
        usage = host.disk_usage_percent
        return usage is not None and usage > DISK_ABOVE
    if request.action == "security_patch":
        cvss = request.params.get("cvss")
        return (
            type(cvss) in (int, float)
            and math.isfinite(cvss)  # a CVSS score is at most 10; infinity is malformed
            and cvss > CVSS_ABOVE
            and request.params.get("active_exploit") is True
        )
    if request.action == "kill_runaway":
        if not request.target.isdecimal() or not request.target.isascii():
            return False
        process = host.processes.get(int(request.target))
        return (
            process is not None
            and process.name not in ALLOWLIST
            and (process.cpu_percent > CPU_ABOVE or process.ram_percent > RAM_ABOVE)
            and process.over_since is not None
            and host.now - process.over_since > SUSTAINED
        )
    return False


@given(situation=situations())
def test_gate_allows_only_green_in_the_right_mode_with_its_precondition(
    situation: tuple[ActionRequest, str, HostFacts],
) -> None:
    request, mode, host = situation
    decision = GATE.decide(request, mode, host)  # type: ignore[arg-type]
    assert decision.reason
    assert (decision.action, decision.target, decision.source, decision.mode) == (
        request.action,
        request.target,
        request.source,
        mode,
    )
    if request.action in POLICY.red_names():
        assert not decision.allowed
        assert "SOP 4" in decision.reason
    mediated = request.source.startswith("task:") and request.source != "task:"
    unmediated = request.source == "autonomous" or (
        request.source.startswith("local:") and request.source != "local:"
    )
    expected = (
        request.action in POLICY.green_names()
        and ((unmediated and mode == "offline") or (mediated and mode in ("online", "suspect")))
        and precondition_met(request, host)
    )
    assert decision.allowed is expected, decision.reason
    event(f"allowed {request.action}" if decision.allowed else "refused")


@given(situation=situations())
def test_without_a_policy_nothing_is_allowed(
    situation: tuple[ActionRequest, str, HostFacts],
) -> None:
    request, mode, host = situation
    decision = ActionGate(None, "unreadable").decide(request, mode, host)  # type: ignore[arg-type]
    assert not decision.allowed
    assert decision.reason == "policy invalid: unreadable; failing closed"


@given(usage=processes(min_size=1), source=st.sampled_from(["autonomous", "local:ops"]))
def test_kill_runaway_follows_the_sop_numbers(usage: dict[int, ProcessUsage], source: str) -> None:
    host = facts(processes=usage)
    for pid in usage:
        request = ActionRequest("kill_runaway", str(pid), {}, source)
        decision = GATE.decide(request, "offline", host)
        assert decision.allowed is precondition_met(request, host), decision.reason
