"""The score command's own parts: the scratch copy, the import proof, the sweep, the verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mutant_catalogue import Edit, Mutant, apply_mutant
from mutation_score import Score, counts, first_failure, summary
from scratch_tree import (
    MARKER_ENV,
    ScratchError,
    ScratchTree,
    ServiceLaunch,
    marked_pids,
    sweep,
    tree_digest,
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" skipped="1" failures="1" errors="0">
<testcase classname="drills.test_a" name="test_passes"/>
<testcase classname="drills.test_b" name="test_fails">
<failure message="AssertionError: drill b: alert sent to 42&#10;assert 1 == 2">trace</failure>
</testcase>
<testcase classname="drills.test_c" name="test_later"><error message="boom"/></testcase>
</testsuite></testsuites>
"""


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "sut").mkdir(parents=True)
    (repo / "sut" / "__init__.py").write_text("")
    (repo / "sut" / "probe.py").write_text("LIMIT = 15\n")
    (repo / "notes.txt").write_text("untracked\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "sut"], check=True)
    return repo


def test_first_failure_is_the_first_failed_case_with_a_one_line_reason(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    assert first_failure(junit) == (
        "drills.test_b::test_fails",
        "AssertionError: drill b: alert sent to 42",
    )
    assert counts(junit) == "every drill passed (2 passed, 1 skipped)"


def test_missing_junit_gives_no_failure(tmp_path):
    assert first_failure(tmp_path / "none.xml") is None
    assert counts(tmp_path / "none.xml") == "no JUnit result"


def test_summary_counts_caught_and_lists_survivors():
    scores = [
        Score("a", "SOP 2", "caught", ("drills/x.py",), 3.0, "drills.x::t", "late"),
        Score("b", "SOP 3.1", "survived", ("drills/y.py",), 4.0, None, "every drill passed"),
        Score("c", "SOP 4", "error", ("drills/z.py",), 1.0, None, "pytest exited 4"),
    ]
    assert summary(scores, 4).splitlines() == [
        "caught 1/4",
        "  survived: b (SOP 3.1)",
        "  error: c: pytest exited 4",
        "  not run (interrupted): 1",
    ]
    assert scores[0].line().splitlines()[1] == "    first failing: drills.x::t: late"


def test_scratch_copy_holds_tracked_files_only_and_notices_a_leftover_mutant(tmp_path):
    tree = ScratchTree.create(_repo(tmp_path), tmp_path / "work")
    assert (tree.root / "sut" / "probe.py").read_text() == "LIMIT = 15\n"
    assert not (tree.root / "notes.txt").exists()
    tree.check_pristine()
    mutant = Mutant("m", "threshold", "SOP 2", "d", ("drills/x.py",), (
        Edit("sut/probe.py", "15", "7"),
    ))  # fmt: skip
    applied = apply_mutant(mutant, tree.root)
    with pytest.raises(ScratchError, match="not restored after a mutant"):
        tree.check_pristine()
    applied.restore()
    tree.check_pristine()
    assert tree_digest(tree.root) == tree.pristine


def test_children_import_the_scratch_copy_and_the_proof_names_a_stray_import(tmp_path):
    tree = ScratchTree.create(_repo(tmp_path), tmp_path / "work")
    env = tree.environment()
    assert env[MARKER_ENV] == str(tree.root)
    launch = ServiceLaunch("probe", sys.executable, env, str(tmp_path))
    mutant = Mutant("m", "threshold", "SOP 2", "d", ("drills/x.py",), (
        Edit("sut/probe.py", "15", "7"),
    ))  # fmt: skip
    applied = apply_mutant(mutant, tree.root)
    try:
        tree.prove_mutant_imported(mutant, launch)  # resolves to the copy: no error
        elsewhere = _repo(tmp_path / "other")
        stray = ServiceLaunch("probe", sys.executable, {**env, "PYTHONPATH": str(elsewhere)}, "/")
        with pytest.raises(ScratchError, match=r"mutant m: sut.probe is imported from .*other"):
            tree.prove_mutant_imported(mutant, stray)
    finally:
        applied.restore()


def test_service_launch_is_read_from_proc():
    launch = ServiceLaunch.of_pid("me", os.getpid())
    assert launch.cwd == os.getcwd()
    assert Path(launch.python).name.startswith("python") or "pytest" in launch.python
    with pytest.raises(ScratchError, match=r"service gone \(pid 0\)"):
        ServiceLaunch.of_pid("gone", 0)


def test_sweep_ends_this_runs_processes_and_no_other(tmp_path):
    marker = str(tmp_path / "tree")
    ours = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, MARKER_ENV: marker},
    )
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, MARKER_ENV: marker + "-other"},
    )
    try:
        assert marked_pids(marker) == [ours.pid]
        assert sweep(marker, grace_s=5.0) == [ours.pid]
        assert ours.wait(timeout=10) == -15
        assert other.poll() is None
    finally:
        for process in (ours, other):
            process.kill()
            process.wait()
