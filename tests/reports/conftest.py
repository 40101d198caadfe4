"""A small but real run directory for the report tests: one drill passed, one failed.

The evidence is written by the harness's own ``EvidenceRecorder`` (so it has the shape
the plugin writes, run facts included); the secrets of a topology are seeded into every
kind of artifact a run leaves: junit.xml, allure-results, a service log attachment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixtures.evidence import EvidenceRecorder
from fixtures.run_facts import environment_facts, policy_facts
from reports.results import junit_address

PASSED = "drills/test_dispatcher_killed.py::test_dispatcher_killed_declares_offline"
FAILED = "drills/test_recovery_resync.py::test_recovery_uploads_log"
#: Known secrets: in secrets.json (found by value) and shaped like secrets (found by form).
HMAC_KEY = "hmac-5e1f0c9a7d2b4e6f8a0c"
DISCORD_TOKEN = "discord-token-77a1c3e5f7091b2d"
WEBHOOK = "https://discord.com/api/webhooks/1234567890/AbCdEfGhIjKlMnOpQrStUvWxYz"
BOT_HEADER = "Authorization: Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
SECRETS = (HMAC_KEY, DISCORD_TOKEN, WEBHOOK, BOT_HEADER.split("Bot ")[1])


def _at(base: datetime, seconds: float) -> str:
    return (base + timedelta(seconds=seconds)).isoformat()


def _drill(recorder: EvidenceRecorder, nodeid: str, *, late: bool, steps: list[int]) -> None:
    module = (
        "SOP 2A, Scenario A: the dispatcher is killed."
        if not late
        else "SOP 5: recovery and re-sync once the dispatcher is back."
    )
    recorder.begin_drill(
        nodeid,
        {"name": nodeid.rsplit("::", 1)[1], "doc": "A drill.", "module_doc": module,
         "scenario": "A", "test_plan": steps, "markers": ["nightly"]},
    )  # fmt: skip
    now = datetime.now(UTC)
    recorder.steady_state("before", True, "agent online")
    recorder.record_observed(
        "fault_injected", "faults", _at(now, -0.5), "fault-1", fault="kill:dispatcher"
    )
    recorder.record_observed("state_change", "probes", _at(now, -0.2), mode="suspect")
    recorder.record_observed(
        "state_change", "emergency_log", _at(now, 0.25), mode="offline", log_kind="state"
    )
    recorder.record_observed("state_change", "probes", _at(now, 0.3), mode="offline")
    recorder.record_observed("notification", "discord", _at(now, 0.27), channel="discord")
    recorder.record_detection(
        trigger="scenario_a",
        declared_sop_minutes=17.1 if late else 15.2,
        window_sop_minutes=(15.0, 16.5),
        oracle="scenario_a at 15: silence, 3 failures, process dead",
    )
    recorder.record_observed("action", "emergency_log", _at(now, 0.35), action="restart_service",
                             decision="executed", target="ollama")  # fmt: skip
    recorder.record_observed(
        "fault_reverted", "faults", _at(now, 0.5), "fault-1", fault="kill:dispatcher"
    )
    recorder.record_observed("resync", "emergency_log", _at(now, 0.6), step="upload_emergency_log",
                             outcome="acknowledged")  # fmt: skip
    recorder.record_observed("state_change", "probes", _at(now, 0.7), mode="online")
    recorder.steady_state("after", True, "agent online")
    reason = (
        f"drill recovery: offline declared after 17.10 SOP-min (token {DISCORD_TOKEN})"
        if late
        else None
    )
    recorder.end_drill(nodeid, "failed" if late else "completed",
                       outcome="failed" if late else "passed", reason=reason)  # fmt: skip


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """OUT of a run of two drills (one failed), with secrets seeded into its artifacts."""
    state = tmp_path / "state"
    state.mkdir()
    secrets_file = state / "secrets.json"
    secrets_file.write_text(
        json.dumps({"hmac_key": HMAC_KEY, "discord_token": DISCORD_TOKEN}), encoding="utf-8"
    )
    out = tmp_path / "run"
    recorder = EvidenceRecorder(out)
    recorder.describe_run(backend="local", time_scale=60.0, suite="nightly",
                          **policy_facts(), **environment_facts())  # fmt: skip
    recorder.record("note", "topology", topology={"secrets_file": str(secrets_file)})
    _drill(recorder, PASSED, late=False, steps=[1, 2])
    _drill(recorder, FAILED, late=True, steps=[5])
    recorder.write()
    cases = ""
    for nodeid, failed in ((PASSED, False), (FAILED, True)):
        classname, name = junit_address(nodeid)
        failure = f'<failure message="{HMAC_KEY} {WEBHOOK}"/>' if failed else ""
        cases += f'<testcase classname="{classname}" name="{name}" time="2">{failure}</testcase>'
    (out / "junit.xml").write_text(
        f'<?xml version="1.0"?><testsuites><testsuite>{cases}</testsuite></testsuites>',
        encoding="utf-8",
    )
    allure = out / "allure-results"
    allure.mkdir()
    (allure / "0001-result.json").write_text(
        json.dumps({"name": "test_recovery_uploads_log", "status": "failed",
                    "statusDetails": {"message": f"sent {BOT_HEADER}",
                                      "trace": "drills/test_recovery_resync.py:40: boom"}}),
        encoding="utf-8",
    )  # fmt: skip
    (allure / "0002-attachment.txt").write_text(
        f"agent.log: SOPDRILL_HMAC_KEY={HMAC_KEY} posting to {WEBHOOK}\n", encoding="utf-8"
    )
    return out
