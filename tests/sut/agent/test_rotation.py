"""Log rotation on a real directory tree: archives go, active logs shrink, data never changes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sut.agent.rotation import rotate_logs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` (symlinks not followed): kind and content hash or target."""
    seen: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                seen[key] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[key] = ("dir", "")
            else:
                seen[key] = ("file", digest(path))
    return seen


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_host(tmp_path: Path) -> dict[str, Path]:
    """A log volume as the SOP's host has it, with data and backups inside and beside it."""
    logs = tmp_path / "var-log"
    paths = {
        "logs": logs,
        "active": write(logs / "app.log", b"request served\n" * 500),
        "nested_active": write(logs / "nginx" / "access.log", b"GET / 200\n" * 300),
        "empty_active": write(logs / "idle.log", b""),
        "rotated": write(logs / "app.log.1", b"yesterday\n" * 400),
        "rotated_2": write(logs / "nginx" / "access.log.12", b"last week\n" * 200),
        "gzipped": write(logs / "app.log.2.gz", os.urandom(4096)),
        "old": write(logs / "setup.old", b"old\n" * 50),
        "not_a_log": write(logs / "README.txt", b"kept: neither a log nor an archive\n"),
        "emergency": write(logs / "openclaw" / "emergency.log", b'{"seq":0}\n' * 20),
        "data_in": write(logs / "data" / "orders.log", b"order 1\n" * 100),
        "data_in_archive": write(logs / "data" / "orders.log.1", b"order 0\n" * 100),
        "backup_in": write(logs / "backups" / "db-2026-11-22.gz", os.urandom(2048)),
        "backup_in_deep": write(logs / "backups" / "weekly" / "db.log.3", b"dump\n" * 10),
        "data_out": write(tmp_path / "srv-data" / "state.log", b"state\n" * 100),
        "backup_out": write(tmp_path / "srv-backups" / "full.gz", os.urandom(1024)),
    }
    # Links that point out of the log dir, at data: never followed, never removed.
    os.symlink(paths["data_out"], logs / "linked-data.log")
    os.symlink(paths["backup_out"], logs / "linked-backup.gz")
    os.symlink(tmp_path / "srv-backups", logs / "linked-backups-dir")
    return paths


def test_rotation_clears_archives_truncates_active_logs_and_spares_data(tmp_path):
    p = build_host(tmp_path)
    protected = (p["logs"] / "data", p["logs"] / "backups", tmp_path / "srv-data")
    spared = ["not_a_log", "emergency", "data_in", "data_in_archive", "backup_in"]
    spared += ["backup_in_deep", "data_out", "backup_out"]
    before = {name: digest(p[name]) for name in spared}
    outside_before = snapshot(tmp_path / "srv-backups")
    archive_bytes = sum(p[n].stat().st_size for n in ("rotated", "rotated_2", "gzipped", "old"))
    active_bytes = p["active"].stat().st_size + p["nested_active"].stat().st_size

    result = rotate_logs(p["logs"], protected, p["emergency"])

    for name in ("rotated", "rotated_2", "gzipped", "old"):
        assert not p[name].exists(), name
    for name in ("active", "nested_active", "empty_active"):
        assert p[name].exists(), name
        assert p[name].stat().st_size == 0, name
    assert {name: digest(p[name]) for name in spared} == before
    assert snapshot(tmp_path / "srv-backups") == outside_before
    for link in ("linked-data.log", "linked-backup.gz", "linked-backups-dir"):
        assert (p["logs"] / link).is_symlink(), link
    assert sorted(result.removed) == sorted(
        str(p[n].resolve()) for n in ("rotated", "rotated_2", "gzipped", "old")
    )
    # An empty log frees nothing and is not reported as truncated.
    assert sorted(result.truncated) == sorted(
        str(p[n].resolve()) for n in ("active", "nested_active")
    )
    assert result.freed_bytes == archive_bytes + active_bytes


def test_a_protected_dir_named_through_a_symlink_or_dotdot_is_still_protected(tmp_path):
    logs = tmp_path / "logs"
    kept = write(logs / "data" / "ledger.log.1", b"ledger\n" * 10)
    other = write(logs / "backups" / "b.gz", b"backup")
    os.symlink(logs / "data", tmp_path / "data-alias")
    protected = (tmp_path / "data-alias", logs / "nginx" / ".." / "backups")

    rotate_logs(logs, protected, logs / "emergency.log")

    assert kept.read_bytes() == b"ledger\n" * 10
    assert other.read_bytes() == b"backup"


def test_the_emergency_log_is_spared_when_named_through_a_symlink(tmp_path):
    logs = tmp_path / "logs"
    emergency = write(logs / "emergency.log", b'{"seq":0}\n')
    os.symlink(logs, tmp_path / "alias")

    rotate_logs(tmp_path / "alias", (), tmp_path / "alias" / "emergency.log")

    assert emergency.read_bytes() == b'{"seq":0}\n'


def test_a_log_dir_reached_through_a_symlink_is_rotated(tmp_path):
    logs = tmp_path / "real-logs"
    archive = write(logs / "app.log.1", b"x" * 100)
    os.symlink(logs, tmp_path / "logs")

    result = rotate_logs(tmp_path / "logs", (), tmp_path / "elsewhere" / "emergency.log")

    assert not archive.exists()
    assert result.freed_bytes == 100


# ---- property: nothing under a protected directory ever changes ---------------------------

NAMES = st.sampled_from(
    ["a.log", "b.log.1", "c.log.22", "d.gz", "e.old", "f.7", "g.txt", "h.log.gz", "emergency.log"]
)
DIRS = st.sampled_from(["", "nginx", "data", "data/deep", "backups", "backups/x", "nginx/data"])
CONTENT = st.binary(min_size=0, max_size=64)
TREES = st.lists(st.tuples(DIRS, NAMES, CONTENT), min_size=1, max_size=25)
LINKS = st.lists(st.tuples(DIRS, NAMES, st.sampled_from(["outside", "data", "backups"])))
PROTECTED = st.sets(st.sampled_from(["data", "backups", "nginx/data", "data/deep"]), min_size=1)


@given(tree=TREES, links=LINKS, protected=PROTECTED, outside_files=TREES)
def test_property_nothing_under_a_protected_dir_or_outside_the_log_dir_changes(
    tree, links, protected, outside_files
):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        logs, outside = root / "logs", root / "outside"
        logs.mkdir()
        for folder, name, content in tree:
            write(logs / folder / name, content)
        for folder, name, content in outside_files:
            write(outside / folder / name, content)
        outside.mkdir(exist_ok=True)
        for folder, name, target in links:
            link = logs / folder / f"link-{name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists() and not link.is_symlink():
                os.symlink(outside if target == "outside" else logs / target, link)
        roots = tuple(logs / p for p in protected)
        for root_dir in roots:
            root_dir.mkdir(parents=True, exist_ok=True)
        emergency = logs / "emergency.log"
        guarded = {p: snapshot(p) for p in roots}
        outside_before = snapshot(outside)
        emergency_before = emergency.read_bytes() if emergency.exists() else None
        links_before = {k: v for k, v in snapshot(logs).items() if v[0] == "link"}

        rotate_logs(logs, roots, emergency)

        assert {p: snapshot(p) for p in roots} == guarded
        assert snapshot(outside) == outside_before
        assert (emergency.read_bytes() if emergency.exists() else None) == emergency_before
        assert {k: v for k, v in snapshot(logs).items() if v[0] == "link"} == links_before
        # And it did its job everywhere else: no archive, no non-empty active log is left.
        for key, (kind, _) in snapshot(logs).items():
            path = logs / key
            if kind != "file" or any(r in path.parents for r in roots) or path == emergency:
                continue
            assert not path.name.endswith((".gz", ".old", ".1", ".22", ".7")), key
            if path.suffix == ".log":
                assert path.stat().st_size == 0, key
