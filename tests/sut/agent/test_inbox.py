"""The agent's inbox under fuzz, through the real app: bad envelopes are 4xx and change nothing."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.policy import load_policy
from sop.timescale import TimeScale
from sop.wire import sign_envelope
from sut.agent.app import create_app
from sut.agent.config import AgentConfig
from sut.agent.notifier import ChannelConfig
from sut.agent.service import AgentService

KEY = b"inbox-test-key-51d0e8"
OTHER_KEY = b"not-the-agent-key-0000"
DISPATCHER_ID = "dispatcher"
POLICY = load_policy()
MAX_AGE = timedelta(minutes=POLICY.deployment.max_envelope_age_minutes)  # at time scale 1
FIELDS = ("kind", "dispatcher_id", "seq", "sent_at", "body", "sig")


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def agent_config(tmp_path: Path) -> AgentConfig:
    """An agent whose dispatcher is a closed 127.0.0.1 port, real time, log in ``tmp_path``."""
    return AgentConfig(
        name="ops",
        url=None,
        hostname="ops-test",
        bind="127.0.0.1",
        port=0,
        dispatcher_url=f"http://127.0.0.1:{closed_port()}",
        hmac_key=KEY,
        channels=ChannelConfig(None, None, None, None, None, None),
        emergency_log=tmp_path / "emergency.log",
        log_dir=None,
        protected_dirs=(),
        supervisor_url=None,
        managed_services=(),
        ollama_url=None,
        dispatcher_pidfile=None,
        process_scope=None,
        host_memory_bytes=None,
        scale=TimeScale(1),
        policy=POLICY,
        policy_error=None,
        secrets=frozenset({KEY.decode()}),
    )


@contextmanager
def running(threaded_server, service: AgentService) -> Iterator[httpx.Client]:
    """The agent's app served (lifespan on: the service's loops run); a client on it."""
    with (
        threaded_server(create_app(service), graceful_shutdown_s=0.5) as server,
        httpx.Client(base_url=server.url, timeout=5.0, trust_env=False) as client,
    ):
        yield client


class Inbox:
    """A running agent app and what the silence timer and replay guard say right now."""

    def __init__(self, client: httpx.Client, service: AgentService) -> None:
        self.client = client
        self.service = service
        self.accepted_seq = 0

    def post(self, payload: Any) -> int:
        return self.client.post("/v1/inbox", json=payload).status_code

    def post_bytes(self, raw: bytes) -> int:
        headers = {"content-type": "application/json"}
        return self.client.post("/v1/inbox", content=raw, headers=headers).status_code

    def timer(self) -> tuple[Any, ...]:
        """Everything a rejected envelope must leave alone."""
        assert self.service.detector is not None
        assert self.service.guard is not None
        return (
            self.service.detector.state.last_heartbeat_at,
            dict(self.service.guard.last_seq),
            self.service.metrics.counters["inbox_accepted_heartbeat"],
            self.service.metrics.counters["inbox_accepted_task"],
        )


def heartbeat(seq: int, key: bytes = KEY, sent_at: datetime | None = None, **body: Any):
    return sign_envelope(
        key, "heartbeat", {"status": "ok", "provider": "ok", **body}, seq, DISPATCHER_ID, sent_at
    )


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, threaded_server) -> Iterator[Inbox]:
    """One agent for the fuzz tests; it has accepted exactly one heartbeat before they run."""
    service = AgentService(agent_config(tmp_path_factory.mktemp("agent")))
    with running(threaded_server, service) as client:
        box = Inbox(client, service)
        box.accepted_seq = time.time_ns()
        assert box.post(heartbeat(box.accepted_seq)) == 202
        assert service.detector.state.last_heartbeat_at is not None
        yield box


def assert_rejected(inbox: Inbox, status: int, before: tuple[Any, ...]) -> None:
    assert 400 <= status < 500, status
    assert inbox.timer() == before


# ---- strategies ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
ENVELOPE_DICTS = st.fixed_dictionaries(
    {},
    optional={name: JSON for name in FIELDS} | {"extra": JSON},
)


def fresh_seq(inbox: Inbox) -> st.SearchStrategy[int]:
    return st.integers(inbox.accepted_seq + 1, inbox.accepted_seq + 10**9)


# ---- the fuzz -------------------------------------------------------------------------------


@given(payload=JSON)
def test_random_json_is_rejected_without_touching_the_timer(inbox, payload):
    before = inbox.timer()
    assert_rejected(inbox, inbox.post(payload), before)


@given(payload=ENVELOPE_DICTS)
def test_random_envelope_shaped_dicts_are_rejected(inbox, payload):
    before = inbox.timer()
    assert_rejected(inbox, inbox.post(payload), before)


@given(raw=st.binary(max_size=200))
def test_bytes_that_are_not_an_envelope_are_rejected(inbox, raw):
    before = inbox.timer()
    assert_rejected(inbox, inbox.post_bytes(raw), before)


@given(data=st.data())
def test_an_envelope_signed_with_another_key_is_unauthorized(inbox, data):
    before = inbox.timer()
    envelope = heartbeat(data.draw(fresh_seq(inbox)), key=OTHER_KEY)
    status = inbox.post(envelope)
    assert status == 401
    assert_rejected(inbox, status, before)


@given(data=st.data(), field=st.sampled_from(FIELDS))
def test_any_field_changed_after_signing_is_rejected(inbox, data, field):
    envelope = heartbeat(data.draw(fresh_seq(inbox)))
    original = envelope[field]
    mutated = data.draw(JSON.filter(lambda value: value != original), label=field)
    before = inbox.timer()
    status = inbox.post({**envelope, field: mutated})
    assert_rejected(inbox, status, before)


@given(data=st.data())
def test_a_replayed_or_older_seq_is_a_conflict(inbox, data):
    seq = data.draw(st.integers(0, inbox.accepted_seq))
    before = inbox.timer()
    status = inbox.post(heartbeat(seq))
    assert status == 409
    assert_rejected(inbox, status, before)


@given(data=st.data(), age_s=st.floats(1.0, 10**7))
def test_a_stale_envelope_is_a_conflict(inbox, data, age_s):
    sent_at = datetime.now(UTC) - MAX_AGE - timedelta(seconds=age_s)
    before = inbox.timer()
    status = inbox.post(heartbeat(data.draw(fresh_seq(inbox)), sent_at=sent_at))
    assert status == 409
    assert_rejected(inbox, status, before)


def test_a_task_with_a_wrong_key_never_reaches_the_gate(inbox):
    before = inbox.timer()
    decisions = len(inbox.service.decisions)
    task = {"task_id": "t1", "action": "delete_data", "target": "/srv", "params": {}}
    envelope = sign_envelope(OTHER_KEY, "task", task, inbox.accepted_seq + 5, DISPATCHER_ID)
    assert_rejected(inbox, inbox.post(envelope), before)
    assert len(inbox.service.decisions) == decisions


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,  # deeper than the JSON parser's recursion limit
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'{"seq": ' + b"9" * 5_000 + b"}",  # beyond Python's int-from-string digit limit
        b"\xff\xfe\x00",
        b"",
        b"NaN",
    ],
)
def test_pathological_bodies_are_bad_requests_not_server_errors(inbox, raw):
    before = inbox.timer()
    assert_rejected(inbox, inbox.post_bytes(raw), before)


def test_nesting_at_the_edge_of_the_recursion_limit_is_never_a_server_error(inbox):
    # Somewhere in this range the parser still copes and the signer's canonical JSON may not.
    for depth in range(900, 1_010, 3):
        envelope = heartbeat(inbox.accepted_seq + 1)
        raw = json.dumps({k: v for k, v in envelope.items() if k != "body"})[:-1]
        raw += ', "body": {"x": ' + "[" * depth + "]" * depth + "}}"
        before = inbox.timer()
        assert_rejected(inbox, inbox.post_bytes(raw.encode()), before)


# ---- the one that must get through -----------------------------------------------------------


@pytest.fixture
def agent(tmp_path, threaded_server) -> Iterator[Inbox]:
    service = AgentService(agent_config(tmp_path))
    with running(threaded_server, service) as client:
        yield Inbox(client, service)


def test_a_valid_signed_heartbeat_is_accepted_and_moves_the_silence_timer(agent):
    service = agent.service
    assert service.detector.state.last_heartbeat_at is None
    seq = time.time_ns()

    response = agent.client.post("/v1/inbox", json=heartbeat(seq))

    assert response.status_code == 202
    assert response.json()["accepted"] is True
    first = service.detector.state.last_heartbeat_at
    assert first is not None
    assert service.guard.last_seq == {DISPATCHER_ID: seq}
    state = agent.client.get("/v1/state").json()
    assert state["last_heartbeat_at"] is not None

    # The very same envelope again is a replay; the next seq moves the timer on.
    assert agent.post(heartbeat(seq)) == 409
    assert service.detector.state.last_heartbeat_at == first
    assert agent.post(heartbeat(seq + 1)) == 202
    assert service.detector.state.last_heartbeat_at >= first
    assert service.guard.last_seq == {DISPATCHER_ID: seq + 1}


def test_a_heartbeat_reporting_rate_limits_starts_the_scenario_b_clock(agent):
    seq = time.time_ns()
    assert agent.post(heartbeat(seq, provider="rate_limited")) == 202
    assert agent.service.detector.state.rate_limited_since is not None
    assert agent.post(heartbeat(seq + 1, provider="ok")) == 202
    assert agent.service.detector.state.rate_limited_since is None
