"""A restarted agent resumes the OFFLINE its emergency log holds, alerting only if it owes one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sop.chain import verify_chain
from sop.observations import ApiProbe
from sop.policy import load_policy
from sut.agent.app import create_app
from sut.agent.config import AgentConfig
from sut.agent.detector import Detector
from sut.agent.emlog import EmergencyLog
from sut.agent.resume import resumption
from sut.agent.service import AgentService
from tests.sut.agent.test_service import agent_config, closed_url

POLICY = load_policy()
REASON = "no valid heartbeat for 15.0 min; 3 consecutive API failures"


def config(tmp_path: Path) -> AgentConfig:
    """An agent whose dispatcher is still down, its log at ``tmp_path``."""
    return agent_config(tmp_path, closed_url(), url=None, emergency_log=tmp_path / "emergency.log")


def declared(log: EmergencyLog, *, marker: bool = True, outcome: str | None = "delivered") -> None:
    """What an agent writes when it declares OFFLINE (service._handle, notifier.alert)."""
    log.append("state", mode="offline", from_mode="suspect", trigger="scenario_a", reason=REASON)
    if marker:
        log.append("marker", trigger="scenario_a", reason=REASON, host="ops-test")
    if outcome is not None:
        log.append("notification", channel="discord", outcome=outcome, attempt=1)


def entries_of(path: Path) -> list[dict[str, Any]]:
    return verify_chain(path.read_text().split("\n"), where=str(path))


def test_no_offline_in_force_is_nothing_to_resume(tmp_path):
    log = EmergencyLog(tmp_path / "e.log")
    assert resumption(log.entries()) is None
    declared(log)
    log.append("state", mode="recovering", from_mode="offline", trigger="scenario_a", reason="ok")
    assert resumption(log.entries()) is None


@pytest.mark.parametrize(
    ("marker", "outcome", "seq", "delivered"),
    [
        (True, "delivered", 1, True),
        (True, "failed", 1, False),  # every channel refused: the alert is still owed
        (False, None, None, False),  # killed between the state entry and the marker
    ],
)
def test_the_offline_in_force_and_whether_its_alert_went_out(
    tmp_path, marker, outcome, seq, delivered
):
    log = EmergencyLog(tmp_path / "e.log")
    declared(log, marker=marker, outcome=outcome)
    found = resumption(log.entries())
    assert found is not None
    assert (found.trigger, found.reason, found.marker_seq, found.delivered) == (
        "scenario_a",
        REASON,
        seq,
        delivered,
    )


def test_an_escalation_delivered_is_not_the_alert(tmp_path):
    log = EmergencyLog(tmp_path / "e.log")
    declared(log, outcome=None)
    log.append("notification", channel="discord", outcome="delivered", about="resync_refused")
    found = resumption(log.entries())
    assert found is not None
    assert not found.delivered


def test_a_resumed_detector_latches_until_an_answer():
    detector = Detector(POLICY, co_located=False, start=0.0)
    detector.resume_offline("scenario_a", -3.0)
    assert detector.tick(1.0) is None
    assert (detector.state.mode, detector.state.trigger) == ("offline", "scenario_a")
    assert detector.state.detected_at == -3.0
    moved = detector.observe(ApiProbe(2.0, "ok"))
    assert moved is not None
    assert moved.to_mode == "recovering"


def run_restarted(serve, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start an agent on the log as it is; its state and its log once it has resumed."""
    cfg = config(tmp_path)
    agent = httpx.Client(base_url=serve(create_app(AgentService(cfg))), trust_env=False)
    state = agent.get("/v1/state").json()
    agent.close()
    return state, entries_of(cfg.emergency_log)


def test_restarted_while_offline_and_reported_it_stays_offline_and_says_nothing(serve, tmp_path):
    declared(EmergencyLog(tmp_path / "emergency.log"))
    before = entries_of(tmp_path / "emergency.log")
    state, after = run_restarted(serve, tmp_path)
    assert (state["mode"], state["trigger"]) == ("offline", "scenario_a")
    assert after[: len(before)] == before, "the chain continues: no entry lost"
    new = after[len(before) :]
    assert [e["kind"] for e in new][:1] == ["note"]
    assert new[0]["resumed"] == "offline"
    assert new[0]["alert"] == "delivered"
    assert [e for e in new if e["kind"] in ("marker", "notification")] == []


def test_restarted_owing_the_alert_sends_it_without_a_second_marker(serve, tmp_path):
    declared(EmergencyLog(tmp_path / "emergency.log"), outcome="failed")
    state, after = run_restarted(serve, tmp_path)
    assert state["mode"] == "offline"
    assert len([e for e in after if e["kind"] == "marker"]) == 1
    note = next(i for i, e in enumerate(after) if e["kind"] == "note")
    # No channel is configured here: the attempts are logged as failed, after the note.
    assert wait_entries(tmp_path, lambda es: len(es) > note + 1)[note + 1]["kind"] == "notification"


def test_restarted_before_the_marker_writes_it_and_alerts(serve, tmp_path):
    declared(EmergencyLog(tmp_path / "emergency.log"), marker=False, outcome=None)
    run_restarted(serve, tmp_path)
    after = wait_entries(tmp_path, lambda es: any(e["kind"] == "marker" for e in es))
    markers = [e for e in after if e["kind"] == "marker"]
    assert len(markers) == 1
    assert markers[0]["reason"] == REASON


def wait_entries(
    tmp_path: Path, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The log once ``until`` holds (the owed alert is sent in the background)."""
    deadline = time.monotonic() + 5.0
    while True:
        found = entries_of(tmp_path / "emergency.log")
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.01)
