"""Score the drills against the mutant catalogue: how many planted SOP violations they catch.

A script, not a test (issue 10, "the drills' own score"); run it by hand or from tox:

    .venv/bin/python bench/mutation_score.py                       # every mutant (long)
    .venv/bin/python bench/mutation_score.py --only threshold-silence-halved,template-host-missing
    .venv/bin/python bench/mutation_score.py --list

For each mutant of bench/mutants.toml: apply it to one scratch copy of the repository
(scratch_tree.py), prove that the services import the mutated file, run the mutant's
nightly drills on the local backend against that copy (one pytest at a time, ``-x``), and
restore the copy. A mutant is *caught* when a drill failed, *survived* when every drill
passed, *error* when the drills could not be run. Prints one line per mutant, then
``caught N/M`` and the survivors; writes the results as JSON; exits 0 only if all were
caught. SIGINT/SIGTERM end the running drill through its own teardown, then sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from mutant_catalogue import CatalogueError, Mutant, apply_mutant, load_catalogue, select
from scratch_tree import (
    ScratchError,
    ScratchTree,
    ServiceLaunch,
    prove_services_import,
    scratch_tree,
)

REPO = Path(__file__).resolve().parent.parent

#: pytest's exit statuses: 0 all passed, 1 some failed; anything else is not a verdict.
PASSED, FAILED = 0, 1

#: How long a drill run is given to tear down after SIGINT before it is killed.
TEARDOWN_GRACE_S = 90.0


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the run stops after cleaning up."""


@dataclass(frozen=True)
class Score:
    """One mutant's verdict: caught, survived or error, with the first failing drill."""

    id: str
    clause: str
    status: str
    drills: tuple[str, ...]
    seconds: float
    first_failure: str | None = None
    reason: str | None = None

    def line(self) -> str:
        """The progress line printed when the mutant is done."""
        head = f"{self.id}: {self.status} in {self.seconds:.0f} s ({', '.join(self.drills)})"
        if self.first_failure:
            return f"{head}\n    first failing: {self.first_failure}: {self.reason}"
        return f"{head}\n    {self.reason}" if self.reason else head


def first_failure(junit: Path) -> tuple[str, str] | None:
    """The first failed or erroring test case of a JUnit XML file and its one-line reason."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        for outcome in ("failure", "error"):
            found = case.find(outcome)
            if found is not None:
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                message = (found.get("message") or found.text or outcome).strip()
                reason = message.splitlines()[0][:300] if message else outcome
                # An error is in a fixture (the SUT did not come up, or teardown found a
                # leak): still a failed drill, but say so, it may be the machine.
                return name, reason if outcome == "failure" else f"error in setup: {reason}"
    return None


def counts(junit: Path) -> str:
    """'P passed, S skipped' of a JUnit file (a survivor's drills may all have skipped)."""
    try:
        suite = next(ET.parse(junit).getroot().iter("testsuite"))
    except (OSError, ET.ParseError, StopIteration):
        return "no JUnit result"
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    return f"every drill passed ({total - skipped} passed, {skipped} skipped)"


class DrillRunner:
    """Runs a mutant's drills in the scratch copy, one pytest child at a time."""

    def __init__(self, tree: ScratchTree, work: Path, time_scale: float) -> None:
        self.tree = tree
        self.work = work
        self.time_scale = time_scale
        self.child: subprocess.Popen[bytes] | None = None

    def run(self, mutant: Mutant) -> tuple[int, Path, Path]:
        """pytest's exit status, its JUnit file and its output log."""
        junit = self.work / "junit" / f"{mutant.id}.xml"
        output = self.work / "logs" / f"{mutant.id}.log"
        junit.parent.mkdir(exist_ok=True)
        output.parent.mkdir(exist_ok=True)
        argv = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q",
            "-m", "nightly", "--drill-backend", "local",
            "--drill-time-scale", f"{self.time_scale:g}",
            "--drill-evidence-dir", str(self.work / "evidence" / mutant.id),
            f"--junitxml={junit}", *mutant.drills,
        ]  # fmt: skip
        with output.open("wb") as log:
            # Its own session: the terminal's Ctrl-C reaches us, and we hand it on (stop()).
            self.child = subprocess.Popen(
                argv, cwd=self.tree.root, env=self.tree.environment(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                status = self.child.wait()
            finally:
                self.stop()
        return status, junit, output

    def stop(self) -> None:
        """End the running pytest: SIGINT first (its teardown takes the SUT down), then KILL."""
        child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=TEARDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def score_one(
    mutant: Mutant, tree: ScratchTree, runner: DrillRunner, agent: ServiceLaunch
) -> Score:
    """Apply, prove, run, restore: the verdict on one mutant."""
    started = time.monotonic()
    applied = apply_mutant(mutant, tree.root)
    try:
        tree.prove_mutant_imported(mutant, agent)
        status, junit, output = runner.run(mutant)
    finally:
        applied.restore()
        tree.check_pristine()
    seconds = time.monotonic() - started
    if status == FAILED:
        failed = first_failure(junit) or ("?", f"see {output}")
        return Score(mutant.id, mutant.clause, "caught", mutant.drills, seconds, *failed)
    if status == PASSED:
        passed = counts(junit)
        return Score(mutant.id, mutant.clause, "survived", mutant.drills, seconds, None, passed)
    reason = f"pytest exited {status}; see {output}"
    return Score(mutant.id, mutant.clause, "error", mutant.drills, seconds, None, reason)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Interrupted(signal.Signals(signum).name)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant ids (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--backend", choices=["local"], default="local",
        help="where the drills run; only local runs the scratch copy's sut/ (docker images "
        "are built from the installed tree)",
    )  # fmt: skip
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="SOP minutes per wall minute (60)"
    )
    parser.add_argument(
        "--result", type=Path, default=REPO / ".sopdrill" / "mutation-score.json",
        help="where the JSON result goes (default: .sopdrill/mutation-score.json)",
    )  # fmt: skip
    parser.add_argument("--catalogue", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def listing(mutants: tuple[Mutant, ...]) -> str:
    """One line per mutant: id, clause, description, drills."""
    return "\n".join(
        f"{m.id:36} {m.clause:34} {m.description}\n{'':36} drills: {', '.join(m.drills)}"
        for m in mutants
    )


def summary(scores: list[Score], total: int) -> str:
    """``caught N/M`` and the survivors (and errors), as printed at the end."""
    caught = sum(score.status == "caught" for score in scores)
    lines = [f"caught {caught}/{total}"]
    lines += [f"  survived: {s.id} ({s.clause})" for s in scores if s.status == "survived"]
    lines += [f"  error: {s.id}: {s.reason}" for s in scores if s.status == "error"]
    if len(scores) < total:
        lines.append(f"  not run (interrupted): {total - len(scores)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        catalogue = load_catalogue(args.catalogue) if args.catalogue else load_catalogue()
        only = None if args.only is None else args.only.split(",")
        mutants = select(catalogue, only)
    except CatalogueError as exc:
        print(f"mutation_score: {exc}", file=sys.stderr)
        return 2
    if args.list:
        print(listing(mutants))
        return 0
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in stops}
    scores: list[Score] = []
    interrupted = None
    try:
        with scratch_tree(REPO) as (tree, work):
            print(f"scratch copy {tree.root}; runs dir {tree.runs_dir}", flush=True)
            agent = prove_services_import(tree, work, args.time_scale)
            print(f"proof: the agent and dispatcher import sut from {tree.root}", flush=True)
            runner = DrillRunner(tree, work, args.time_scale)
            try:
                for index, mutant in enumerate(mutants, 1):
                    print(f"[{index}/{len(mutants)}] {mutant.id} ...", flush=True)
                    scores.append(score_one(mutant, tree, runner, agent))
                    print(f"[{index}/{len(mutants)}] {scores[-1].line()}", flush=True)
            finally:
                runner.stop()
    except Interrupted as exc:
        interrupted = str(exc)
    except (CatalogueError, ScratchError) as exc:
        print(f"mutation_score: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(summary(scores, len(mutants)))
    args.result.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "caught": sum(s.status == "caught" for s in scores),
        "total": len(mutants),
        "interrupted": interrupted,
        "time_scale": args.time_scale,
        "backend": args.backend,
        "mutants": [asdict(score) for score in scores],
    }
    args.result.write_text(json.dumps(document, indent=2) + "\n")
    print(f"result: {args.result}")
    if interrupted:
        return 130
    return 0 if document["caught"] == len(mutants) else 1


if __name__ == "__main__":
    raise SystemExit(main())
