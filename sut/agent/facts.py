"""What the agent knows about its host before it acts: services, disk, runaway candidates."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from sop.policy import KillRunaway
from sut.agent.gate import HostFacts, ProcessUsage
from sut.agent.supervisor import Supervisor, SupervisorCallError


def disk_usage_percent(path: Path) -> float | None:
    """Used share of the filesystem holding ``path`` (as ``df`` counts it), None if unknown."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return 100.0 * usage.used / usage.total if usage.total else None


def host_memory_bytes(configured: int | None) -> int:
    """RAM the SOP 4 80 % is taken of: configured, else the cgroup limit, else the machine."""
    if configured:
        return configured
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            return int(limit)
    except OSError:
        pass
    return int(psutil.virtual_memory().total)


@dataclass
class _Tracked:
    process: psutil.Process
    over_since: float | None = None


class ProcessSampler:
    """Samples CPU and RAM of in-scope processes and remembers since when each is above limits.

    Scope ``env:NAME=VALUE`` keeps to processes whose environment carries that pair (the
    local backend's way to tell its host's processes from the rest of the machine); ``all``
    takes every process (a container). The agent and its ancestors are never candidates.
    """

    def __init__(self, scope: str | None, limits: KillRunaway, memory_bytes: int) -> None:
        self.scope = scope
        self.limits = limits
        self.memory_bytes = memory_bytes
        self._tracked: dict[int, _Tracked] = {}
        self._skipped: dict[int, float] = {}
        me = psutil.Process()
        self._exempt = {me.pid, *(p.pid for p in me.parents())}
        self._env_pair: tuple[str, str] | None = None
        if scope and scope.startswith("env:") and "=" in scope:
            name, _, value = scope[4:].partition("=")
            self._env_pair = (name, value)

    def _in_scope(self, process: psutil.Process) -> bool:
        if self.scope == "all":
            return True
        if self._env_pair is None:
            return False
        try:
            return bool(process.environ().get(self._env_pair[0]) == self._env_pair[1])
        except (psutil.Error, OSError):
            return False

    def sample(self, now: float) -> dict[int, ProcessUsage]:
        """One sample of every in-scope process; CPU is over the time since the last sample."""
        seen: dict[int, ProcessUsage] = {}
        alive: set[int] = set()
        for process in psutil.process_iter():
            pid = process.pid
            alive.add(pid)
            if pid in self._exempt:
                continue
            try:
                created = process.create_time()
                tracked = self._tracked.get(pid)
                if tracked is None or tracked.process.create_time() != created:
                    if self._skipped.get(pid) == created:
                        continue
                    if not self._in_scope(process):
                        self._skipped[pid] = created
                        continue
                    self._tracked[pid] = _Tracked(process)
                    process.cpu_percent(None)  # primes the counter; its first value means nothing
                    continue
                cpu = tracked.process.cpu_percent(None)
                rss = tracked.process.memory_info().rss
                name = tracked.process.name()
            except (psutil.Error, OSError):
                self._tracked.pop(pid, None)
                continue
            ram = 100.0 * rss / self.memory_bytes
            over = cpu > self.limits.cpu_percent_above or ram > self.limits.ram_percent_above
            if over and tracked.over_since is None:
                tracked.over_since = now
            elif not over:
                tracked.over_since = None
            seen[pid] = ProcessUsage(pid, name, cpu, ram, tracked.over_since)
        for gone in set(self._tracked) - alive:
            del self._tracked[gone]
        for gone in set(self._skipped) - alive:
            del self._skipped[gone]
        return seen


@dataclass(eq=False)
class FactGatherer:
    """Builds the HostFacts the action gate decides on, from supervisord, disk and processes."""

    supervisor: Supervisor | None
    managed: tuple[str, ...]  # the supervisord programs this agent may restart
    #: Managed service -> the URL whose 200 says it is healthy (AgentConfig.health_checks).
    health_checks: Mapping[str, str]
    disk_path: Path  # on the log volume whose usage SOP 4's 90 % rule reads
    sampler: ProcessSampler | None  # None: no process is in scope for runaway kills
    client: httpx.AsyncClient
    health_timeout_s: float
    #: Where the time an answer took is read from (wall seconds; a test's own clock).
    monotonic: Callable[[], float] = time.monotonic
    #: Managed service -> wall seconds its last health check took to answer 200, this round.
    health_check_wall_s: dict[str, float] = field(default_factory=dict)

    async def healthy(self, service: str) -> bool:
        """``service`` answers its health check with a 200 (True when it has none); the time
        the 200 took goes to ``health_check_wall_s`` (cell0 P2: "API latency > 5 seconds")."""
        url = self.health_checks.get(service)
        if url is None:
            return True
        started = self.monotonic()
        try:
            response = await self.client.get(url, timeout=self.health_timeout_s)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        self.health_check_wall_s[service] = self.monotonic() - started
        return True

    async def service_states(self) -> dict[str, str]:
        """Managed program -> running | down | degraded (running but failing its health check)."""
        self.health_check_wall_s = {}  # this round's answers only
        states: dict[str, str] = {}
        if self.supervisor is not None:
            try:
                all_states = await self.supervisor.states()
            except SupervisorCallError:
                # Unknown is not down: no restart and no incident on a guess (fail closed).
                return {}
            states = {name: all_states.get(name, "down") for name in self.managed}
            # A program supervisord is stopping is neither up nor down yet: restarting it
            # now races supervisord's own stop, so it waits for the next round.
            states = {name: state for name, state in states.items() if state != "stopping"}
        checked: dict[str, str] = {}
        for name, state in states.items():
            healthy = state == "down" or await self.healthy(name)
            if state == "starting":
                # Still coming up: running once it answers, else left for a later round
                # (neither down nor degraded: no restart and no incident on a boot).
                if healthy:
                    checked[name] = "running"
                continue
            checked[name] = state if healthy else "degraded"
        return checked

    async def gather(self, now: float) -> HostFacts:
        """Everything the gate needs, sampled now."""
        processes = self.sampler.sample(now) if self.sampler else {}
        disk = disk_usage_percent(self.disk_path) if os.path.exists(self.disk_path) else None
        return HostFacts(
            now=now,
            service_states=await self.service_states(),
            disk_usage_percent=disk,
            processes=processes,
            health_check_wall_s=dict(self.health_check_wall_s),
        )
