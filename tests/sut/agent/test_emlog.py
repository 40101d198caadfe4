"""The emergency activity log: chained, fsynced, continued across restarts, lossless when full."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.chain import GENESIS, verify_chain
from sop.errors import ChainError, SopdrillError
from sut.agent.emlog import EmergencyLog, EmergencyLogFull


def read_chain(path: Path) -> list[dict]:
    """What an auditor sees: the file on disk, verified."""
    return verify_chain(path.read_text(encoding="utf-8").split("\n"))


def test_a_new_log_creates_its_directories_and_chains_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "var" / "log" / "openclaw" / "emergency.log"
    log = EmergencyLog(path)
    first = log.append("marker", trigger="scenario_a", reason="no heartbeat", host="ops-1")
    second = log.append("state", mode="offline", trigger="scenario_a")

    on_disk = read_chain(path)
    assert on_disk == [first, second]
    assert first["seq"] == 0
    assert first["prev"] == GENESIS
    assert second["prev"] == first["hash"]
    assert first["kind"] == "marker"
    assert first["host"] == "ops-1"
    assert first["at"].endswith("+00:00")
    assert log.path == path
    assert log.pending() == []
    assert log.entries() == on_disk


def test_reopening_continues_the_same_chain(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    before = EmergencyLog(path)
    written = [before.append("decision", action="rotate_logs", n=i) for i in range(3)]

    after = EmergencyLog(path)
    entry = after.append("resync", step="upload_emergency_log", outcome="ok")

    assert entry["seq"] == 3
    assert entry["prev"] == written[-1]["hash"]
    assert read_chain(path) == [*written, entry]
    assert list(tmp_path.iterdir()) == [path]


def _edit_a_field(lines: list[str]) -> list[str]:
    entry = json.loads(lines[1])
    entry["decision"] = "executed"
    return [lines[0], json.dumps(entry), *lines[2:]]


def _drop_a_line(lines: list[str]) -> list[str]:
    return [lines[0], *lines[2:]]


def _tear_the_last_line(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1][: len(lines[-1]) // 2]]


@pytest.mark.parametrize(
    ("tamper", "bad_line"),
    [(_edit_a_field, 2), (_drop_a_line, 2), (_tear_the_last_line, 3)],
    ids=["edited", "dropped", "torn"],
)
def test_a_broken_chain_is_moved_aside_whole_and_a_new_chain_names_it(
    tmp_path: Path, tamper, bad_line: int
) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    for decision in ("refused", "refused", "executed"):
        log.append("decision", action="deploy_code", decision=decision)
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    tampered = "\n".join(tamper(lines)) + "\n"
    path.write_text(tampered, encoding="utf-8")

    reopened = EmergencyLog(path)

    aside = [p for p in tmp_path.iterdir() if p != path]
    assert len(aside) == 1
    assert aside[0].name.startswith("emergency.log.broken-")
    assert aside[0].read_text(encoding="utf-8") == tampered  # nothing deleted or rewritten
    note = reopened.entries()
    assert [e["kind"] for e in note] == ["note"]
    assert note[0]["seq"] == 0
    assert note[0]["broken_file"] == str(aside[0])
    assert note[0]["line"] == bad_line
    assert f"line {bad_line}" in note[0]["error"]
    assert read_chain(path) == note


@pytest.mark.parametrize("field", ["at", "seq", "prev", "hash"])
def test_fields_the_log_sets_cannot_be_supplied(tmp_path: Path, field: str) -> None:
    log = EmergencyLog(tmp_path / "emergency.log")
    with pytest.raises(ChainError, match=field):
        log.append("incident", **{field: "forged"})
    assert log.entries() == []


def test_a_log_without_a_final_newline_is_continued_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    first = EmergencyLog(path).append("note", text="written by an older agent")
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")

    second = EmergencyLog(path).append("note", text="continued")

    assert read_chain(path) == [first, second]


def test_every_entry_is_one_write_then_an_fsync_and_a_new_file_fsyncs_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real_write, real_fsync = os.write, os.fsync

    def write(fd: int, data: bytes) -> int:
        calls.append(("write", data.decode()))
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        kind = "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"
        calls.append(("fsync", kind))
        real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    log = EmergencyLog(tmp_path / "emergency.log")
    log.append("marker", trigger="scenario_b", reason="429 for 3 min", host="ops-1")
    log.append("notification", channel="discord", outcome="delivered", attempt=1)

    assert [kind for kind, _ in calls] == ["fsync", "write", "fsync", "write", "fsync"]
    assert calls[0] == ("fsync", "dir")
    writes = [data for kind, data in calls if kind == "write"]
    assert all(data.endswith("\n") and data.count("\n") == 1 for data in writes)
    assert [json.loads(data)["seq"] for data in writes] == [0, 1]


@pytest.fixture
def dev_full() -> Path:
    target = Path("/dev/full")
    if not target.exists():
        pytest.skip("/dev/full is not available on this machine")
    return target


def test_a_real_enospc_keeps_entries_pending_then_writes_them_in_order(
    tmp_path: Path, dev_full: Path
) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    kept = log.append("state", mode="offline", trigger="scenario_a")
    # The disk "fills up": the log's name now leads to /dev/full, where every write is ENOSPC.
    real_file = tmp_path / "emergency.log.real"
    path.rename(real_file)
    path.symlink_to(dev_full)

    with pytest.raises(EmergencyLogFull) as first_failure:
        log.append("decision", action="rotate_logs", decision="executed")
    with pytest.raises(EmergencyLogFull):
        log.append("decision", action="restart_service", decision="executed")

    assert isinstance(first_failure.value, SopdrillError)
    assert isinstance(first_failure.value.__cause__, OSError)
    assert first_failure.value.__cause__.errno == errno.ENOSPC
    pending = log.pending()
    assert [e["seq"] for e in pending] == [1, 2]
    assert [e["action"] for e in pending] == ["rotate_logs", "restart_service"]
    assert pending[0]["prev"] == kept["hash"]
    assert real_file.read_text(encoding="utf-8").count("\n") == 1

    # Space is back: the next append writes the pending entries first, in chain order.
    path.unlink()
    real_file.rename(path)
    last = log.append("decision", action="kill_runaway", decision="executed")

    assert log.pending() == []
    on_disk = read_chain(path)
    assert [e["seq"] for e in on_disk] == [0, 1, 2, 3]
    assert on_disk[1:3] == pending
    assert on_disk[-1] == last
    assert log.entries() == on_disk


@pytest.mark.parametrize("how", ["short write", "enospc after part"])
def test_a_torn_write_is_cut_back_to_the_last_whole_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    log.append("note", text="before the disk filled")
    size_before = path.stat().st_size
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        written = real_write(fd, data[: len(data) // 2])
        if how == "enospc after part":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return written

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(EmergencyLogFull):
        log.append("decision", action="rotate_logs", decision="executed")

    assert path.stat().st_size == size_before
    assert len(read_chain(path)) == 1
    monkeypatch.setattr(os, "write", real_write)
    log.append("note", text="after")
    assert [e.get("action") for e in read_chain(path)] == [None, "rotate_logs", None]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a 64 KiB tmpfs is not permitted here (needs root/CAP_SYS_ADMIN)")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def fill(fd: int) -> None:
    """Write until the filesystem is full (raises its ENOSPC)."""
    while True:
        os.write(fd, b"x" * 4096)


def test_a_full_filesystem_loses_nothing(small_tmpfs: Path) -> None:
    path = small_tmpfs / "openclaw" / "emergency.log"
    log = EmergencyLog(path)
    log.append("marker", trigger="scenario_a", reason="no heartbeat", host="ops-1")
    filler = small_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="No space left") as full:
            fill(fd)
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC

    appended = []
    for n in range(64):  # a page holds about 20 entries; the filesystem is full before 64
        try:
            appended.append(log.append("decision", action="rotate_logs", n=n, pad="p" * 100))
        except EmergencyLogFull:
            break
    else:
        pytest.fail("64 entries fitted on a full 64 KiB tmpfs")
    pending = log.pending()
    assert len(pending) == 1
    assert read_chain(path) == log.entries()[:-1]  # whole lines only, however the write tore

    filler.unlink()
    log.append("note", text="space freed")
    on_disk = read_chain(path)
    assert log.pending() == []
    assert [e["seq"] for e in on_disk] == list(range(len(on_disk)))
    assert on_disk[-2] == pending[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["marker", "notification", "decision", "state", "resync"]),
            st.dictionaries(
                st.text(min_size=1, max_size=8).filter(
                    lambda k: k not in {"at", "kind", "seq", "prev", "hash"}
                ),
                json_values,
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=0, max_value=6),
)
def test_any_entries_survive_a_restart_verified_and_in_order(batches, reopen_after: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "emergency.log"
        log = EmergencyLog(path)
        written = []
        for index, (kind, fields) in enumerate(batches):
            if index == reopen_after:
                log = EmergencyLog(path)
            written.append(log.append(kind, **fields))
        assert read_chain(path) == written
        assert EmergencyLog(path).entries() == written
