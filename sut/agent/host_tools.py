"""The agent's hands on its host: what it reads (facts) and what it runs (the executor).

Built once when the service starts, from its configuration: the supervisord it restarts
services through, the process sampler of SOP 4's runaway kill, the disk it watches, and
Ollama's test inference after a restart (cell0 "P1 - Ollama Connection Lost").
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sut.agent.config import AgentConfig
from sut.agent.facts import FactGatherer, ProcessSampler, host_memory_bytes
from sut.agent.inference import InferenceCheck
from sut.agent.remediation import ExecutionTargets, Executor
from sut.agent.supervisor import Supervisor


def host_tools(
    cfg: AgentConfig,
    client: httpx.AsyncClient,
    probe_timeout_s: float,
    wall: Callable[[float], float],
) -> tuple[FactGatherer, Executor]:
    """The fact gatherer and the executor of the agent configured by ``cfg``."""
    policy = cfg.policy
    supervisor = Supervisor(cfg.supervisor_url) if cfg.supervisor_url else None
    sampler = None
    if policy is not None and cfg.process_scope:
        sampler = ProcessSampler(
            cfg.process_scope,
            policy.green_list.kill_runaway,
            host_memory_bytes(cfg.host_memory_bytes),
        )
    disk_path = cfg.log_dir or cfg.emergency_log.parent
    facts = FactGatherer(
        supervisor,
        cfg.managed_services,
        cfg.health_checks,
        disk_path,
        sampler,
        client,
        probe_timeout_s,
    )
    inference = None
    if policy is not None and cfg.ollama_url:
        # cell0 "P1 - Ollama Connection Lost" steps 3-4, within Ollama's RTO: a restart
        # of Ollama is done once it answers one test inference (sut/agent/inference.py).
        inference = InferenceCheck(
            "ollama",
            cfg.ollama_url,
            client,
            within_s=wall(policy.rto.ollama_minutes),
            poll_s=wall(policy.deployment.remediation_interval_minutes),
        )
    executor = Executor(
        ExecutionTargets(
            supervisor,
            cfg.log_dir,
            cfg.protected_dirs,
            cfg.emergency_log,
            inference=inference,
        )
    )
    return facts, executor
