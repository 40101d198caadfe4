"""Host facts from the real machine: in-scope runaway processes, disk usage, memory size."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from sop.policy import load_policy
from sut.agent.facts import ProcessSampler, disk_usage_percent, host_memory_bytes

POLICY = load_policy()
LIMITS = POLICY.green_list.kill_runaway
SCOPE_VAR = "SOPDRILL_HOST_ID"
#: How long a sampled condition may take to show; a busy loop shows within a second or two.
DEADLINE_S = 10.0
#: Pace between samples: CPU share is measured over this interval, too short is all noise.
SAMPLE_PACE_S = 0.1
#: Busy on every core it gets: hashing large buffers releases the GIL, so two threads can
#: show above 100 % of one CPU even on a shared, loaded machine (psutil counts per CPU).
BUSY = (
    "import hashlib, threading\n"
    "def burn():\n"
    "    data = bytes(1 << 20)\n"
    "    while True:\n"
    "        hashlib.sha256(data).digest()\n"
    "for _ in range(2):\n"
    "    threading.Thread(target=burn, daemon=True).start()\n"
    "burn()\n"
)
IDLE = "import time; time.sleep(1000)"


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start Python children (busy or idle) with extra environment; all killed at the end."""
    children: list[subprocess.Popen[bytes]] = []

    def start(code: str, **env: str) -> subprocess.Popen[bytes]:
        base = {k: v for k, v in os.environ.items() if k != SCOPE_VAR}
        child = subprocess.Popen([sys.executable, "-c", code], env={**base, **env})
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(5)


def host_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def sample_until(sampler: ProcessSampler, condition, describe: str):
    """Sample at a steady pace until ``condition(samples, now)`` holds; fail at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    history = []
    while True:
        now = time.monotonic() / 60.0
        seen = sampler.sample(now)
        history.append((now, seen))
        if condition(seen, now):
            return history
        if time.monotonic() > deadline:
            last = history[-1][1]
            pytest.fail(f"never saw {describe} within {DEADLINE_S} s; last sample: {last}")
        time.sleep(SAMPLE_PACE_S)


def test_a_busy_in_scope_process_is_tracked_over_the_cpu_threshold(spawn):
    scope = host_id()
    busy = spawn(BUSY, **{SCOPE_VAR: scope})
    outsider = spawn(IDLE)  # no scope variable at all
    stranger = spawn(IDLE, **{SCOPE_VAR: host_id()})  # another host's process
    sampler = ProcessSampler(f"env:{SCOPE_VAR}={scope}", LIMITS, host_memory_bytes(None))

    history = sample_until(
        sampler,
        lambda seen, _: busy.pid in seen and seen[busy.pid].cpu_percent > LIMITS.cpu_percent_above,
        f"pid {busy.pid} above {LIMITS.cpu_percent_above} % CPU",
    )

    now, seen = history[-1]
    usage = seen[busy.pid]
    assert usage.pid == busy.pid
    assert usage.name.startswith("python")
    assert usage.over_since is not None
    # over_since is the SOP minute of the first sample that saw it over, never in the future.
    first_over = min(t for t, s in history if busy.pid in s and s[busy.pid].over_since is not None)
    assert usage.over_since <= now
    assert usage.over_since >= first_over
    for _, sample in history:
        assert outsider.pid not in sample
        assert stranger.pid not in sample
        assert os.getpid() not in sample


def test_over_since_holds_while_over_and_clears_when_the_process_calms_down(spawn):
    scope = host_id()
    child = spawn(IDLE, **{SCOPE_VAR: scope})
    # A tiny "host" makes an idle interpreter a RAM hog: a deterministic way to be over.
    tiny = ProcessSampler(f"env:{SCOPE_VAR}={scope}", LIMITS, memory_bytes=1024 * 1024)
    history = sample_until(tiny, lambda seen, _: child.pid in seen, f"pid {child.pid} tracked")
    first_now, first = history[-1]
    assert first[child.pid].ram_percent > LIMITS.ram_percent_above
    assert first[child.pid].over_since == first_now

    later = tiny.sample(first_now + 7.0)
    assert later[child.pid].over_since == first_now  # still over: the clock keeps running

    # The same process on a host with room to spare is not over: over_since resets.
    tiny.memory_bytes = 1 << 50
    calm = tiny.sample(first_now + 8.0)
    assert calm[child.pid].over_since is None


def test_a_process_that_exits_is_forgotten(spawn):
    scope = host_id()
    child = spawn(IDLE, **{SCOPE_VAR: scope})
    sampler = ProcessSampler(f"env:{SCOPE_VAR}={scope}", LIMITS, host_memory_bytes(None))
    sample_until(sampler, lambda seen, _: child.pid in seen, f"pid {child.pid} tracked")
    child.kill()
    child.wait(5)
    assert child.pid not in sampler.sample(time.monotonic() / 60.0)


@pytest.mark.parametrize("scope", [None, "", "env:", "env:NOEQUALS", "pid:1", "ALL"])
def test_without_a_usable_scope_no_process_is_a_candidate(spawn, scope):
    marker = host_id()
    child = spawn(IDLE, **{SCOPE_VAR: marker})
    sampler = ProcessSampler(scope, LIMITS, host_memory_bytes(None))
    for step in range(3):
        assert sampler.sample(float(step)) == {}
    assert child.poll() is None


def test_scope_all_takes_every_process_but_the_agent_and_its_ancestors(spawn):
    child = spawn(IDLE)
    sampler = ProcessSampler("all", LIMITS, host_memory_bytes(None))
    history = sample_until(sampler, lambda seen, _: child.pid in seen, f"pid {child.pid} tracked")
    exempt = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    for _, sample in history:
        assert not exempt & set(sample)


def test_disk_usage_of_a_real_directory_is_a_sane_percentage(tmp_path):
    usage = disk_usage_percent(tmp_path)
    assert usage is not None
    assert 0.0 < usage <= 100.0
    stats = os.statvfs(tmp_path)
    used = (stats.f_blocks - stats.f_bfree) / stats.f_blocks * 100.0
    assert usage == pytest.approx(used, abs=1.0)


def test_disk_usage_of_a_missing_path_is_unknown(tmp_path):
    assert disk_usage_percent(tmp_path / "missing") is None


def test_host_memory_is_the_configured_size_else_a_real_one():
    assert host_memory_bytes(123_456_789) == 123_456_789
    machine = host_memory_bytes(None)
    assert 0 < machine <= max(psutil.virtual_memory().total, machine)
    assert machine >= 16 * 1024 * 1024
