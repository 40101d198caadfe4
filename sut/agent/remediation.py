"""Remediation while OFFLINE: plan green-list actions from host facts, execute what the gate allows.

``plan`` is pure (facts in, requests out); ``Executor`` does the I/O of an allowed action.
Every request goes through the ActionGate first; nothing here decides what is permitted.
A restarted Ollama is proven by a test inference before the restart counts as done
(sut/agent/inference.py).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop.errors import SopdrillError
from sop.policy import Policy
from sut.agent.gate import ActionRequest, HostFacts
from sut.agent.inference import InferenceCheck
from sut.agent.rotation import rotate_logs
from sut.agent.supervisor import Supervisor


def plan(facts: HostFacts, policy: Policy) -> list[ActionRequest]:
    """The autonomous requests these facts call for (SOP 4 green light), in a stable order."""
    green = policy.green_list
    requests = [
        ActionRequest("restart_service", name, {"state": state}, "autonomous")
        for name, state in sorted(facts.service_states.items())
        if state in green.restart_service.when_states
    ]
    usage = facts.disk_usage_percent
    if usage is not None and usage > green.rotate_logs.disk_usage_percent_above:
        requests.append(
            ActionRequest("rotate_logs", "log_dir", {"disk_usage_percent": usage}, "autonomous")
        )
    limits = green.kill_runaway
    for pid, usage_ in sorted(facts.processes.items()):
        if (
            usage_.over_since is not None
            and facts.now - usage_.over_since > limits.sustained_minutes
        ):
            requests.append(
                ActionRequest(
                    "kill_runaway",
                    str(pid),
                    {
                        "name": usage_.name,
                        "cpu_percent": usage_.cpu_percent,
                        "ram_percent": usage_.ram_percent,
                    },
                    "autonomous",
                )
            )
    return requests


@dataclass(frozen=True)
class ExecutionTargets:
    """Where the executor acts: the host's supervisord and the log volume."""

    supervisor: Supervisor | None
    log_dir: Path | None
    protected_dirs: tuple[Path, ...]
    emergency_log: Path
    patch_command_marker: Path | None = None
    #: The test inference a restart of its service must pass (None: no Ollama to test).
    inference: InferenceCheck | None = None


class ExecutionError(SopdrillError):
    """An allowed action failed while being carried out (the reason goes to the log)."""


class Executor:
    """Carries out one allowed request and says what it did."""

    def __init__(self, targets: ExecutionTargets) -> None:
        self.targets = targets

    async def execute(self, request: ActionRequest, facts: HostFacts) -> dict[str, Any]:
        """Do ``request``; raise ExecutionError with a one-line reason when it cannot."""
        if request.action == "restart_service":
            if self.targets.supervisor is None:
                raise ExecutionError("no supervisord configured for this host")
            if facts.service_states.get(request.target) == "degraded":
                await self.targets.supervisor.restart(request.target)
            else:
                await self.targets.supervisor.start(request.target)
            restarted: dict[str, Any] = {"restarted": request.target}
            check = self.targets.inference
            if check is not None and check.service == request.target:
                # cell0 "P1 - Ollama Connection Lost" steps 3-4: models listed, one test
                # inference; without a reply the restart did not bring the service back.
                outcome = await check.run()
                if not outcome.ok:
                    raise ExecutionError(
                        f"{request.target} restarted, but its test inference failed: "
                        f"{outcome.detail}"
                    )
                restarted["test_inference"] = outcome.as_log()
            return restarted
        if request.action == "rotate_logs":
            if self.targets.log_dir is None:
                raise ExecutionError("no log directory configured (SOPDRILL_LOG_DIR)")
            result = rotate_logs(
                self.targets.log_dir, self.targets.protected_dirs, self.targets.emergency_log
            )
            return {
                "removed": list(result.removed),
                "truncated": list(result.truncated),
                "freed_bytes": result.freed_bytes,
            }
        if request.action == "kill_runaway":
            pid = int(request.target)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return {"killed": pid, "note": "already gone"}
            return {"killed": pid, "name": request.params.get("name")}
        if request.action == "security_patch":
            # Patching is host-specific; this deployment records the applied advisory so the
            # drill can see the action happened (and only when the gate let it through).
            marker = self.targets.patch_command_marker
            if marker is not None:
                with marker.open("a") as handle:
                    handle.write(f"{request.target}\n")
            return {"patched": request.target}
        raise ExecutionError(f"no executor for action {request.action!r}")
