"""Do generated schedules find planted SOP violations on their own, and shrink them?

A script, not a test (issue 11's must-show). For each chosen mutant of bench/mutants.toml:
apply it to a scratch copy of the repository, run the generated-schedules drill there
(nightly profile, a fixed seed, local backend), and when it fails: count the steps of the
smallest failing schedule it wrote, replay that file in the mutated copy (it must fail
again) and, once the mutant is restored, in the clean copy (it must pass).

    .venv/bin/python bench/schedules_vs_mutants.py
    .venv/bin/python bench/schedules_vs_mutants.py --only threshold-silence-halved --seed 5

Prints one line per mutant and writes bench/results/schedules-mutants.json. Exit 0 only
when every mutant was found, shrunk to at most 3 steps, and replayed as required.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mutant_catalogue import CatalogueError, Mutant, apply_mutant, load_catalogue, select
from scratch_tree import ScratchError, ScratchTree, prove_services_import, scratch_tree

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "schedules-mutants.json"
DRILL = "drills/test_generated_schedules.py"
#: Mutants of three different SOP clauses a schedule can reach without a hand-written drill.
DEFAULT_MUTANTS = (
    "threshold-silence-halved",
    "threshold-429-one-minute",
    "threshold-one-api-failure",
)
#: The smallest failing schedule may have at most this many steps (issue 11).
MAX_SHRUNK_STEPS = 3
#: Where the drill writes its smallest failing schedule (fixtures/schedules/plugin.py).
FAILURE_FILE = Path("schedules") / "failing-schedule.json"


@dataclass
class Finding:
    mutant: str
    clause: str
    found: bool
    wall_s: float
    judged: int | None = None
    #: Which schedule (1-based, in the order played) failed first: found within the budget.
    first_failing: int | None = None
    steps: int | None = None
    line: str = ""
    replay_mutated_failed: bool | None = None
    replay_clean_passed: bool | None = None

    @property
    def ok(self) -> bool:
        return bool(
            self.found
            and self.steps is not None
            and self.steps <= MAX_SHRUNK_STEPS
            and self.replay_mutated_failed
            and self.replay_clean_passed
        )


def _pytest(tree: ScratchTree, evidence: Path, extra: list[str], log: Path) -> int:
    argv = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", DRILL,
        "--drill-backend", "local", "--drill-evidence-dir", str(evidence), *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.run(
            argv, cwd=tree.root, env=tree.environment(), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, check=False,
        ).returncode  # fmt: skip


def _journal_meta(evidence: Path) -> dict[str, object]:
    try:
        data = json.loads((evidence / "evidence.json").read_text(encoding="utf-8"))
        meta: dict[str, object] = data["journal"][0]["meta"]["schedules"]
    except (OSError, ValueError, KeyError, IndexError):
        return {}
    return meta


def find(mutant: Mutant, tree: ScratchTree, work: Path, seed: int, agent: object) -> Finding:
    started = time.monotonic()
    folder = work / mutant.id
    folder.mkdir(parents=True, exist_ok=True)
    applied = apply_mutant(mutant, tree.root)
    try:
        tree.prove_mutant_imported(mutant, agent)  # type: ignore[arg-type]
        status = _pytest(tree, folder / "explore", [f"--drill-seed={seed}"], folder / "explore.log")
        meta = _journal_meta(folder / "explore")
        failing = folder / "explore" / FAILURE_FILE
        finding = Finding(mutant.id, mutant.clause, status == 1 and failing.is_file(), 0.0)
        finding.judged = meta.get("judged") if isinstance(meta.get("judged"), int) else None  # type: ignore[assignment]
        trials = meta.get("trials")
        if isinstance(trials, list):
            held = [t.get("held") for t in trials if isinstance(t, dict)]
            finding.first_failing = held.index(False) + 1 if False in held else None
        if finding.found:
            schedule = json.loads(failing.read_text(encoding="utf-8"))
            finding.steps = len(schedule["steps"])
            failure = meta.get("failure")
            finding.line = str(failure.get("line", "")) if isinstance(failure, dict) else ""
            replay = [f"--drill-schedule={failing}"]
            again = _pytest(tree, folder / "replay-mutated", replay, folder / "replay-mutated.log")
            finding.replay_mutated_failed = again == 1
    finally:
        applied.restore()
        tree.check_pristine()
    if finding.found:
        clean = _pytest(tree, folder / "replay-clean", replay, folder / "replay-clean.log")
        finding.replay_clean_passed = clean == 0
    finding.wall_s = round(time.monotonic() - started, 1)
    return finding


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", help="comma-separated mutant ids")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    try:
        only = args.only.split(",") if args.only else list(DEFAULT_MUTANTS)
        mutants = select(load_catalogue(), only)
    except CatalogueError as exc:
        print(f"schedules_vs_mutants: {exc}", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    try:
        with scratch_tree(REPO) as (tree, work):
            agent = prove_services_import(tree, work, 60.0)
            for index, mutant in enumerate(mutants, 1):
                print(f"[{index}/{len(mutants)}] {mutant.id} ...", flush=True)
                f = find(mutant, tree, work, args.seed, agent)
                findings.append(f)
                print(
                    f"[{index}/{len(mutants)}] {f.mutant}: "
                    + (
                        f"found at schedule {f.first_failing} ({f.judged} judged with the "
                        f"shrinking), shrunk to {f.steps} step(s); "
                        f"replay mutated {'fails' if f.replay_mutated_failed else 'PASSES'}, "
                        f"clean {'passes' if f.replay_clean_passed else 'FAILS'}; "
                        f"{f.wall_s:.0f} s; {f.line[:160]}"
                        if f.found
                        else f"NOT found in {f.judged} schedule(s); {f.wall_s:.0f} s"
                    ),
                    flush=True,
                )
    except ScratchError as exc:
        print(f"schedules_vs_mutants: {exc}", file=sys.stderr)
        return 2
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # Kept per mutant across runs (a run of one mutant does not erase the others' figures).
    try:
        kept = {f["mutant"]: f for f in json.loads(RESULTS.read_text(encoding="utf-8"))["findings"]}
    except (OSError, ValueError, KeyError, TypeError):
        kept = {}
    for f in findings:
        kept[f.mutant] = {**asdict(f), "ok": f.ok, "seed": args.seed}
    RESULTS.write_text(
        json.dumps({"findings": list(kept.values())}, indent=2) + "\n", encoding="utf-8"
    )
    good = sum(f.ok for f in findings)
    print(f"{good}/{len(findings)} mutants found, shrunk to <= {MAX_SHRUNK_STEPS} steps, replayed")
    return 0 if good == len(findings) else 1


if __name__ == "__main__":
    sys.exit(main())
