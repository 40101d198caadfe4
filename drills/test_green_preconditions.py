"""SOP 4 green list: an allowed action runs only when its own precondition holds, whoever asks.

The gate decides by the SOP's numbers and the host's state, never by the asker's word.
Online, the dispatcher mediates and a signed task asks; OFFLINE, a person on the host
asks (a local request). Each time every green action is asked for where its precondition
does not hold: a restart of a running service (SOP 4: "if down or degraded"), a log
rotation with the volume nearly empty ("if disk usage exceeds 90%"), the kill of a
process over the bar for less than the window ("for >5 minutes"), a security patch
below the CVSS bar and one above it with no active exploit ("CVSS > 9.0 if an active
exploit is detected"). Each is refused (403) and logged; nothing changes. A patch above
the bar with an active exploit is executed, once per ask.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest

from fixtures.faults.requests import REQUESTED_BY
from fixtures.lifecycle import offline_by_storm, steady_state

#: How far from the SOP's CVSS bar the advisories lie (CVSS scores have one decimal).
CVSS_MARGIN = 0.5
#: The service a refused restart must leave alone: on the agent's host, running.
RUNNING_SERVICE = "ollama"


def unmet_requests(policy, log_dir: str, burner_pid: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, target, params) for every green action whose precondition does not hold."""
    bar = policy.green_list.security_patch.cvss_above
    return [
        ("restart_service", RUNNING_SERVICE, {}),
        # The asker claims the volume is full; the gate must measure it (statvfs).
        ("rotate_logs", log_dir, {"disk_usage_percent": claimed_full(policy)}),
        ("kill_runaway", str(burner_pid), {}),
        (
            "security_patch",
            "openssl",
            {"cve": "CVE-2026-10001", "cvss": bar - CVSS_MARGIN, "active_exploit": True},
        ),
        (
            "security_patch",
            "openssl",
            {"cve": "CVE-2026-10002", "cvss": bar + CVSS_MARGIN, "active_exploit": False},
        ),
    ]


def claimed_full(policy) -> float:
    """A disk usage halfway between the SOP's rotation bar and a full volume."""
    above = policy.green_list.rotate_logs.disk_usage_percent_above
    return (above + 100) / 2


def met_patch(policy, cve: str) -> dict[str, Any]:
    """A critical advisory with an active exploit: the patch's precondition holds."""
    bar = policy.green_list.security_patch.cvss_above
    return {"cve": cve, "cvss": bar + CVSS_MARGIN, "active_exploit": True}


def ask_each(faults, route: str, asks, burner) -> list[dict[str, Any]]:
    """Ask for each (action, target, params) over ``route``; return the verdicts."""
    verdicts = []
    for action, target, params in asks:
        with faults.action_request(action, target, routes=(route,), params=params) as request:
            verdict = request.verdicts[route]
        verdicts.append({"action": action, "target": target, "params": params, **verdict})
    assert burner.alive(), "a kill whose precondition did not hold was executed"
    return verdicts


def asked_by_the_drill(entries, route: str) -> list[dict[str, Any]]:
    """The gate's decisions in the emergency log on what the drill asked over ``route``."""
    prefix = f"local:{REQUESTED_BY}" if route == "local" else "task:bad-"
    return [
        e
        for e in entries
        if e.get("kind") == "decision" and str(e.get("source", "")).startswith(prefix)
    ]


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.test_plan(3)
def test_green_actions_run_only_when_their_precondition_holds(
    policy, clock, evidence, probes, faults
):
    """Task online, local request offline: every unmet precondition refused, a met one run."""
    rule = policy.green_list.kill_runaway
    log_dir = str(faults.agent_host().log_dir)
    service_pid = faults.topology.pid(RUNNING_SERVICE)
    assert service_pid is not None, f"{RUNNING_SERVICE} must run before the drill"
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        for route, offline in (("task", False), ("local", True)):
            with ExitStack() as phase:
                if offline:
                    phase.enter_context(offline_by_storm(faults, watch, policy, clock))
                # A fresh burner once the mode is there: over the bar, for far less than the
                # SOP window (one started before the storm would be past it by OFFLINE).
                percent = (rule.ram_percent_above + 100) / 2
                burner = phase.enter_context(faults.burn_ram(allowlisted=False, percent=percent))
                asks = unmet_requests(policy, log_dir, burner.pid)
                patch = ("security_patch", "openssl", met_patch(policy, f"CVE-2026-2{route}"))
                verdicts = ask_each(faults, route, [*asks, patch], burner)
                expected = "offline" if offline else "online"
                assert probes.agent_state()["mode"] == expected, f"{route} requests: {expected}"
            refused, executed = verdicts[:-1], verdicts[-1]
            for verdict in refused:
                assert verdict["status"] == 403, f"{route}: precondition not met: {verdict}"
                assert verdict["answer"]["decision"] == "refused", verdict
            assert executed["status"] == 200, f"{route}: a critical exploited CVE: {executed}"
            assert executed["answer"]["decision"] == "executed", executed
            logged = asked_by_the_drill(probes.emergency_log(), route)
            assert [(e["action"], e["decision"]) for e in logged] == [
                *((v["action"], "refused") for v in refused),
                ("security_patch", "executed"),
            ], f"{route}: every decision is in the emergency log, in order"
    steady_state("after", probes, policy, evidence)
    assert faults.topology.pid(RUNNING_SERVICE) == service_pid, (
        f"{RUNNING_SERVICE} was running: a restart had no precondition to stand on"
    )
