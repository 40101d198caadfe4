"""Risk controls failing while the agent runs: every action refused with the reason (gate4 #3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.policy import DEFAULT_POLICY_PATH, load_policy
from sut.agent.gate import ActionGate, ActionRequest, HostFacts
from sut.agent.riskcontrols import RiskControls

SHIPPED = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
POLICY = load_policy()
FACTS = HostFacts(
    now=10.0, service_states={"ollama": "down"}, disk_usage_percent=95.0, processes={}
)
RESTART = ActionRequest("restart_service", "ollama", {}, "autonomous")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(SHIPPED, encoding="utf-8")
    return path


def break_it(path: Path, how: str) -> None:
    if how == "invalid":
        path.write_text(SHIPPED.replace("rate_limited_minutes: 3", "rate_limited_minutes: -3"))
    elif how == "not yaml":
        path.write_text("scenario_a: [unclosed\n")
    elif how == "missing":
        path.unlink()
    else:  # another valid policy than the one the agent runs by
        path.write_text(SHIPPED.replace("silence_minutes: 15", "silence_minutes: 30"))


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("invalid", "scenario_b.rate_limited_minutes: expected a positive number"),
        ("not yaml", "not valid YAML"),
        ("missing", "cannot read the policy file"),
        ("changed", "the policy changed while the agent runs"),
    ],
)
def test_a_policy_file_broken_while_running_blocks_every_action_with_the_reason(
    policy_file, how, said
):
    gate = ActionGate(POLICY)
    controls = RiskControls(policy_file, POLICY.digest)
    controls.guard(gate, now=1.0)
    assert gate.decide(RESTART, "offline", FACTS).allowed, "the controls hold: allowed"

    break_it(policy_file, how)
    controls.guard(gate, now=2.0)

    decision = gate.decide(RESTART, "offline", FACTS)
    assert not decision.allowed
    assert decision.reason.startswith("risk controls failed: ")
    assert said in decision.reason
    assert "gate4 guardrail 3" in decision.reason
    assert controls.failed is not None
    assert controls.failed.since == 2.0
    view = controls.failed.health_view("offline")
    assert (view["status"], view["mode"]) == ("degraded", "offline")
    assert said in view["reason"]


def test_restoring_the_file_lifts_the_block_and_the_news_is_told_once_each_way(policy_file):
    gate = ActionGate(POLICY)
    controls = RiskControls(policy_file, POLICY.digest)
    controls.guard(gate, now=1.0)
    assert controls.news() == controls.news()  # nothing happened: no news, twice
    break_it(policy_file, "invalid")
    controls.guard(gate, now=2.0)
    controls.guard(gate, now=3.0)
    first = controls.news()
    assert first.failed is not None
    assert first.failed.since == 2.0
    assert controls.news().failed is None, "told once"

    policy_file.write_text(SHIPPED, encoding="utf-8")
    controls.guard(gate, now=4.0)
    assert controls.failed is None
    assert controls.news().restored
    assert not controls.news().restored, "told once"
    assert gate.decide(RESTART, "offline", FACTS).allowed


def test_the_reason_follows_the_file_while_the_failure_keeps_its_first_time(policy_file):
    controls = RiskControls(policy_file, POLICY.digest)
    break_it(policy_file, "invalid")
    controls.check(now=2.0)
    break_it(policy_file, "missing")
    failed = controls.check(now=3.0)
    assert failed is not None
    assert (failed.since, "cannot read" in failed.error) == (2.0, True)


def test_an_agent_given_no_file_has_nothing_to_re_read():
    gate = ActionGate(POLICY)
    RiskControls(None, POLICY.digest).guard(gate, now=1.0)
    assert gate.decide(RESTART, "offline", FACTS).allowed


def test_red_list_requests_are_refused_either_way(policy_file):
    gate = ActionGate(POLICY)
    controls = RiskControls(policy_file, POLICY.digest)
    break_it(policy_file, "invalid")
    controls.guard(gate, now=1.0)
    delete = ActionRequest("delete_data", "/srv/data", {}, "local:tester")
    assert not gate.decide(delete, "offline", FACTS).allowed


def test_an_unchanged_file_is_not_parsed_again(policy_file, monkeypatch):
    import sut.agent.riskcontrols as riskcontrols

    reads: list[Path] = []

    def counting(path: Path):
        reads.append(path)
        return load_policy(path)

    monkeypatch.setattr(riskcontrols, "load_policy", counting)
    controls = RiskControls(policy_file, POLICY.digest)
    for now in range(5):
        controls.check(now=float(now))
    assert len(reads) == 1
    break_it(policy_file, "invalid")
    assert controls.check(now=9.0) is not None
    assert len(reads) == 2
