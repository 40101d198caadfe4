"""Data integrity (cell0 "P0 - Data Corruption"): verified by reading only, reported once."""

from __future__ import annotations

import os
from pathlib import Path

from sut.agent.integrity import MANIFEST_NAME, DataIntegrity, manifest_text, verify

FILES = {"customers.db": b"id,name\n1,Acme\n", "orders.csv": b"order,amount\n1001,42.00\n"}


def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "srv" / "data"
    directory.mkdir(parents=True)
    for name, content in FILES.items():
        (directory / name).write_bytes(content)
    (directory / MANIFEST_NAME).write_text(manifest_text(FILES), encoding="utf-8")
    return directory


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_intact_data_verifies_and_a_directory_without_a_manifest_promises_nothing(tmp_path):
    assert verify(data_dir(tmp_path)) == []
    bare = tmp_path / "srv" / "backups"
    bare.mkdir()
    (bare / "dump.gz").write_bytes(b"anything")
    assert verify(bare) == []


def test_a_changed_or_missing_file_is_found_and_nothing_is_written(tmp_path):
    directory = data_dir(tmp_path)
    (directory / "customers.db").write_bytes(b"id,name\n1,Acme\x00\x00garbage\n")
    (directory / "orders.csv").unlink()
    before = snapshot(directory)

    found = verify(directory)

    assert [(m.name, m.found is None) for m in found] == [
        ("customers.db", False),
        ("orders.csv", True),
    ]
    assert "customers.db" in found[0].describe()
    assert "unreadable" in found[1].describe()
    assert snapshot(directory) == before, "verifying reads only (SOP 4: no data touched)"


def test_a_garbled_manifest_line_is_corruption_too(tmp_path):
    directory = data_dir(tmp_path)
    with (directory / MANIFEST_NAME).open("a") as manifest:
        manifest.write("not a digest line\n")
    [found] = verify(directory)
    assert found.name == f"{MANIFEST_NAME}:3"


def test_a_corruption_is_news_once_and_its_clearing_once(tmp_path):
    directory = data_dir(tmp_path)
    watch = DataIntegrity([directory])
    assert watch.look() == ((), False)
    original = (directory / "customers.db").read_bytes()
    (directory / "customers.db").write_bytes(b"corrupt")
    found, cleared = watch.look()
    assert [m.name for m in found] == ["customers.db"]
    assert not cleared
    assert watch.look() == ((), False), "still corrupt: no news"
    (directory / "customers.db").write_bytes(original)
    assert watch.look() == ((), True)
    assert watch.look() == ((), False)


def test_an_unreadable_file_is_reported_not_raised(tmp_path):
    directory = data_dir(tmp_path)
    target = directory / "customers.db"
    target.unlink()
    os.mkdir(target)  # a directory where a file should be: cannot be read as one
    [found] = verify(directory)
    assert found.found is None
