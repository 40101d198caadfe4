"""How long does the quarterly drill take? One run of the suite in real time, recorded.

A script, not a test (issue 12's performance record). The quarterly suite runs every drill
at the SOP's own timings (time scale 1, SOP section 6), side by side on ``-n`` workers; a
single drill holds up to 40 minutes, all together hours. This runs it once (or reads a run
already made, ``--from DIR``) and records:

- the wall time, the worker count and the verdicts (bench/results/quarterly.json);
- each drill's SOP minutes (fixtures/drill_durations.json), from which the drills are
  dealt out longest first (fixtures/deal.py), and the bound that order reaches on 8 to
  32 workers (longest-processing-time first over the measured durations).

    .venv/bin/python bench/quarterly.py                    # sopdrill run --suite quarterly -n auto
    .venv/bin/python bench/quarterly.py --workers 24
    .venv/bin/python bench/quarterly.py --from runs/quarterly   # record a finished run

Target (issue 12): at most 35 minutes, about the longest drill.
"""

from __future__ import annotations

import argparse
import heapq
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "quarterly.json"
DURATIONS = REPO / "fixtures" / "drill_durations.json"
SOPDRILL = Path(sys.executable).parent / "sopdrill"
TARGET_MINUTES = 35.0


def started(junit: Path) -> str | None:
    """When the pytest session began (JUnit's ``timestamp``; the evidence is written at the
    end, so its ``started_at`` is the merge's instant, not the run's)."""
    suite = ET.parse(junit).getroot().find("testsuite")
    return None if suite is None else suite.get("timestamp")


def drills_of(junit: Path, time_scale: float) -> tuple[float, dict[str, float], list[str]]:
    """The session's wall seconds, each drill's SOP minutes, the drills that did not pass."""
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None, f"{junit}: no testsuite"
    minutes: dict[str, float] = {}
    missed: list[str] = []
    for case in suite.iter("testcase"):
        module = str(case.get("classname")).replace(".", "/") + ".py"
        nodeid = f"{module}::{case.get('name')}"
        minutes[nodeid] = round(float(case.get("time") or 0) * time_scale / 60, 2)
        if any(case.find(tag) is not None for tag in ("failure", "error")):
            missed.append(nodeid)
    return float(suite.get("time") or 0), minutes, missed


def lpt_bound(minutes: list[float], workers: int) -> float:
    """The wall minutes the longest-first deal reaches on ``workers`` (at real time)."""
    ends = [0.0] * workers
    for length in sorted(minutes, reverse=True):
        heapq.heapreplace(ends, ends[0] + length)
    return max(ends)


def record(out: Path, workers: str, command: str) -> dict[str, Any]:
    """Write the results and the durations table from the finished run in ``out``."""
    run = json.loads((out / "evidence.json").read_text(encoding="utf-8"))["run"]
    scale = float(run.get("time_scale") or 1.0)
    wall_s, minutes, missed = drills_of(out / "junit.xml", scale)
    longest = max(minutes, key=minutes.__getitem__)
    result = {
        "measured_at": started(out / "junit.xml") or run.get("started_at"),
        "command": command,
        "backend": run.get("backend"),
        "time_scale": scale,
        "workers": workers,
        "wall_minutes": round(wall_s / 60, 1),
        "target_minutes": TARGET_MINUTES,
        "drills": len(minutes),
        "passed": len(minutes) - len(missed),
        "not_passed": missed,
        "sop_minutes_in_all": round(sum(minutes.values()), 1),
        "longest": {"drill": longest, "sop_minutes": minutes[longest]},
        "longest_first_bound_minutes": {
            str(n): round(lpt_bound(list(minutes.values()), n), 1) for n in (8, 12, 16, 24, 32)
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = {
        "measured_at": started(out / "junit.xml") or run.get("started_at"),
        "source": "python bench/quarterly.py (a quarterly run: SOP minutes per drill)",
        "drills": dict(sorted(minutes.items())),
    }
    DURATIONS.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run (or read) a quarterly suite and record its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="auto", help="-n for sopdrill run (default auto)")
    parser.add_argument("--from", dest="source", type=Path, help="record this finished run")
    parser.add_argument("--backend", default="local", choices=("local", "docker"))
    args = parser.parse_args(argv)
    if args.source is not None:
        command = f"record of {args.source}"
        out = args.source
    else:
        out = Path(tempfile.mkdtemp(prefix="sopdrill-quarterly-")) / "run"
        run = [str(SOPDRILL), "run", "--suite", "quarterly", "--backend", args.backend]
        run += ["--time-scale", "1", "-n", str(args.workers), "--out", str(out)]
        command = "sopdrill " + " ".join(run[1:-2])
        print(f"bench/quarterly.py: {command} (artifacts in {out})", flush=True)
        subprocess.run(run, cwd=REPO, check=False)
    result = record(out, str(args.workers), command)
    print(
        f"quarterly: {result['passed']}/{result['drills']} drills passed in "
        f"{result['wall_minutes']} min on {args.workers} workers (target {TARGET_MINUTES:g}); "
        f"longest drill {result['longest']['sop_minutes']} min; all drills "
        f"{result['sop_minutes_in_all']} SOP-min; longest first on 16: "
        f"{result['longest_first_bound_minutes']['16']} min"
    )
    return 0 if not result["not_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
