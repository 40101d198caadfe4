"""How fast may the drills run? The largest time scale at which they still pass, measured.

The checker judges timing with a slack of TIMING_SLACK_MINUTES (sop/checker/tolerance.py)
in SOP minutes; the faster the scale, the fewer wall milliseconds that slack is, while
the harness's sampling, HTTP round trips and process starts cost the same wall time.
This script runs the same drills at rising scales (each several times) and stops at the
first scale where a drill does not pass: the scale before it is the largest that held.
Issue 11 asks it for the generated schedules (``--schedules-seed``), issue 14 for the
``--time-scale`` bound.

    .venv/bin/python bench/time_scale.py                       # smoke x2 at 60..480
    .venv/bin/python bench/time_scale.py --suite nightly --pytest-args "-k generated" \
        --schedules-seed 20261203 --scales 60,120,240

Figures go to bench/results/time-scale.json or ``--results`` (each scale's counts and
what failed).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reliability import REPO, Tally, _commit, read_journal, run_suite

RESULTS = REPO / "bench" / "results" / "time-scale.json"
DEFAULT_SCALES = (60.0, 120.0, 240.0, 480.0)


@dataclass(frozen=True)
class Plan:
    suite: str
    backend: str
    scales: tuple[float, ...]
    runs: int
    pytest_args: tuple[str, ...]
    out: Path


def largest_held(figures: list[dict[str, Any]]) -> float | None:
    """The largest scale below which every measured scale passed (None: not even the first)."""
    held = None
    for figure in sorted(figures, key=lambda f: f["scale"]):
        if not figure["clean"]:
            break
        held = figure["scale"]
    return held


def measure_scale(plan: Plan, scale: float) -> dict[str, Any]:
    """Every run of the plan at ``scale``, counted (progress on stdout)."""
    tally = Tally()
    walls = []
    for n in range(1, plan.runs + 1):
        out = plan.out / f"x{scale:g}-{n:02d}"
        code, wall = run_suite(
            plan.suite, plan.backend, scale, out, plan.pytest_args, ("--past-tolerance",)
        )
        walls.append(round(wall, 1))
        label = f"x{scale:g} #{n}"
        journal = read_journal(out)
        if journal is None:
            tally.runs += 1
            tally.broken_runs.append(f"{label}: exit {code}, no evidence (see {out}.log)")
        else:
            tally.add(label, journal)
        print(f"{label}/{plan.runs}: exit {code} in {wall:.0f} s", flush=True)
    summary = tally.summary()
    clean = not (summary["sop_failures"] or summary["harness_errors"] or summary["broken_runs"])
    return {"scale": scale, "clean": clean and summary["drills"] > 0, "wall_s": walls, **summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--suite", default="smoke")
    parser.add_argument("--backend", choices=("local", "docker"), default="local")
    parser.add_argument(
        "--scales", default=",".join(f"{s:g}" for s in DEFAULT_SCALES),
        help="comma-separated, measured in rising order (default 60,120,240,480)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=2, help="runs per scale (default 2)")
    parser.add_argument("--pytest-args", default="", help="passed after `--` to each run")
    parser.add_argument("--schedules-seed", type=int, help="--drill-seed for generated schedules")
    parser.add_argument("--out", type=Path, help="where each run's artifacts go")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    try:
        scales = tuple(sorted(float(s) for s in args.scales.split(",") if s.strip()))
    except ValueError:
        parser.error(f"--scales: expected numbers separated by commas, got {args.scales!r}")
    extra = shlex.split(args.pytest_args)
    if args.schedules_seed is not None:
        extra += ["--drill-seed", str(args.schedules_seed)]
    out = args.out or Path(tempfile.mkdtemp(prefix="sopdrill-time-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan(args.suite, args.backend, scales, args.runs, tuple(extra), out)
    started = datetime.now(UTC)
    figures = []
    for scale in plan.scales:
        figure = measure_scale(plan, scale)
        figures.append(figure)
        if not figure["clean"]:
            break  # faster scales would only fail more: the bound is found
    held = largest_held(figures)
    record = {
        "measured_at": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        "suite": plan.suite,
        "backend": plan.backend,
        "pytest_args": list(plan.pytest_args),
        "runs_per_scale": plan.runs,
        "largest_scale_held": held,
        "scales": figures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for figure in figures:
        verdict = "held" if figure["clean"] else "FAILED"
        print(f"x{figure['scale']:g}: {figure['passed']}/{figure['drills']} passed, {verdict}")
        for line in [*figure["broken_runs"], *figure["not_passed"]]:
            print(f"  {line}")
    print(f"largest time scale held: {held if held is None else f'{held:g}'}")
    print(f"artifacts in {out}; figures in {args.results}")
    return 0 if held is not None else 1


if __name__ == "__main__":
    sys.exit(main())
