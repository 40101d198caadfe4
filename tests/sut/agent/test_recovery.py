"""A failed recovery (emergency-procedures.md scenario 2 STEP 4): once an outage, logged first,
then the distress signal, to the Dispatcher when it hears and always to the father's spool."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sut.agent.father_channel import FatherLink
from sut.agent.recovery import (
    DATE_FORMAT,
    DistressFile,
    RecoveryWatch,
    distress_line,
)
from tests.sut.agent.test_incident_desk import Desk


def restart(target: str, decision: str, error: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "action": "restart_service",
        "target": target,
        "decision": decision,
        "source": "autonomous",
    }
    if error is not None:
        entry["error"] = error
    return entry


def test_the_line_is_the_seeds_with_dates_date():
    at = datetime(2026, 12, 4, 5, 43, 50, tzinfo=UTC)
    line = distress_line("ollama", at)
    assert line == "EMERGENCY: Ollama recovery failed at Fri Dec  4 05:43:50 UTC 2026"
    # strptime has no %e; its %d takes date's space-padded day.
    parse_format = DATE_FORMAT.replace("%e", "%d")
    assert datetime.strptime(line.rpartition(" at ")[2], parse_format) == at.replace(tzinfo=None)


def test_one_failed_recovery_per_outage_however_often_the_restart_is_retried():
    watch = RecoveryWatch()
    decisions = [restart("ollama", "failed", "SupervisorCallError: spawn error")]
    [failed] = watch.news(decisions)
    assert (failed.service, failed.source) == ("ollama", "autonomous")
    assert "Ollama recovery FAILED" in failed.message()
    assert "spawn error" in failed.message()
    decisions += [restart("ollama", "failed"), restart("ollama", "failed")]
    assert watch.news(decisions) == [], "retries of one outage are one failed recovery"
    watch.resolve({"ollama": "down"})
    decisions.append(restart("ollama", "failed"))
    assert watch.news(decisions) == [], "still down: the same outage"
    watch.resolve({"ollama": "running"})
    decisions.append(restart("ollama", "failed"))
    assert len(watch.news(decisions)) == 1, "a new outage after it ran is news again"


def test_executed_restarts_and_other_actions_are_no_failed_recovery():
    watch = RecoveryWatch()
    decisions = [
        restart("ollama", "executed"),
        restart("gitea", "refused"),
        {"action": "kill_runaway", "target": "42", "decision": "failed", "source": "autonomous"},
    ]
    assert watch.news(decisions) == []


def test_the_spool_keeps_every_line_on_disk(tmp_path):
    spool = DistressFile(tmp_path / "father-messages")
    spool.write("first")
    spool.write("second")
    assert spool.path.read_text().splitlines() == ["first", "second"]


def desk_with_spool(tmp_path: Path) -> tuple[Desk, DistressFile]:
    spool = DistressFile(tmp_path / "father-messages")
    return Desk(tmp_path, father=FatherLink(spool=spool)), spool


def test_a_failed_restart_offline_is_logged_then_one_line_to_the_father(tmp_path):
    desk, spool = desk_with_spool(tmp_path)
    desk.desk.decisions.append(restart("ollama", "failed", "ExecutionError: no inference"))
    desk.round({"ollama": "down", "gitea": "running"}, online=False)
    [logged] = desk.incidents("ollama_down")
    assert logged["severity"] == "P1"
    assert logged["recovery"] == "failed"
    assert logged["distress_file"] == str(spool.path)
    assert "Ollama recovery FAILED" in logged["reason"]
    assert desk.signals == [], "the Dispatcher cannot hear while OFFLINE"
    [line] = spool.path.read_text().splitlines()
    assert line.startswith("EMERGENCY: Ollama recovery failed at ")
    for _ in range(3):  # the remediation loop retries; the father hears once
        desk.desk.decisions.append(restart("ollama", "failed", "still broken"))
        desk.round({"ollama": "down"}, online=False)
    assert len(desk.incidents("ollama_down")) == 1
    assert len(spool.path.read_text().splitlines()) == 1


def test_a_retry_that_failed_before_the_service_ran_again_is_the_same_outage(tmp_path):
    """The remediation loop's last failed retry is read by the desk's next look, which may
    already see the service running (its store mended): no second failed recovery."""
    desk, spool = desk_with_spool(tmp_path)
    desk.desk.decisions.append(restart("ollama", "failed", "spawn error"))
    desk.round({"ollama": "down"}, online=False)
    desk.desk.decisions.append(restart("ollama", "failed", "spawn error"))
    desk.round({"ollama": "running"}, online=False)
    assert len(desk.incidents("ollama_down")) == 1
    assert len(spool.path.read_text().splitlines()) == 1
    desk.desk.decisions.append(restart("ollama", "failed", "spawn error"))
    desk.round({"ollama": "down"}, online=False)
    assert len(desk.incidents("ollama_down")) == 2, "after it ran: a new outage"


def test_a_failed_restart_online_also_signals_the_dispatcher(tmp_path):
    desk, spool = desk_with_spool(tmp_path)
    desk.desk.decisions.append(restart("gitea", "failed", "spawn error"))
    desk.round({"gitea": "down"}, online=True)
    recovery = [s for s in desk.signals if "recovery FAILED" in s["message"]]
    assert [s["component"] for s in recovery] == ["gitea"]
    assert spool.path.read_text().startswith("EMERGENCY: Gitea recovery failed at ")


def test_an_unwritable_spool_keeps_the_logged_incident(tmp_path):
    (tmp_path / "father-messages").write_text("a file in the spool's way")
    desk = Desk(tmp_path, father=FatherLink(spool=DistressFile(tmp_path / "father-messages")))
    desk.desk.decisions.append(restart("ollama", "failed", "spawn error"))
    desk.round({"ollama": "down"}, online=False)
    assert len(desk.incidents("ollama_down")) == 1
