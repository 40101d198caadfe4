"""Configuration, the agent registry and the envelope signer: the dispatcher's small parts."""

from __future__ import annotations

import itertools
import time

import pytest

from sop.errors import PolicyError, ServiceConfigError
from sop.wire import verify_envelope
from sut.dispatcher.config import INBOX_TIMEOUT_CAP_S, MIN_TIMEOUT_S, DispatcherConfig
from sut.dispatcher.errors import RequestRejected
from sut.dispatcher.registry import Agent, AgentRegistry, parse_agents
from sut.dispatcher.signer import EnvelopeSigner
from sut.runtime.settings import Settings

KEY = "config-test-key-9d2e"


def env(tmp_path, **changes: str) -> dict[str, str]:
    base = {
        "SOPDRILL_PORT": "8700",
        "SOPDRILL_HMAC_KEY": KEY,
        "SOPDRILL_OPERATOR_TOKEN": "config-test-operator",
        "SOPDRILL_PROVIDER_URL": "http://127.0.0.1:11500/",
        "SOPDRILL_STATE_DIR": str(tmp_path),
    }
    return {k: v for k, v in {**base, **changes}.items() if v}


def config(tmp_path, **changes: str) -> DispatcherConfig:
    return DispatcherConfig.from_settings(Settings("dispatcher", env(tmp_path, **changes)))


def test_defaults_follow_the_architecture(tmp_path):
    cfg = config(tmp_path)
    assert (cfg.bind, cfg.port) == ("127.0.0.1", 8700)
    assert cfg.provider_url == "http://127.0.0.1:11500"
    assert cfg.provider_model == "qwen2.5:1.5b"
    assert cfg.dispatcher_id == "dispatcher"
    assert cfg.agents == ()
    assert cfg.pidfile == tmp_path / "dispatcher.pid"
    # Real time: one SOP minute between heartbeats, capped delivery timeout.
    assert cfg.heartbeat_interval_s == pytest.approx(60.0)
    assert cfg.inbox_timeout_s == INBOX_TIMEOUT_CAP_S
    assert cfg.provider_timeout_s == pytest.approx(30.0)


def test_time_scale_shrinks_the_interval_but_not_below_the_timeout_floor(tmp_path):
    cfg = config(tmp_path, SOPDRILL_TIME_SCALE="600")
    assert cfg.heartbeat_interval_s == pytest.approx(0.1)
    assert cfg.inbox_timeout_s == MIN_TIMEOUT_S
    assert cfg.provider_timeout_s == MIN_TIMEOUT_S


def test_the_hmac_key_stays_out_of_repr_and_is_registered_as_a_secret(tmp_path):
    settings = Settings("dispatcher", env(tmp_path))
    cfg = DispatcherConfig.from_settings(settings)
    assert cfg.hmac_key == KEY.encode()
    assert KEY not in repr(cfg)
    assert KEY in settings.secrets
    assert KEY not in repr(EnvelopeSigner(cfg.hmac_key, "d"))


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SOPDRILL_HMAC_KEY": ""}, "SOPDRILL_HMAC_KEY"),
        ({"SOPDRILL_PROVIDER_URL": "127.0.0.1:11434"}, "SOPDRILL_PROVIDER_URL"),
        ({"SOPDRILL_AGENTS": "ops"}, "SOPDRILL_AGENTS"),
        ({"SOPDRILL_AGENTS": "ops=localhost:1"}, "SOPDRILL_AGENTS"),
        ({"SOPDRILL_TIME_SCALE": "fast"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_PORT": "x"}, "SOPDRILL_PORT"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path, changes, variable):
    with pytest.raises((ServiceConfigError, PolicyError)) as caught:
        config(tmp_path, **changes)
    assert variable in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_policy_file_is_refused(tmp_path):
    with pytest.raises(PolicyError, match=r"nowhere\.yaml"):
        config(tmp_path, SOPDRILL_POLICY=str(tmp_path / "nowhere.yaml"))


def test_agents_from_the_environment():
    agents = parse_agents(" ops=http://127.0.0.1:8001/ ,, edge=https://10.0.0.2:9 ")
    assert agents == [Agent("ops", "http://127.0.0.1:8001"), Agent("edge", "https://10.0.0.2:9")]
    assert agents[0].inbox == "http://127.0.0.1:8001/v1/inbox"


def test_the_registry_remembers_agents_across_a_restart_and_env_wins(tmp_path):
    path = tmp_path / "agents.json"
    registry = AgentRegistry(path)
    registry.register(Agent("ops", "http://127.0.0.1:1"))
    registry.register(Agent("edge", "http://127.0.0.1:2"))

    again = AgentRegistry(path, (Agent("ops", "http://127.0.0.1:3"),))
    assert again.all() == (Agent("ops", "http://127.0.0.1:3"), Agent("edge", "http://127.0.0.1:2"))
    assert AgentRegistry(path).get("ops") == Agent("ops", "http://127.0.0.1:3")


def test_agent_names_are_checked():
    with pytest.raises(RequestRejected, match=r"^name:"):
        Agent.parse("-x", "http://127.0.0.1:1")
    with pytest.raises(RequestRejected, match=r"^name:"):
        Agent.parse("a" * 65, "http://127.0.0.1:1")


def test_sequence_numbers_strictly_increase_from_the_wall_clock():
    before = time.time_ns()
    signer = EnvelopeSigner(b"k" * 16, "dispatcher")
    seqs = [signer.next_seq() for _ in range(2000)]
    assert seqs[0] >= before
    assert all(a < b for a, b in itertools.pairwise(seqs))
    # A second signer (a restarted dispatcher) starts above everything the first sent.
    assert EnvelopeSigner(b"k" * 16, "dispatcher").next_seq() > seqs[-1]


def test_signed_envelopes_verify():
    signer = EnvelopeSigner(b"k" * 16, "dispatcher")
    envelope = verify_envelope(b"k" * 16, signer.sign("task", {"task_id": "t"}))
    assert (envelope.kind, envelope.dispatcher_id, envelope.body) == (
        "task",
        "dispatcher",
        {"task_id": "t"},
    )


def test_a_corrupt_registry_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "agents.json"
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(ServiceConfigError, match=r"agents\.json"):
        AgentRegistry(path)
