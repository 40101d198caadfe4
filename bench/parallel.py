"""The nightly suite one after the other and side by side, in one run, and its overhead.

A script, not a test (issue 12's performance record). It runs the nightly suite twice on
the same checkout and machine, first serially (``-n 1``), then on ``--workers`` (default
``auto``), and records (bench/results/parallel.json):

- each run's wall time and verdicts, and serial over parallel as a ratio;
- each run's CPU: the seconds the machine's cores were busy while it ran (/proc/stat; the
  bench wants an otherwise idle machine), and the floor that sets: no worker count can
  finish the suite faster than its CPU seconds over the machine's cores;
- the overhead ratio: a run's wall time over the sum of the SOP waits its drills cannot
  avoid. A drill's unavoidable wait is the SOP minutes it lasted in a real-time run
  (fixtures/drill_durations.json, written by bench/quarterly.py: at time scale 1 the
  harness's own seconds, bringing a topology up and down, are under 0.05 SOP minutes of
  a drill's 5 to 40), taken at the run's time scale. A nightly-only drill absent from that
  table (the generated schedules, the fleet) counts its SOP minutes from the serial run
  itself, harness time included, so the ratio can only look worse than it is; the JSON
  names them.

    .venv/bin/python bench/parallel.py                     # serial, then -n auto
    .venv/bin/python bench/parallel.py --workers 3
    .venv/bin/python bench/parallel.py --from runs/serial runs/parallel   # record two runs

Target (issue 12): the nightly suite on the local backend in at most 90 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quarterly import DURATIONS, REPO, SOPDRILL, drills_of, started

RESULTS = REPO / "bench" / "results" / "parallel.json"
TARGET_SECONDS = 90.0
#: Beside a run's artifacts: its CPU figures, measured while it ran (``--from`` reads them).
CPU_FILE = "bench-cpu.json"


def busy_cpu_seconds(stat: Path = Path("/proc/stat")) -> float:
    """The seconds all the machine's cores have been busy since boot (not idle, not iowait)."""
    fields = [int(v) for v in stat.read_text(encoding="ascii").split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4] if len(fields) > 4 else 0
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds ``action`` took, and the CPU seconds the machine's cores spent meanwhile
    (its processes and their children; the bench wants an otherwise idle machine)."""
    busy, started = busy_cpu_seconds(), time.monotonic()
    action()
    return time.monotonic() - started, busy_cpu_seconds() - busy


def cpu_figures(busy_s: float, wall_s: float, cores: int) -> dict[str, float]:
    """A run's CPU seconds, the cores it kept busy on average, and the wall-time floor."""
    return {
        "cpu_s": round(busy_s, 1),
        "cores": cores,
        "busy_cores": round(busy_s / wall_s, 2) if wall_s > 0 else 0.0,
        "cpu_floor_s": round(busy_s / cores, 1),
    }


def real_time_minutes(path: Path = DURATIONS) -> dict[str, float]:
    """Each drill's SOP minutes as a real-time (quarterly) run measured them."""
    return dict(json.loads(path.read_text(encoding="utf-8"))["drills"])


def run_figures(out: Path) -> dict[str, Any]:
    """A finished run's wall seconds, time scale, drills (SOP minutes each) and misses."""
    run = json.loads((out / "evidence.json").read_text(encoding="utf-8"))["run"]
    scale = float(run.get("time_scale") or 60.0)
    wall_s, minutes, missed = drills_of(out / "junit.xml", scale)
    cpu_file = out / CPU_FILE
    cpu = json.loads(cpu_file.read_text(encoding="utf-8")) if cpu_file.is_file() else None
    return {
        "cpu": cpu,
        "dir": str(out),
        "started_at": started(out / "junit.xml") or run.get("started_at"),
        "backend": run.get("backend"),
        "time_scale": scale,
        "wall_s": round(wall_s, 1),
        "drills": len(minutes),
        "passed": len(minutes) - len(missed),
        "not_passed": missed,
        "sop_minutes": minutes,
    }


def unavoidable_waits(
    serial_minutes: dict[str, float], table: dict[str, float]
) -> tuple[float, list[str]]:
    """The SOP minutes the drills cannot avoid, and the drills counted from the run itself
    (no real-time figure for them): those carry the harness's own time too."""
    total = 0.0
    from_run: list[str] = []
    for nodeid, minutes in serial_minutes.items():
        if nodeid in table:
            total += table[nodeid]
        else:
            total += minutes
            from_run.append(nodeid)
    return total, sorted(from_run)


def summarise(
    serial: dict[str, Any], parallel: dict[str, Any], workers: str, table: dict[str, float]
) -> dict[str, Any]:
    """The record: both runs, their ratio, and each run's wall over the unavoidable waits."""
    if serial["time_scale"] != parallel["time_scale"]:
        raise SystemExit(
            f"bench/parallel.py: the runs differ in time scale "
            f"({serial['time_scale']:g} and {parallel['time_scale']:g}): not one comparison"
        )
    sop_minutes, from_run = unavoidable_waits(serial["sop_minutes"], table)
    waits_s = sop_minutes * 60 / serial["time_scale"]
    brief = {k: v for k, v in serial.items() if k != "sop_minutes"}
    side = {k: v for k, v in parallel.items() if k != "sop_minutes"}
    return {
        "measured_at": serial["started_at"],
        "backend": serial["backend"],
        "time_scale": serial["time_scale"],
        "workers": workers,
        "serial": brief,
        "parallel": side,
        "serial_over_parallel": round(serial["wall_s"] / parallel["wall_s"], 2),
        "unavoidable_sop_minutes": round(sop_minutes, 1),
        "unavoidable_wait_s": round(waits_s, 1),
        "waits_counted_from_the_serial_run": from_run,
        "overhead_ratio": {
            "serial": round(serial["wall_s"] / waits_s, 2),
            "parallel": round(parallel["wall_s"] / waits_s, 2),
        },
        "target_s": TARGET_SECONDS,
    }


def run_suite(workers: str, backend: str, root: Path) -> Path:
    """Run the nightly suite on ``workers`` and return its artifacts directory."""
    out = root / f"nightly-n{workers}"
    command = [str(SOPDRILL), "run", "--suite", "nightly", "--backend", backend]
    command += ["-n", workers, "--out", str(out)]
    print(f"bench/parallel.py: sopdrill {' '.join(command[1:])}", flush=True)
    wall, busy = timed_cpu(lambda: subprocess.run(command, cwd=REPO, check=False))
    if not (out / "junit.xml").is_file():
        raise SystemExit(f"bench/parallel.py: {out}: the run left no junit.xml")
    figures = cpu_figures(busy, wall, os.cpu_count() or 1)
    (out / CPU_FILE).write_text(json.dumps(figures) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run (or read) the nightly suite serially and in parallel, and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="auto", help="-n of the parallel run (auto)")
    parser.add_argument("--backend", default="local", choices=("local", "docker"))
    parser.add_argument(
        "--from",
        dest="runs",
        nargs=2,
        type=Path,
        metavar=("SERIAL", "PARALLEL"),
        help="record two finished runs instead",
    )
    args = parser.parse_args(argv)
    if args.runs is not None:
        serial_dir, parallel_dir = args.runs
    else:
        root = Path(tempfile.mkdtemp(prefix="sopdrill-parallel-"))
        serial_dir = run_suite("1", args.backend, root)
        parallel_dir = run_suite(args.workers, args.backend, root)
    result = summarise(
        run_figures(serial_dir), run_figures(parallel_dir), args.workers, real_time_minutes()
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    serial, parallel = result["serial"], result["parallel"]
    print(
        f"nightly {result['backend']}: serial {serial['passed']}/{serial['drills']} in "
        f"{serial['wall_s']:.0f} s, -n {args.workers} {parallel['passed']}/"
        f"{parallel['drills']} in {parallel['wall_s']:.0f} s: ratio "
        f"{result['serial_over_parallel']}; unavoidable SOP waits "
        f"{result['unavoidable_wait_s']:.0f} s "
        f"({result['unavoidable_sop_minutes']} SOP-min at scale {result['time_scale']:g}); "
        f"overhead {result['overhead_ratio']['serial']} serial, "
        f"{result['overhead_ratio']['parallel']} parallel (target {TARGET_SECONDS:g} s)"
    )
    for name in ("serial", "parallel"):
        if cpu := result[name]["cpu"]:
            print(
                f"  {name}: {cpu['cpu_s']:.0f} CPU s, {cpu['busy_cores']} of {cpu['cores']} "
                f"cores busy on average: no worker count finishes under {cpu['cpu_floor_s']:.0f} s"
            )
    return 0 if not (serial["not_passed"] or parallel["not_passed"]) else 1


if __name__ == "__main__":
    sys.exit(main())
