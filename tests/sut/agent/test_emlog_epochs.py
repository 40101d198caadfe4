"""Epochs of the emergency log: each log names its epoch; a broken one is sealed, kept, readable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.chain import chain_entry, verify_chain
from sop.errors import ChainError
from sop.logupload import EPOCH_FIELD, epoch_of
from sut.agent import emlog
from sut.agent.emlog import EmergencyLog, new_epoch, readable_entries
from sut.agent.rotation import rotate_logs


def edit(path: Path, number: int) -> str:
    """Change line ``number`` (1-based) in place, its hash left as it was; the file's text."""
    lines = path.read_text(encoding="utf-8").split("\n")
    entry = json.loads(lines[number - 1])
    entry["decision"] = "refused"
    lines[number - 1] = json.dumps(entry)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def test_the_first_entry_names_the_epoch_and_a_reopened_log_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    first = log.append("marker", trigger="scenario_a", reason="r", host="h")
    second = log.append("state", mode="offline")
    assert first[EPOCH_FIELD] == log.epoch > 0
    assert EPOCH_FIELD not in second
    reopened = EmergencyLog(path)
    assert reopened.epoch == log.epoch
    assert reopened.append("state", mode="online")["seq"] == 2


def test_a_pre_epoch_log_is_epoch_0_and_continues(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    old = chain_entry(None, {"at": "2026-01-01T00:00:00+00:00", "kind": "marker"})
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    log = EmergencyLog(path)
    assert log.epoch == 0
    assert log.append("state", mode="offline")["prev"] == old["hash"]


def test_the_epoch_cannot_be_supplied(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="epoch"):
        EmergencyLog(tmp_path / "emergency.log").append("state", epoch=1)


def test_an_intact_log_is_not_sealed(tmp_path: Path) -> None:
    log = EmergencyLog(tmp_path / "emergency.log")
    log.append("state", mode="offline")
    assert log.seal_if_broken() is None
    assert log.sealed() == []
    assert list(tmp_path.iterdir()) == [log.path]


def test_a_line_edited_under_a_running_agent_is_sealed_and_a_new_epoch_begins(
    tmp_path: Path,
) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    written = [log.append("decision", action="rotate_logs", decision="executed") for _ in "abc"]
    old_epoch = log.epoch
    tampered = edit(path, 2)

    sealed = log.seal_if_broken()

    assert sealed is not None
    assert (sealed.epoch, sealed.seal.line) == (old_epoch, 2)
    assert "line 2" in sealed.seal.error
    assert sealed.path.read_text(encoding="utf-8") == tampered  # moved whole, not rewritten
    assert stat.S_IMODE(sealed.path.stat().st_mode) == 0o440
    assert sealed.path.name.endswith(f"-epoch-{old_epoch}")
    assert [e["seq"] for e in sealed.entries] == [e["seq"] for e in written]
    assert sealed.entries[1]["decision"] == "refused"  # as on disk: the dispatcher judges it
    [note] = log.entries()
    assert (note["seq"], note["kind"], note["broken_epoch"]) == (0, "note", old_epoch)
    assert note[EPOCH_FIELD] == log.epoch > old_epoch
    assert log.sealed() == [sealed]
    assert log.append("state", mode="recovering")["prev"] == note["hash"]
    assert verify_chain(path.read_text(encoding="utf-8").split("\n"))[-1]["seq"] == 1


def test_a_torn_last_line_is_recovered_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    written = [log.append("state", mode=mode) for mode in ("suspect", "offline")]
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:-20], encoding="utf-8")

    sealed = log.seal_if_broken()

    assert sealed is not None
    assert list(sealed.entries) == written  # the cut entry was the last written: nothing lost


def test_sealed_files_are_found_again_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    log.append("state", mode="offline")
    edit(path, 1)
    first = EmergencyLog(path)  # the restart finds the break: sealed at open
    [sealed] = first.sealed()
    again = EmergencyLog(path)
    assert again.sealed() == [sealed]
    assert again.epoch == first.epoch > sealed.epoch == log.epoch


def test_a_new_epoch_stays_above_every_sealed_one_when_the_clock_goes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    log.append("state", mode="offline")
    edit(path, 1)
    monkeypatch.setattr(emlog.time, "time_ns", lambda: 5)
    rebuilt = EmergencyLog(path)
    assert rebuilt.epoch == log.epoch + 1


@given(st.integers(min_value=0, max_value=2**80))
def test_new_epoch_is_always_above_the_one_before(after: int) -> None:
    assert new_epoch(after) > after


@given(
    st.lists(st.dictionaries(st.sampled_from("abc"), st.integers()), max_size=6),
    st.lists(st.sampled_from(['{"seq": 1', "not json", "[1, 2]", '{"seq": true, "hash": "x"}'])),
    st.randoms(),
)
def test_readable_entries_are_every_chained_line_whatever_garbage_surrounds_them(
    contents, garbage, random
) -> None:
    entries: list[dict] = []
    for fields in contents:
        entries.append(chain_entry(entries[-1] if entries else None, fields))
    lines = [json.dumps(e) for e in entries]
    for junk in garbage:
        lines.insert(random.randint(0, len(lines)), junk)
    assert readable_entries("\n".join(lines)) == entries
    assert epoch_of(readable_entries("\n".join(lines))) == 0


def test_log_rotation_leaves_a_sealed_file_alone(tmp_path: Path) -> None:
    log = EmergencyLog(tmp_path / "emergency.log")
    log.append("state", mode="offline")
    edit(log.path, 1)
    [sealed] = EmergencyLog(log.path).sealed()
    result = rotate_logs(tmp_path, (), log.path)
    assert str(sealed.path) not in result.removed + result.truncated
    assert sealed.path.stat().st_size > 0


def test_lines_the_dispatcher_would_refuse_are_not_uploaded() -> None:
    text = "\n".join(
        ['{"seq": -1, "hash": "a"}', '{"seq": 0, "hash": ""}', '{"seq": 0, "hash": 5}']
    )
    assert readable_entries(text) == []
