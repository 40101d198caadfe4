"""The heartbeat loop end to end: signed beats at the scaled interval, SOP 2B reporting."""

from __future__ import annotations

import itertools
import socket
import statistics
import time
from collections.abc import Iterator

import pytest

from sop.errors import WireError
from sop.wire import verify_envelope


def test_heartbeats_arrive_signed_with_increasing_seq_at_the_scaled_interval(stack, wait_for):
    started_ns = time.time_ns()
    beats = wait_for(
        lambda: len(stack.agent.envelopes("heartbeat")) >= 8 and stack.agent.envelopes("heartbeat"),
        "8 heartbeats at the fake agent",
    )
    envelopes = [verify_envelope(stack.key, raw) for raw in beats]
    assert {e.kind for e in envelopes} == {"heartbeat"}
    assert {e.dispatcher_id for e in envelopes} == {"dispatcher"}
    assert all(e.body == {"status": "ok", "provider": "ok"} for e in envelopes)
    seqs = [e.seq for e in envelopes]
    assert all(a < b for a, b in itertools.pairwise(seqs)), seqs
    # The counter starts at the wall clock in ns, so a restart cannot go backwards.
    assert seqs[0] >= started_ns - 10**9
    times = stack.agent.heartbeat_times()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    interval = stack.config.heartbeat_interval_s
    assert interval == pytest.approx(0.1)
    assert 0.5 * interval <= statistics.mean(gaps) <= 2.5 * interval, gaps


def test_heartbeats_do_not_verify_under_another_key(stack, wait_for):
    beat = wait_for(lambda: stack.agent.envelopes("heartbeat")[:1], "a heartbeat")[0]
    with pytest.raises(WireError):
        verify_envelope(b"some-other-key", beat)


def test_provider_429_is_reported_as_rate_limit_exceeded_until_it_recovers(stack, wait_for):
    wait_for(lambda: stack.client.get("/v1/status").json().get("provider") == "ok", "provider ok")
    stack.provider.mode = "rate_limit"

    answer = wait_for(
        lambda: (r := stack.client.get("/v1/status")).status_code == 429 and r,
        "GET /v1/status to answer 429",
    )
    assert answer.json() == {"error": "Rate Limit Exceeded"}
    wait_for(
        lambda: any(
            e["body"]["provider"] == "rate_limited" for e in stack.agent.envelopes("heartbeat")
        ),
        "a heartbeat reporting provider rate_limited",
    )

    stack.provider.mode = "ok"
    recovered = wait_for(
        lambda: (r := stack.client.get("/v1/status")).status_code == 200 and r,
        "GET /v1/status back to 200",
    )
    assert recovered.json()["provider"] == "ok"
    assert recovered.json()["agents"] == 1
    wait_for(
        lambda: stack.agent.envelopes("heartbeat")[-1]["body"]["provider"] == "ok",
        "the latest heartbeat to report provider ok again",
    )


def test_rate_limit_phrase_without_429_is_also_rate_limited(stack, wait_for):
    stack.provider.mode = "phrase"
    wait_for(
        lambda: stack.client.get("/v1/status").status_code == 429,
        "503 with a 'Rate Limit Exceeded' body to count as rate limiting",
    )


def test_provider_failure_is_reported_in_heartbeats_but_status_stays_200(stack, wait_for):
    stack.provider.mode = "error"
    wait_for(
        lambda: stack.agent.envelopes("heartbeat")[-1]["body"]["provider"] == "error",
        "a heartbeat reporting provider error",
    )
    answer = stack.client.get("/v1/status")
    assert answer.status_code == 200
    assert answer.json()["provider"] == "error"


def test_provider_is_called_once_per_round_without_streaming(stack, wait_for):
    wait_for(lambda: len(stack.provider.requests) >= 3, "3 provider calls")
    request = stack.provider.requests[0]
    assert request["stream"] is False
    assert request["model"] == "qwen2.5:1.5b"
    assert request["messages"][0]["role"] == "user"


@pytest.fixture
def hung_agents() -> Iterator[list[str]]:
    """Agents that accept the connection (kernel backlog) and never answer."""
    socks = []
    for _ in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        socks.append(sock)
    yield [f"http://127.0.0.1:{s.getsockname()[1]}" for s in socks]
    for sock in socks:
        sock.close()


def test_hung_and_dead_agents_do_not_stall_the_others(stack, wait_for, hung_agents):
    dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dead.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # bound then closed: connections are refused
    for index, url in enumerate([*hung_agents, dead_url]):
        assert stack.client.post("/v1/agents", json={"name": f"gone{index}", "url": url}).is_success

    # Rounds now last one inbox timeout; sent one after another they would last three.
    timeout_s = stack.config.inbox_timeout_s
    before = len(stack.agent.heartbeat_times())
    wait_for(
        lambda: len(stack.agent.heartbeat_times()) >= before + 7,
        "7 more heartbeats at the live agent",
        timeout_s=10 * timeout_s * 3,
    )
    times = stack.agent.heartbeat_times()[before + 1 :]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.median(gaps) < 2 * timeout_s, gaps

    metrics = stack.client.get("/metrics").text
    assert 'heartbeats_sent_total{agent="gone0",outcome="failed"}' in metrics
    assert 'heartbeats_sent_total{agent="gone3",outcome="failed"}' in metrics
    assert 'heartbeats_sent_total{agent="ops",outcome="delivered"}' in metrics
