"""SOP 5.2 with a broken emergency-log chain: the log is edited on the agent's host while OFFLINE.

The dispatcher is killed (Scenario A); once the agent is OFFLINE the harness changes one
line of the agent's emergency log on its host (one digit of the outage's SOP 3.3 marker's
hash: the chain breaks at that line, while every field the agent wrote stays its own word,
so the SOP checker still judges the agent, not the harness's edit). The dispatcher is
started again. The agent must still re-sync: seal the broken log, begin a new epoch, upload
both until acknowledged and ask for the integrity check. The harness then judges from its
own reads: the agent is online, the dispatcher holds every entry of the new epoch as the
disk does, every entry the harness read before the edit is in the dispatcher's copy of the
earlier epoch (nothing lost), and the integrity check names the edited line of that epoch.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from fixtures.deployment import ContainerPath, Deployment, HostPath, location
from fixtures.faults import FaultUnavailable
from fixtures.lifecycle import marker_entries, offline_by_kill, steady_state
from fixtures.waiting import wait_until
from sop.chain import verify_chain
from sop.errors import ChainError
from sop.logupload import EPOCH_FIELD, epoch_of
from sop.wire import canonical_json

#: Wall seconds for one HTTP look at the dispatcher (a local call answers in milliseconds).
HTTP_TIMEOUT_S = 5.0
#: The edit program run on a container host: python3 is in the SUT image (it runs the agent).
_EDIT_PROGRAM = (
    "import os,sys\n"
    "fd=os.open(sys.argv[1],os.O_WRONLY)\n"
    "os.pwrite(fd,bytes.fromhex(sys.argv[3]),int(sys.argv[2]))\n"
    "os.fsync(fd)\n"
    "os.close(fd)\n"
)


def _flipped(digest: str) -> str:
    """The hash with its first hex digit changed: the same length, so an append of the live
    agent is never overwritten or shifted, and no longer the entry's own hash."""
    return ("1" if digest[0] == "0" else "0") + digest[1:]


def marker_line(text: str) -> tuple[int, int, bytes, dict[str, Any]]:
    """The last SOP 3.3 marker of the log: its line number, byte offset, edited bytes, entry."""
    offset, found = 0, None
    for number, line in enumerate(text.split("\n"), start=1):
        entry = json.loads(line) if line.strip() else {}
        if entry.get("kind") == "marker":
            edited = dict(entry, hash=_flipped(entry["hash"]))
            found = (number, offset, canonical_json(edited), entry)
        offset += len(line.encode("utf-8")) + 1
    assert found is not None, "no SOP 3.3 marker in the agent's emergency log"
    number, at, edited_line, entry = found
    original = text.split("\n")[number - 1].encode("utf-8")
    # The edit keeps the length only if the line is in the canonical form the agent writes.
    assert len(edited_line) == len(original), "the agent's line is not canonical JSON"
    return number, at, edited_line, entry


def edit_on_host(
    deployment: Deployment, where: HostPath | ContainerPath, at: int, data: bytes
) -> None:
    """Overwrite ``data`` at byte ``at`` of the agent's log, on the agent's host."""
    if isinstance(where, HostPath):
        fd = os.open(where.path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, at)
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    argv = ["python3", "-c", _EDIT_PROGRAM, where.path, str(at), data.hex()]
    outcome = deployment.topology.exec_on_host(where.host, argv)
    if outcome.exit_code != 0:
        raise FaultUnavailable(
            f"emergency log edit: python3 on host {where.host} exited {outcome.exit_code}: "
            f"{outcome.stderr.decode('utf-8', errors='replace').strip()}"
        )


def dispatcher_epoch(dispatcher_url: str, agent: str, epoch: int) -> dict[str, Any]:
    """What the dispatcher holds of one epoch of ``agent``'s log (its own word, judged below)."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
        answer = client.get(f"{dispatcher_url}/v1/emergency-log/{agent}", params={"epoch": epoch})
    answer.raise_for_status()
    held: dict[str, Any] = answer.json()
    return held


@pytest.mark.nightly
@pytest.mark.quarterly
@pytest.mark.destructive
@pytest.mark.scenario("A")
@pytest.mark.test_plan(5)
def test_a_log_edited_while_offline_is_resynced_in_a_new_epoch_losing_nothing(
    policy, clock, evidence, probes, faults
):
    """Log edited while OFFLINE: re-sync ends, new epoch held whole, old one kept and named."""
    rto_s = clock.wall_seconds(policy.rto.agent_operations_minutes)
    deployment: Deployment = probes.deployment
    where = location(probes.description.emergency_log)
    with probes.watch_modes() as watch:
        steady_state("before", probes, policy, evidence)
        markers_before = len(marker_entries(probes.emergency_log()))
        with offline_by_kill(faults, probes, watch, policy, clock) as offline:
            # SOP 3.3: the outage's marker is on disk before the harness edits it.
            before = wait_until(
                probes.emergency_log,
                lambda entries: len(marker_entries(entries)) > markers_before,
                timeout_s=rto_s,
                describe="the SOP 3.3 marker of this outage in the agent's emergency log",
            )
            data = deployment.read(where)
            assert data is not None, f"the agent's emergency log {where} is gone"
            line, at, edited, marker = marker_line(data.decode("utf-8"))
            old_epoch = epoch_of(before)
            edit_on_host(deployment, where, at, edited)
            evidence.record(
                "note",
                "drill",
                fault="emergency_log_line_edited",
                path=str(where),
                line=line,
                seq=marker["seq"],
                epoch=old_epoch,
            )
            # The break is real, by the harness's own verifier, before the dispatcher returns.
            with pytest.raises(ChainError, match=f"line {line}:"):
                probes.emergency_log()
        # The dispatcher is back (the kill reverted): SOP 5 must end despite the break.
        watch.wait_for("online", timeout_s=rto_s, after_mono=offline.at_mono)
    steady_state("after", probes, policy, evidence)

    now = probes.emergency_log()
    note = now[0]
    assert note["kind"] == "note", f"the new log must open by naming the sealed one: {note}"
    assert note["broken_epoch"] == old_epoch
    assert note[EPOCH_FIELD] > old_epoch, "a new epoch above the broken one"
    assert note["line"] == line
    # SOP 5.2: the dispatcher's copy of the new epoch equals the agent's, entry for entry.
    wait_until(
        probes.dispatcher_log,
        lambda held: held == probes.emergency_log(),
        timeout_s=rto_s,
        describe="the dispatcher's copy of the new epoch to equal the agent's log",
    )
    # Nothing lost: every entry the harness read before the edit is in the earlier epoch,
    # the edited marker as the disk held it, and the file aside still holds the edited bytes.
    earlier = dispatcher_epoch(probes.description.dispatcher, "agent", old_epoch)
    held = {entry["seq"]: entry for entry in earlier["entries"]}
    for entry in before:
        is_marker = entry["seq"] == marker["seq"]
        expected = dict(entry, hash=_flipped(entry["hash"])) if is_marker else entry
        assert held.get(entry["seq"]) in (entry, expected), f"seq {entry['seq']} lost or changed"
    aside = deployment.read(deployment.locate(note["broken_file"]))
    assert aside is not None, f"the sealed log {note['broken_file']} is gone"
    assert aside.startswith(data[:at] + edited), "the sealed log is not the file as edited"
    with pytest.raises(ChainError, match=f"line {line}:"):
        verify_chain(aside.decode("utf-8").split("\n"))
    # SOP 5.3: the integrity check, asked after the upload, names the edited line.
    checks = [c for c in probes.integrity_checks() if c.get("agent") == "agent"]
    assert checks, "SOP 5.3: the agent must request an integrity check"
    last = checks[-1]
    assert (last["status"], last["epoch"]) == ("ok", note[EPOCH_FIELD]), last
    [sealed] = [e for e in last["epochs"] if e["epoch"] == old_epoch]
    assert sealed["status"] == "broken", sealed
    assert f"line {line}:" in sealed["error"], sealed
    evidence.record("note", "drill", sealed_epoch=old_epoch, new_epoch=note[EPOCH_FIELD])
