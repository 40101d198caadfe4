"""The scratch copy mutants are planted in, its children's environment, the proof it is what runs.

One copy of the repository's tracked files per scoring run, in a temporary directory.
Every child (pytest, the harness it loads, the supervisord it starts and every service
under it) gets ``PYTHONPATH`` pointing at the copy, so ``sop``, ``sut``, ``fixtures`` and
``drills`` resolve there before the editable install's finder (which sits at the end of
``sys.meta_path``). ``prove_services_import`` checks that on real services instead of
believing it: it starts the local topology once, reads each service's own interpreter,
environment and working directory from /proc and asks that interpreter, so configured,
where ``sut`` comes from. Every child also carries :data:`MARKER_ENV` (supervisord passes
it on; it strips only ``SOPDRILL_*``), which is how ``sweep`` finds what is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mutant_catalogue import Mutant, module_of

#: Carried by every process of a scoring run: the scratch copy's path.
MARKER_ENV = "MUTATION_SCORE_SCRATCH"

#: The services whose imports the proof checks (they run the mutated code).
PROVEN_SERVICES = ("agent", "dispatcher")

#: A `sopdrill up` of the local backend takes seconds; this bounds a stuck one.
UP_TIMEOUT_S = 180.0

_WHERE_FROM = "import importlib.util, sys; print(importlib.util.find_spec(sys.argv[1]).origin)"


class ScratchError(Exception):
    """The scratch copy or its proof failed; the message says what and where."""


def tracked_files(repo: Path) -> list[str]:
    """The repository's tracked files (their working-tree content is what gets copied)."""
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=False
    )
    if listing.returncode != 0:
        raise ScratchError(f"{repo}: git ls-files failed: {listing.stderr.decode().strip()}")
    return [name for name in listing.stdout.decode().split("\0") if name]


def tree_digest(root: Path, under: str = "sut") -> str:
    """SHA-256 over the relative paths and bytes of every .py file under ``root/under``."""
    digest = hashlib.sha256()
    for path in sorted((root / under).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class ScratchTree:
    """A copy of the repository in ``root`` and the environment its children run in."""

    root: Path
    runs_dir: Path
    pristine: str = ""

    @classmethod
    def create(cls, repo: Path, parent: Path) -> ScratchTree:
        """Copy the tracked files of ``repo`` into ``parent/tree``."""
        root = parent / "tree"
        for name in tracked_files(repo):
            source = repo / name
            if not source.is_file():
                continue  # deleted in the working tree, or a submodule
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        runs_dir = Path(os.environ.get("SOPDRILL_RUNS_DIR") or parent / "runs")
        runs_dir.mkdir(parents=True, exist_ok=True)
        tree = cls(root, runs_dir)
        tree.pristine = tree_digest(root)
        return tree

    def environment(self) -> dict[str, str]:
        """Our environment with the copy first on the import path, the run's dir and marker."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.root), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        # A restored file may keep the size and second of its mutant: no stale bytecode.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["SOPDRILL_RUNS_DIR"] = str(self.runs_dir)
        env[MARKER_ENV] = str(self.root)
        return env

    def check_pristine(self) -> None:
        """Refuse to go on when sut/ in the copy differs from what was copied."""
        if tree_digest(self.root) != self.pristine:
            raise ScratchError(f"{self.root}/sut: not restored after a mutant; stopping")

    def where_from(self, module: str, *, python: str, env: Mapping[str, str], cwd: str) -> Path:
        """The file ``python`` would import ``module`` from, given ``env`` and ``cwd``."""
        found = subprocess.run(
            [python, "-c", _WHERE_FROM, module],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if found.returncode != 0:
            raise ScratchError(f"{module}: cannot be imported: {found.stderr.strip()[-200:]}")
        return Path(found.stdout.strip())

    def prove_mutant_imported(self, mutant: Mutant, service: ServiceLaunch) -> None:
        """Each file the mutant changed is what a service launched like ``service`` imports."""
        for file in mutant.files:
            origin = self.where_from(
                module_of(file), python=service.python, env=service.env, cwd=service.cwd
            )
            expected = self.root / file
            if origin.resolve() != expected.resolve():
                raise ScratchError(
                    f"mutant {mutant.id}: {module_of(file)} is imported from {origin}, "
                    f"not the mutated {expected}: the drills would test the unmutated code"
                )
            text = origin.read_text(encoding="utf-8")
            if not all(edit.replace in text for edit in mutant.edits if edit.file == file):
                raise ScratchError(f"mutant {mutant.id}: {origin} does not hold the mutation")


@dataclass(frozen=True)
class ServiceLaunch:
    """How a real service was launched: its interpreter, environment and working directory."""

    name: str
    python: str
    env: Mapping[str, str]
    cwd: str

    @classmethod
    def of_pid(cls, name: str, pid: int) -> ServiceLaunch:
        """Read a live process's launch from /proc."""
        proc = Path("/proc") / str(pid)
        try:
            raw = (proc / "environ").read_bytes().split(b"\0")
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError as exc:
            raise ScratchError(f"service {name} (pid {pid}): cannot read /proc: {exc}") from exc
        env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        return cls(name, argv[0].decode(), env, cwd)


def prove_services_import(tree: ScratchTree, work: Path, time_scale: float) -> ServiceLaunch:
    """Bring the local topology up from the copy; prove its services import the copy's sut.

    Returns the agent's launch, against which every mutant is then checked.
    """
    state = work / "proof-state"
    env = tree.environment()
    command = [sys.executable, "-c", "from cli.main import main; raise SystemExit(main())"]
    up = [*command, "up", "--backend", "local", "--time-scale", f"{time_scale:g}"]
    launches: list[ServiceLaunch] = []
    try:
        started = subprocess.run(
            [*up, "--state-dir", str(state)],
            env=env,
            cwd=tree.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=UP_TIMEOUT_S,
        )
        if started.returncode != 0:
            raise ScratchError(f"proof: sopdrill up failed: {started.stderr.strip()[-300:]}")
        pids = json.loads((state / "topology.json").read_text())["pids"]
        for name in PROVEN_SERVICES:
            launch = ServiceLaunch.of_pid(name, int(pids[name]))
            origin = tree.where_from(
                f"sut.{name}", python=launch.python, env=launch.env, cwd=launch.cwd
            )
            if tree.root.resolve() not in origin.resolve().parents:
                raise ScratchError(
                    f"proof: service {name} imports sut from {origin}, not the scratch copy "
                    f"{tree.root}: mutants would not reach it"
                )
            launches.append(launch)
    finally:
        subprocess.run(
            [*command, "down", "--state-dir", str(state)],
            env=env,
            cwd=tree.root,
            capture_output=True,
            check=False,
            timeout=UP_TIMEOUT_S,
        )
    return launches[0]


def marked_pids(marker: str) -> list[int]:
    """Processes whose environment carries ``MARKER_ENV=marker``: this run's, and only those."""
    wanted = f"{MARKER_ENV}={marker}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
    return found


def sweep(marker: str, grace_s: float = 10.0) -> list[int]:
    """End every process of this run that is left (TERM, then KILL); the pids it found."""
    left = marked_pids(marker)
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while marked_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.2)  # a poll of the process table, bounded by grace_s
    for pid in marked_pids(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return left


@contextlib.contextmanager
def scratch_tree(repo: Path) -> Iterator[tuple[ScratchTree, Path]]:
    """A scratch copy and a work dir, removed with every process of the run on the way out."""
    work = Path(tempfile.mkdtemp(prefix="mutation-score-"))
    tree: ScratchTree | None = None
    try:
        tree = ScratchTree.create(repo, work)
        yield tree, work
    finally:
        if tree is not None:
            left = sweep(str(tree.root))
            if left:
                print(f"cleanup: ended {len(left)} process(es) left by the run: {left}")
            if marked_pids(str(tree.root)):
                raise ScratchError(f"cleanup: processes of {tree.root} survive; end them by pid")
        shutil.rmtree(work, ignore_errors=True)
