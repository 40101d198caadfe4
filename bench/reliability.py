"""How often do the drills fail for anything but the SOP? Suites run back to back, counted.

A script, not a test: it runs whole suites (minutes each) one after another, as a nightly
gate would on consecutive nights, and counts every drill's outcome. On the unmutated SUT
the only acceptable figures are 0 failures and 0 harness errors (issue 14: "a drill fails
only for the SOP").

    .venv/bin/python bench/reliability.py                    # smoke x10, nightly x3, local
    .venv/bin/python bench/reliability.py --smoke 2 --nightly 0 --backend docker

Each run's artifacts stay under --out (default: a fresh temporary directory) so a failure
can be read in its report.html; the counts go to bench/results/reliability.json too. The
exit status is 0 only when every drill of every run passed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "reliability.json"
SOPDRILL = Path(sys.executable).parent / "sopdrill"
EVIDENCE_FILE = "evidence.json"  # sop/evidence.py's name for it (a script: no import)
#: A journal outcome the harness's own exception gave (fixtures/journal.py).
HARNESS_ERROR = "harness_error"


@dataclass
class Tally:
    """Drill outcomes over runs: how many passed, failed the SOP, or met a harness error."""

    runs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    #: "suite #n: drill (outcome): reason" for every drill that did not pass.
    not_passed: list[str] = field(default_factory=list)
    #: Runs that left no evidence at all (pytest or the CLI broke before any drill).
    broken_runs: list[str] = field(default_factory=list)

    @property
    def harness_errors(self) -> int:
        """Drills ended by the harness's own exception: the SOP was not judged."""
        return self.outcomes[HARNESS_ERROR]

    @property
    def sop_failures(self) -> int:
        """Drills that did not pass for any other reason (failed, error, skipped...)."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "passed") - (
            self.harness_errors
        )

    def add(self, label: str, journal: Iterable[Mapping[str, Any]]) -> None:
        """Count one run's journal (evidence.json's ``journal``)."""
        self.runs += 1
        for drill in journal:
            outcome = str(drill.get("outcome"))
            self.outcomes[outcome] += 1
            if outcome != "passed":
                reason = " ".join(str(drill.get("reason") or "").split())[:200]
                self.not_passed.append(f"{label}: {drill.get('nodeid')} ({outcome}): {reason}")

    def summary(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "drills": sum(self.outcomes.values()),
            "passed": self.outcomes["passed"],
            "sop_failures": self.sop_failures,
            "harness_errors": self.harness_errors,
            "broken_runs": self.broken_runs,
            "outcomes": dict(self.outcomes),
            "not_passed": self.not_passed,
        }


def run_suite(
    suite: str,
    backend: str,
    scale: float,
    out: Path,
    pytest_args: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> tuple[int, float]:
    """One `sopdrill run` (with ``flags``); its exit status and wall seconds (its output
    goes to out.log)."""
    started = time.monotonic()
    extra = [*flags, "--", *pytest_args] if pytest_args else [*flags]
    with (out.parent / f"{out.name}.log").open("w", encoding="utf-8") as log:
        done = subprocess.run(
            [SOPDRILL, "run", "--suite", suite, "--backend", backend, "--time-scale", f"{scale:g}",
             "--out", str(out), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )  # fmt: skip
    return done.returncode, time.monotonic() - started


def read_journal(out: Path) -> list[dict[str, Any]] | None:
    try:
        data = json.loads((out / EVIDENCE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    journal: list[dict[str, Any]] = data.get("journal", [])
    return journal


@dataclass(frozen=True)
class Plan:
    suites: tuple[tuple[str, int], ...]
    backend: str
    scale: float
    out: Path


def measure(plan: Plan) -> dict[str, dict[str, Any]]:
    """Run every suite its number of times; a tally per suite, progress on stdout."""
    figures: dict[str, dict[str, Any]] = {}
    for suite, times in plan.suites:
        tally = Tally()
        walls: list[float] = []
        for n in range(1, times + 1):
            out = plan.out / f"{suite}-{n:02d}"
            code, wall = run_suite(suite, plan.backend, plan.scale, out)
            walls.append(wall)
            label = f"{suite} #{n}"
            journal = read_journal(out)
            if journal is None:
                tally.broken_runs.append(f"{label}: exit {code}, no evidence (see {out}.log)")
                tally.runs += 1
            else:
                tally.add(label, journal)
            seen = Counter(str(drill.get("outcome")) for drill in journal or [])
            print(
                f"{label}/{times}: exit {code} in {wall:.0f} s; "
                + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())),
                flush=True,
            )
        figures[suite] = {**tally.summary(), "wall_s": [round(w, 1) for w in walls]}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", type=int, default=10, help="smoke runs (default 10)")
    parser.add_argument("--nightly", type=int, default=3, help="nightly runs (default 3)")
    parser.add_argument("--backend", choices=("local", "docker"), default="local")
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--out", type=Path, help="where each run's artifacts go")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="sopdrill-reliability-"))
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan(
        tuple((s, n) for s, n in (("smoke", args.smoke), ("nightly", args.nightly)) if n > 0),
        args.backend,
        args.time_scale,
        out,
    )
    started = datetime.now(UTC)
    figures = measure(plan)
    record = {
        "measured_at": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()},
        "suites": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'suite':<9} {'runs':>4} {'drills':>6} {'passed':>6} {'SOP fail':>8} {'harness':>7}")
    clean = True
    for suite, f in figures.items():
        print(
            f"{suite:<9} {f['runs']:>4} {f['drills']:>6} {f['passed']:>6} "
            f"{f['sop_failures']:>8} {f['harness_errors']:>7}"
        )
        for line in [*f["broken_runs"], *f["not_passed"]]:
            print(f"  {line}")
        clean &= not (f["sop_failures"] or f["harness_errors"] or f["broken_runs"])
    print(f"\nartifacts in {out}; figures in {RESULTS.relative_to(REPO)}")
    return 0 if clean else 1


def _commit() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
