"""A broken emergency-log chain before re-sync (issue 10): the agent's log, its re-sync and a
real dispatcher together. Before epochs a rebuilt log restarted at seq 0, the dispatcher
refused it with 409 for ever and re-sync never ended (SOP 5.2 "upload ... until acknowledged").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sop.chain import verify_chain
from sut.agent.emlog import EmergencyLog
from sut.agent.resync import Resync

#: Wall seconds a whole upload may take here; before epochs it never ended at all.
UPLOAD_BOUND_S = 10.0


def upload(dispatcher_url: str, log: EmergencyLog, key: bytes) -> int:
    """Run the agent's SOP 5.2 upload against the dispatcher; fail if it does not end."""

    async def run() -> int:
        async with httpx.AsyncClient(trust_env=False) as client:
            resync = Resync(
                client,
                dispatcher_url,
                "ops",
                log,
                retry_s=0.01,
                timeout_s=2.0,
                sleep=asyncio.sleep,
                key=key,
            )
            return await asyncio.wait_for(resync.upload(), UPLOAD_BOUND_S)

    return asyncio.run(run())


def write_offline_entries(log: EmergencyLog, n: int) -> list[dict[str, Any]]:
    return [
        log.append("decision", action="rotate_logs", decision="executed", n=i) for i in range(n)
    ]


def edit_line(path: Path, number: int) -> None:
    """What the harness does to the agent's host: one line changed in place (1-based)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    entry = json.loads(lines[number - 1])
    entry["decision"] = "refused"
    lines[number - 1] = json.dumps(entry)
    path.write_text("\n".join(lines), encoding="utf-8")


def held(stack: Any, epoch: int | None = None) -> dict[str, Any]:
    query = "" if epoch is None else f"?epoch={epoch}"
    answer: dict[str, Any] = stack.client.get(f"/v1/emergency-log/ops{query}").json()
    return answer


def test_a_log_rebuilt_at_restart_resyncs_instead_of_409_for_ever(stack, tmp_path):
    """The reproduction: uploaded once, broken on disk, rebuilt at seq 0 by a restart."""
    path = tmp_path / "emergency.log"
    first = EmergencyLog(path)
    before = write_offline_entries(first, 3)
    upload(stack.url, first, stack.config.hmac_key)
    edit_line(path, 2)

    rebuilt = EmergencyLog(path)  # the agent restarts: a new chain from seq 0
    rebuilt.append("resync", step="stop_autonomous_actions", outcome="done")
    through = upload(stack.url, rebuilt, stack.config.hmac_key)

    now = rebuilt.entries()
    assert now[0]["seq"] == 0
    assert through == now[-1]["seq"]
    latest = held(stack)
    assert latest["epoch"] == rebuilt.epoch != first.epoch
    assert latest["entries"] == now
    # Nothing lost: the earlier epoch still holds every entry as first acknowledged.
    assert held(stack, first.epoch)["entries"] == before


def test_a_line_edited_while_offline_is_sealed_and_the_dispatcher_names_the_break(stack, tmp_path):
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    written = write_offline_entries(log, 4)
    old_epoch = log.epoch
    edit_line(path, 3)  # never uploaded: the dispatcher first hears of it broken

    upload(stack.url, log, stack.config.hmac_key)

    assert log.epoch > old_epoch
    [sealed] = log.sealed()
    assert (sealed.epoch, sealed.seal.line) == (old_epoch, 3)
    assert sealed.path.exists()
    assert not sealed.path.stat().st_mode & 0o222  # aside, read-only
    note = log.entries()[0]
    assert (note["kind"], note["epoch"], note["broken_epoch"]) == ("note", log.epoch, old_epoch)
    assert held(stack)["entries"] == verify_chain(path.read_text().split("\n"))
    earlier = held(stack, old_epoch)["entries"]
    assert [e["seq"] for e in earlier] == [e["seq"] for e in written]
    assert earlier[2]["decision"] == "refused"  # the dispatcher holds the file as it was

    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    assert (report["status"], report["epoch"]) == ("ok", log.epoch)
    by_epoch = {e["epoch"]: e for e in report["epochs"]}
    assert by_epoch[old_epoch]["status"] == "broken"
    assert "line 3" in by_epoch[old_epoch]["error"]
    assert by_epoch[log.epoch]["status"] == "ok"


def test_an_edit_of_an_acknowledged_line_keeps_the_acknowledged_one_and_ends(stack, tmp_path):
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    acknowledged = write_offline_entries(log, 2)
    upload(stack.url, log, stack.config.hmac_key)
    later = write_offline_entries(log, 2)
    old_epoch = log.epoch
    edit_line(path, 1)

    upload(
        stack.url, log, stack.config.hmac_key
    )  # a rewrite of seq 0 would be 409; sealed, it is kept aside

    earlier = held(stack, old_epoch)
    assert earlier["entries"] == [*acknowledged, *later]  # the acknowledged copy stays
    assert [c["seq"] for c in earlier["conflicts"]] == [0]
    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    by_epoch = {e["epoch"]: e for e in report["epochs"]}
    assert by_epoch[old_epoch]["status"] == "broken"
    assert "seq 0" in by_epoch[old_epoch]["error"]
    assert report["status"] == "ok"


def test_a_file_cut_mid_line_loses_no_entry(stack, tmp_path):
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    written = write_offline_entries(log, 3)
    old_epoch = log.epoch
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) - 40], encoding="utf-8")  # the last line torn

    upload(stack.url, log, stack.config.hmac_key)

    # The torn entry was the last written: the chain still held it whole in memory.
    assert held(stack, old_epoch)["entries"] == written
    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    [earlier] = [e for e in report["epochs"] if e["epoch"] == old_epoch]
    assert earlier["status"] == "broken"
    assert "line 3" in earlier["error"]


def test_a_sealed_epoch_found_after_a_restart_is_still_uploaded(stack, tmp_path):
    path = tmp_path / "emergency.log"
    log = EmergencyLog(path)
    written = write_offline_entries(log, 3)
    edit_line(path, 2)
    log.seal_if_broken()  # sealed, then the agent stopped before it could upload

    restarted = EmergencyLog(path)
    [sealed] = restarted.sealed()
    upload(stack.url, restarted, stack.config.hmac_key)

    earlier = held(stack, sealed.epoch)["entries"]
    assert [e["seq"] for e in earlier] == [e["seq"] for e in written]
    assert held(stack)["entries"] == restarted.entries()


@pytest.mark.parametrize("body", [{"epoch": -1}, {"epoch": True}, {"sealed": {"error": ""}}])
def test_a_malformed_epoch_or_seal_is_422_naming_the_field(stack, body):
    answer = stack.client.post("/v1/emergency-log", json={"agent": "ops", "entries": [], **body})
    assert answer.status_code == 422
    assert answer.json()["error"].split(":")[0] in {"epoch", "sealed.error"}


def test_an_epoch_past_64_bits_is_422_and_stores_nothing(stack):
    # The store names a file by the epoch: 300 digits were a file name too long, a 500
    # (issue 14's fuzz, tests/sut/test_fuzz_every_route.py).
    body = {"agent": "ops", "entries": [{"seq": 0, "hash": "h"}], "epoch": 10**300}
    answer = stack.client.post("/v1/emergency-log", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("epoch: ")
    assert held(stack)["epochs"] == []


@pytest.mark.parametrize("epoch", ["\u00b2", "-1", "9" * 5000, str(2**63), "1.0"])
def test_reading_an_epoch_that_is_not_one_is_422(stack, epoch):
    # "\u00b2".isdigit() is true and int() raised on it, as past 4300 digits: both a 500.
    answer = stack.client.get("/v1/emergency-log/ops", params={"epoch": epoch})
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("epoch: ")
    assert stack.client.get("/v1/emergency-log/ops", params={"epoch": "0"}).status_code == 200
