"""A `sopdrill run` SIGKILLed mid-fault (a cancelled CI job) leaves nothing the next run keeps.

Real drills on the local backend, killed while their fault holds: the disk-full drill with
its tmpfs log volume mounted, the runaway drill with its burner allocated. The next
`sopdrill up` sweeps the orphan and says so; then no process of the run, no mount, no
burner and no secrets file of it is left. And the other way round: `sopdrill clean` during
a live run of another job (the registry is shared per user) leaves that run passing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from fixtures.faults.resources import BURNER_CODE
from fixtures.topology import RunRegistry
from fixtures.topology.mounts import run_mounts
from fixtures.topology.processes import RUN_ID_ENV, find_run_processes, terminate_processes
from fixtures.topology.registry import RUNS_DIR_ENV
from fixtures.waiting import wait_until

SOPDRILL = Path(sys.executable).parent / "sopdrill"
#: Bounds reaching the fault: pytest's start, the topology up, the steady state, the inject.
MID_FAULT_TIMEOUT_S = 180.0
#: Bounds a whole `sopdrill up` or `down`.
COMMAND_TIMEOUT_S = 120.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the disk fault mounts a tmpfs: root")


def _any_burner(root: Path) -> list[psutil.Process]:
    """The burners of the runs registered under ``root`` (another run on the machine, a
    quarterly, has burners of its own)."""
    return _burners({record.run_id for record in RunRegistry(root / "runs").records()})


def _burners(run_ids: set[str]) -> list[psutil.Process]:
    """The burners carrying one of ``run_ids`` as their run marker."""
    found = []
    for process in psutil.process_iter():
        try:
            if BURNER_CODE in process.cmdline() and process.environ().get(RUN_ID_ENV) in run_ids:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def _mounted(root: Path) -> list[Path]:
    return run_mounts(root)


def _kill_run(run: subprocess.Popen[bytes]) -> None:
    """SIGKILL `sopdrill run` and its pytest, each in its own process group, as CI does."""
    groups = {os.getpgid(run.pid)}
    for child in psutil.Process(run.pid).children():
        try:
            groups.add(os.getpgid(child.pid))
        except ProcessLookupError:
            continue
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    run.wait(timeout=30)


@pytest.mark.parametrize(
    ("drill", "mid_fault"),
    [
        ("test_full_disk_while_offline", _mounted),
        ("test_runaway_killed_offline_allowlisted_spared", _any_burner),
    ],
    ids=["disk_full", "runaway"],
)
def test_the_next_up_sweeps_a_run_killed_mid_fault(
    drill: str, mid_fault: Callable[[Path], list[object]], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        RUNS_DIR_ENV: str(runs),
        # The run's scratch (state dirs, secrets) lands here, and no Docker engine is asked.
        "TMPDIR": str(tmp_path),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
    }
    out = tmp_path / "out"
    run = subprocess.Popen(
        [SOPDRILL, "run", "--suite", "nightly", "--out", str(out), "--", "-k", drill],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    run_ids: list[str] = []
    try:
        wait_until(
            lambda: mid_fault(tmp_path),
            lambda seen: bool(seen) or run.poll() is not None,
            timeout_s=MID_FAULT_TIMEOUT_S,
            interval_s=0.2,
            describe=f"the {drill} drill's fault to be in place",
        )
        assert run.poll() is None, f"sopdrill run ended (exit {run.returncode}) before its fault"
        run_ids = [record.run_id for record in RunRegistry(runs).records()]
        assert run_ids, "the killed run registered no topology"
        _kill_run(run)
        # What the kill left for the sweep: the secrets always, the mount of the disk fault
        # (a burner dies with its parent; a mount dies with nothing).
        assert list(tmp_path.rglob("secrets.json")) != []
        if mid_fault is _mounted:
            assert _mounted(tmp_path) != []

        up = subprocess.run(
            [SOPDRILL, "up", "--state-dir", str(tmp_path / "next"), "--time-scale", "60"],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        assert up.returncode == 0, up.stderr
        for run_id in run_ids:
            assert f"swept an orphaned run: run {run_id}" in up.stderr, up.stderr
        for run_id in run_ids:
            assert find_run_processes(run_id) == []
        assert _mounted(tmp_path) == []
        assert _burners(set(run_ids)) == []
        left = [
            p for p in tmp_path.rglob("secrets.json") if not p.is_relative_to(tmp_path / "next")
        ]
        assert left == []
    finally:
        if run.poll() is None:
            _kill_run(run)
        subprocess.run(
            [SOPDRILL, "down", "--state-dir", str(tmp_path / "next")],
            env=env,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        subprocess.run(
            [SOPDRILL, "clean", "--all"], env=env, capture_output=True, timeout=COMMAND_TIMEOUT_S
        )
        for run_id in run_ids:
            terminate_processes(find_run_processes(run_id))
    assert not (tmp_path / "next" / "secrets.json").exists()


def test_clean_during_a_live_run_leaves_it_passing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        RUNS_DIR_ENV: str(runs),
        "TMPDIR": str(tmp_path),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
    }
    run = subprocess.Popen(
        [SOPDRILL, "run", "--suite", "smoke", "--out", str(tmp_path / "out"), "--", "-k",
         "short_outage"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        records = wait_until(
            lambda: RunRegistry(runs).records(),
            lambda seen: bool(seen) or run.poll() is not None,
            timeout_s=MID_FAULT_TIMEOUT_S,
            interval_s=0.2,
            describe="the live run to register its topology",
        )
        assert run.poll() is None, "the run ended before clean could meet it"
        clean = subprocess.run(
            [SOPDRILL, "clean"], env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
        assert clean.returncode == 0, clean.stderr
        assert f"left 1 live run(s) alone ({records[0].run_id})" in clean.stdout
        _, err = run.communicate(timeout=MID_FAULT_TIMEOUT_S)
        assert run.returncode == 0, err
    finally:
        if run.poll() is None:
            _kill_run(run)
        subprocess.run(
            [SOPDRILL, "clean", "--all"], env=env, capture_output=True, timeout=COMMAND_TIMEOUT_S
        )
