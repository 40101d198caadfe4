"""The agent's environment: read with types; every bad value is one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop.errors import SopdrillError
from sop.policy import load_policy
from sut.agent.config import DEFAULT_EMERGENCY_LOG, load_config
from sut.runtime.settings import Settings

KEY = "config-test-key-77aa01"
BASE = {
    "SOPDRILL_PORT": "8702",
    "SOPDRILL_HMAC_KEY": KEY,
    "SOPDRILL_DISPATCHER_URL": "http://127.0.0.1:8701/",
}


def load(**env: str):
    environ = {k: v for k, v in {**BASE, **env}.items() if v is not None}
    return load_config(Settings("agent", environ))


def test_a_minimal_environment_gives_the_documented_defaults():
    config = load()
    assert (config.bind, config.port) == ("127.0.0.1", 8702)
    assert config.name == "agent"
    assert config.dispatcher_url == "http://127.0.0.1:8701"
    assert config.hmac_key == KEY.encode()
    assert config.emergency_log == Path(DEFAULT_EMERGENCY_LOG)
    assert config.scale.factor == 1
    assert config.policy == load_policy()
    assert config.policy_error is None
    assert not config.co_located
    assert config.log_dir is None
    assert config.protected_dirs == ()
    assert config.managed_services == ()
    assert config.process_scope is None
    assert config.host_memory_bytes is None


def test_every_documented_variable_is_read(tmp_path):
    config = load(
        SOPDRILL_AGENT_NAME="ops-1",
        SOPDRILL_AGENT_URL="http://127.0.0.1:8702",
        SOPDRILL_HOSTNAME="ops-host",
        SOPDRILL_DISCORD_URL="http://127.0.0.1:8801",
        SOPDRILL_DISCORD_TOKEN="discord-bot-token",
        SOPDRILL_DISCORD_RECIPIENT_ID="80351110224678912",
        SOPDRILL_SIGNAL_URL="http://127.0.0.1:8802",
        SOPDRILL_SIGNAL_NUMBER="+431212131491291",
        SOPDRILL_SIGNAL_RECIPIENT="+4915112345678",
        SOPDRILL_EMERGENCY_LOG=str(tmp_path / "emergency.log"),
        SOPDRILL_LOG_DIR=str(tmp_path / "logs"),
        SOPDRILL_PROTECTED_DIRS=f"{tmp_path / 'data'}, {tmp_path / 'backups'},",
        SOPDRILL_SUPERVISOR_URL="http://u:supervisor-pw@127.0.0.1:9001/RPC2",
        SOPDRILL_MANAGED_SERVICES="ollama, nginx",
        SOPDRILL_OLLAMA_URL="http://127.0.0.1:11434",
        SOPDRILL_GITEA_URL="http://127.0.0.1:3000",
        SOPDRILL_GITEA_REPO="ops/incidents",
        SOPDRILL_GITEA_TOKEN="gitea-access-token",
        SOPDRILL_DISPATCHER_PIDFILE=str(tmp_path / "dispatcher.pid"),
        SOPDRILL_PROCESS_SCOPE="env:SOPDRILL_HOST_ID=ops",
        SOPDRILL_HOST_MEMORY_BYTES="1073741824",
        SOPDRILL_TIME_SCALE="60",
    )
    assert (config.name, config.url, config.hostname) == (
        "ops-1",
        "http://127.0.0.1:8702",
        "ops-host",
    )
    assert config.channels.discord_token == "discord-bot-token"
    assert config.channels.signal_recipient == "+4915112345678"
    assert config.emergency_log == tmp_path / "emergency.log"
    assert config.log_dir == tmp_path / "logs"
    assert config.protected_dirs == (tmp_path / "data", tmp_path / "backups")
    assert config.managed_services == ("ollama", "nginx")
    assert config.co_located
    assert config.process_scope == "env:SOPDRILL_HOST_ID=ops"
    assert config.host_memory_bytes == 1 << 30
    assert config.scale.factor == 60
    # Secrets are known to the log redaction, and never in a config's repr.
    assert {KEY, "discord-bot-token", "http://u:supervisor-pw@127.0.0.1:9001/RPC2"} <= set(
        config.secrets
    )
    assert "discord-bot-token" not in repr(config.channels)
    # Where the P1 issues go; the Gitea token is a secret like the bot token.
    repo = config.incidents_repo
    assert repo is not None
    assert (repo.url, repo.repo, repo.token) == (
        "http://127.0.0.1:3000",
        "ops/incidents",
        "gitea-access-token",
    )
    assert "gitea-access-token" in config.secrets
    assert "gitea-access-token" not in repr(repo)
    assert "gitea_token" not in repr(config)


def test_no_incidents_repo_unless_url_repo_and_token_are_all_set():
    assert load().incidents_repo is None
    assert (
        load(SOPDRILL_GITEA_URL="http://127.0.0.1:3000", SOPDRILL_GITEA_REPO="ops/x").incidents_repo
        is None
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SOPDRILL_PORT": None}, "SOPDRILL_PORT"),
        ({"SOPDRILL_PORT": "eighty"}, "SOPDRILL_PORT"),
        ({"SOPDRILL_HMAC_KEY": None}, "SOPDRILL_HMAC_KEY"),
        ({"SOPDRILL_HMAC_KEY": ""}, "SOPDRILL_HMAC_KEY"),
        ({"SOPDRILL_DISPATCHER_URL": None}, "SOPDRILL_DISPATCHER_URL"),
        ({"SOPDRILL_DISPATCHER_URL": "127.0.0.1:8701"}, "SOPDRILL_DISPATCHER_URL"),
        ({"SOPDRILL_TIME_SCALE": "fast"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_TIME_SCALE": "0"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_TIME_SCALE": "-60"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_TIME_SCALE": "nan"}, "SOPDRILL_TIME_SCALE"),
        ({"SOPDRILL_HOST_MEMORY_BYTES": "lots"}, "SOPDRILL_HOST_MEMORY_BYTES"),
        ({"SOPDRILL_HOST_MEMORY_BYTES": "-1024"}, "SOPDRILL_HOST_MEMORY_BYTES"),
        ({"SOPDRILL_HOST_MEMORY_BYTES": "0"}, "SOPDRILL_HOST_MEMORY_BYTES"),
        ({"SOPDRILL_PROCESS_SCOPE": "env:SOPDRILL_HOST_ID"}, "SOPDRILL_PROCESS_SCOPE"),
        ({"SOPDRILL_PROCESS_SCOPE": "env:=ops"}, "SOPDRILL_PROCESS_SCOPE"),
        ({"SOPDRILL_PROCESS_SCOPE": "ALL"}, "SOPDRILL_PROCESS_SCOPE"),
        ({"SOPDRILL_PROCESS_SCOPE": "SOPDRILL_HOST_ID=ops"}, "SOPDRILL_PROCESS_SCOPE"),
        ({"SOPDRILL_GITEA_REPO": "incidents"}, "SOPDRILL_GITEA_REPO"),
        ({"SOPDRILL_GITEA_REPO": "ops/"}, "SOPDRILL_GITEA_REPO"),
        ({"SOPDRILL_GITEA_REPO": "ops/incidents/x"}, "SOPDRILL_GITEA_REPO"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(env, variable):
    with pytest.raises(SopdrillError) as caught:
        load(**env)
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message
    assert KEY not in message


@pytest.mark.parametrize("scope", ["all", "env:SOPDRILL_HOST_ID=ops", "env:X=", "env:A=b=c"])
def test_the_documented_process_scopes_are_accepted(scope):
    assert load(SOPDRILL_PROCESS_SCOPE=scope).process_scope == scope


@pytest.mark.parametrize(
    "content",
    [
        "scenario_a: [unclosed\n",
        "scenario_a:\n  silence_minutes: -3\n",
        "just a string\n",
    ],
)
def test_a_broken_policy_does_not_stop_the_agent_it_fails_closed(tmp_path, content):
    policy = tmp_path / "policy.yaml"
    policy.write_text(content)
    config = load(SOPDRILL_POLICY=str(policy))
    assert config.policy is None
    assert config.policy_error is not None
    assert str(policy) in config.policy_error
    assert "\n" not in config.policy_error


def test_a_missing_policy_file_fails_closed_naming_it(tmp_path):
    config = load(SOPDRILL_POLICY=str(tmp_path / "nope.yaml"))
    assert config.policy is None
    assert "nope.yaml" in config.policy_error
