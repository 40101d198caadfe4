"""The dispatcher's HTTP API over a real socket: agents, tasks, incidents, logs, integrity."""

from __future__ import annotations

import copy
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from sop.chain import chain_entry
from sop.wire import verify_envelope
from sut.runtime.body import MAX_BODY_BYTES


def signal(**changes: Any) -> dict[str, Any]:
    """The distress signal of emergency-procedures.md, with ``changes`` applied."""
    base = {
        "timestamp": "2026-03-31T12:00:00Z",
        "agent": "allegro-primus",
        "severity": "P1",
        "category": "service_failure",
        "component": "ollama",
        "message": "Ollama service not responding to health checks",
        "context": {"last_success": "2026-03-31T11:45:00Z", "attempts": 3},
        "requested_action": "father_intervention",
        "escalation_timeout": "2026-03-31T12:30:00Z",
    }
    base.update(changes)
    return base


def chain(n: int) -> list[dict[str, Any]]:
    """A valid emergency log of ``n`` entries."""
    entries: list[dict[str, Any]] = []
    for i in range(n):
        fields = {"at": f"2026-11-23T17:{i:02d}:00+00:00", "kind": "decision", "action": f"a{i}"}
        entries.append(chain_entry(entries[-1] if entries else None, fields))
    return entries


# ---- agents -----------------------------------------------------------------------------


def test_registered_agents_are_listed_and_re_registration_repoints(stack):
    first = stack.client.post("/v1/agents", json={"name": "edge-1", "url": "http://127.0.0.1:9/"})
    assert first.status_code == 201
    assert first.json() == {"name": "edge-1", "url": "http://127.0.0.1:9"}
    again = stack.client.post("/v1/agents", json={"name": "edge-1", "url": "http://127.0.0.1:8"})
    assert again.status_code == 201
    agents = stack.client.get("/v1/agents").json()["agents"]
    assert [a["name"] for a in agents] == ["ops", "edge-1"]
    assert agents[1]["url"] == "http://127.0.0.1:8"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9"}, "name"),
        ({"name": "../etc", "url": "http://127.0.0.1:9"}, "name"),
        ({"name": "a"}, "url"),
        ({"name": "a", "url": "ftp://x"}, "url"),
        # Not to be dialled: each made every task to the agent a 500 (issue 14).
        ({"name": "a", "url": "http://["}, "url"),
        ({"name": "a", "url": "http://127.0.0.1:99999"}, "url"),
        ({"name": "a", "url": "https://:8"}, "url"),
    ],
)
def test_bad_agent_registration_is_422_naming_the_field(stack, body, field):
    answer = stack.client.post("/v1/agents", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(f"{field}:")
    assert "\n" not in answer.json()["error"]


def test_unparseable_json_is_400(stack):
    for path in ("/v1/agents", "/v1/tasks", "/v1/incidents", "/v1/emergency-log"):
        answer = stack.client.post(path, content=b"{not json")
        assert answer.status_code == 400, path
        assert answer.json() == {"error": "request body: not valid JSON"}
    answer = stack.client.post("/v1/incidents", json=[1, 2])
    assert answer.status_code == 400
    assert "expected a JSON object" in answer.json()["error"]


# ---- tasks ------------------------------------------------------------------------------


def test_task_is_signed_delivered_and_answered_with_the_agents_verdict(stack, wait_for):
    wait_for(lambda: stack.agent.envelopes("heartbeat"), "a first heartbeat")
    stack.agent.answer = {"decision": "executed", "task": "restart"}
    request = {"agent": "ops", "action": "restart_service", "target": "nginx", "params": {"n": 1}}
    answer = stack.client.post("/v1/tasks", json=request)

    assert answer.status_code == 200
    result = answer.json()
    assert result["delivered"] is True
    assert result["agent_status"] == 200
    assert result["agent_response"] == {"decision": "executed", "task": "restart"}
    [raw] = stack.agent.envelopes("task")
    task = verify_envelope(stack.key, raw)
    assert task.body == {
        "task_id": result["task_id"],
        "action": "restart_service",
        "target": "nginx",
        "params": {"n": 1},
    }
    # One counter for every kind: the task is newer than every heartbeat before it.
    earlier = [
        e["seq"] for e in stack.agent.envelopes("heartbeat") if e["sent_at"] < raw["sent_at"]
    ]
    assert task.seq > max(earlier)
    assert stack.client.get("/v1/tasks").json()["tasks"][-1]["task_id"] == result["task_id"]


def test_concurrent_tasks_reach_the_agent_in_sequence_order(stack, wait_for):
    """Eight callers at once: every envelope arrives above the last (none is a replay)."""
    wait_for(lambda: stack.agent.envelopes("heartbeat"), "a first heartbeat")
    callers, each = 8, 5

    def assign(caller: int) -> list[bool]:
        with httpx.Client(
            base_url=stack.url, timeout=10.0, trust_env=False, auth=stack.client.auth
        ) as client:
            return [
                client.post(
                    "/v1/tasks",
                    json={"agent": "ops", "action": "restart_service", "target": f"s{caller}"},
                ).json()["delivered"]
                for _ in range(each)
            ]

    with ThreadPoolExecutor(callers) as pool:
        delivered = [ok for answers in pool.map(assign, range(callers)) for ok in answers]
    assert delivered == [True] * callers * each
    # The agent's replay rule (docs/architecture.md): a seq not above every earlier one
    # is refused. In arrival order, heartbeats and tasks alike, seq only ever grows.
    arrived = [envelope["seq"] for envelope in stack.agent.envelopes()]
    assert len([e for e in stack.agent.envelopes("task")]) == callers * each
    assert arrived == sorted(arrived)
    assert len(set(arrived)) == len(arrived)


def test_a_refused_task_is_reported_as_not_delivered_with_the_agents_answer(stack):
    stack.agent.status = 403
    stack.agent.answer = {"error": "delete_data is on the red list"}
    result = stack.client.post(
        "/v1/tasks", json={"agent": "ops", "action": "delete_data", "target": "/data"}
    ).json()
    assert result["delivered"] is False
    assert result["agent_status"] == 403
    assert result["agent_response"] == {"error": "delete_data is on the red list"}


def test_task_for_an_unknown_agent_is_404_and_bad_fields_422(stack):
    unknown = stack.client.post("/v1/tasks", json={"agent": "nope", "action": "a", "target": "t"})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    bad = stack.client.post("/v1/tasks", json={"agent": "ops", "action": "", "target": "t"})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("action:")
    params = stack.client.post(
        "/v1/tasks", json={"agent": "ops", "action": "a", "target": "t", "params": [1]}
    )
    assert params.status_code == 422
    assert params.json()["error"].startswith("params:")
    assert stack.agent.envelopes("task") == []


# ---- incidents --------------------------------------------------------------------------


def test_a_distress_signal_is_accepted_and_listed(stack):
    answer = stack.client.post("/v1/incidents", json=signal())
    assert answer.status_code == 201
    incident_id = answer.json()["id"]
    [listed] = stack.client.get("/v1/incidents").json()["incidents"]
    assert listed["id"] == incident_id
    assert listed["severity"] == "P1"
    assert listed["context"]["attempts"] == 3


def test_an_invalid_distress_signal_is_422_naming_the_field(stack):
    answer = stack.client.post("/v1/incidents", json=signal(severity="P9"))
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("severity:")
    assert stack.client.get("/v1/incidents").json()["incidents"] == []


# ---- emergency log and integrity --------------------------------------------------------


def upload(stack, agent: str, entries: list[dict[str, Any]]):
    return stack.client.post("/v1/emergency-log", json={"agent": agent, "entries": entries})


def test_log_upload_is_idempotent_and_acknowledges_the_contiguous_prefix(stack):
    log = chain(5)
    first = upload(stack, "ops", log[:3])
    assert first.status_code == 200
    assert first.json()["acknowledged_through"] == 2
    assert first.json()["received"] == 3

    overlapping = upload(stack, "ops", log).json()
    assert (overlapping["acknowledged_through"], overlapping["stored"]) == (4, 2)
    stored = stack.client.get("/v1/emergency-log/ops").json()
    # A request without an epoch is epoch 0: the contract from before epochs, unchanged.
    assert (stored["agent"], stored["epoch"], stored["entries"]) == ("ops", 0, log)

    again = upload(stack, "ops", log).json()
    assert (again["acknowledged_through"], again["received"], again["stored"]) == (4, 5, 0)
    assert stack.client.get("/v1/emergency-log/ops").json()["entries"] == log


def test_a_gap_holds_the_acknowledgement_back(stack):
    log = chain(4)
    answer = upload(stack, "ops", [log[0], log[1], log[3]]).json()
    assert answer["acknowledged_through"] == 1
    assert upload(stack, "ops", [log[2]]).json()["acknowledged_through"] == 3


def test_an_entry_rewriting_a_stored_seq_is_409_and_changes_nothing(stack):
    log = chain(3)
    upload(stack, "ops", log[:2])
    forged = copy.deepcopy(log)
    forged[1]["action"] = "delete_data"
    forged[1]["hash"] = "f" * 64
    answer = upload(stack, "ops", forged)
    assert answer.status_code == 409
    assert "seq 1" in answer.json()["error"]
    # Refused whole: not even the new entry 2 of that upload was kept.
    assert stack.client.get("/v1/emergency-log/ops").json()["entries"] == log[:2]


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ("nope", "entries"),
        ([{"hash": "x"}], "entries[0].seq"),
        ([{"seq": -1, "hash": "x"}], "entries[0].seq"),
        ([{"seq": 0}], "entries[0].hash"),
    ],
)
def test_malformed_log_entries_are_422_naming_the_entry(stack, entries, field):
    answer = upload(stack, "ops", entries)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(f"{field}:")


def test_integrity_check_is_ok_for_an_intact_chain_and_recorded(stack):
    log = chain(4)
    upload(stack, "ops", log)
    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    assert {k: report[k] for k in ("agent", "status", "entries", "head", "error", "epoch")} == {
        "agent": "ops",
        "status": "ok",
        "entries": 4,
        "head": log[-1]["hash"],
        "error": None,
        "epoch": 0,
    }
    assert [(e["epoch"], e["status"]) for e in report["epochs"]] == [(0, "ok")]
    [check] = stack.client.get("/v1/integrity-checks").json()["checks"]
    assert (check["agent"], check["status"]) == ("ops", "ok")
    assert "requested_at" in check


def test_integrity_check_finds_a_tampered_upload(stack):
    log = chain(4)
    log[2]["action"] = "deploy_code"  # changed after hashing: the line no longer matches
    upload(stack, "ops", log)
    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    assert report["status"] == "broken"
    assert report["head"] is None
    assert report["entries"] == 4
    assert "line 3" in report["error"]
    checks = stack.client.get("/v1/integrity-checks").json()["checks"]
    assert [c["status"] for c in checks] == ["broken"]


def test_integrity_check_finds_a_missing_entry(stack):
    log = chain(4)
    upload(stack, "ops", [log[0], log[1], log[3]])
    report = stack.client.post("/v1/integrity-check", json={"agent": "ops"}).json()
    assert report["status"] == "broken"
    assert "seq 3, expected 2" in report["error"]


# ---- health and metrics -----------------------------------------------------------------


def test_healthz_and_unknown_routes(stack):
    assert stack.client.get("/healthz").json() == {"status": "ok"}
    missing = stack.client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "GET /v1/nothing: Not Found"}


def test_metrics_count_heartbeats_uploads_and_provider_status(stack, wait_for):
    wait_for(lambda: len(stack.agent.envelopes("heartbeat")) >= 2, "2 heartbeats")
    upload(stack, "ops", chain(2))
    answer = stack.client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines()
        if line and not line.startswith("#")
    }
    assert (
        samples['sopdrill_dispatcher_heartbeats_sent_total{agent="ops",outcome="delivered"}'] >= 2
    )
    assert samples['sopdrill_dispatcher_provider_status{status="ok"}'] == 1
    assert samples['sopdrill_dispatcher_provider_status{status="rate_limited"}'] == 0
    assert samples["sopdrill_dispatcher_log_uploads_total"] == 1
    assert samples["sopdrill_dispatcher_log_entries_stored_total"] == 2
    assert samples["sopdrill_dispatcher_agents"] == 1


@pytest.mark.parametrize("route", ["/v1/agents", "/v1/tasks", "/v1/incidents", "/v1/emergency-log"])
def test_a_hostile_body_is_a_4xx_on_every_write_route(stack, route):
    """Nested past the parser's recursion (a 500 before) or past the size limit: refused."""
    deep = stack.client.post(route, content=b"[" * 5000 + b"]" * 5000)
    assert (deep.status_code, deep.json()) == (400, {"error": "request body: not valid JSON"})
    # Declared too large: refused before a byte of it is read (raw, as httpx will not lie).
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            f"POST {route} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n{{".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            got = raw.recv(65536)
            if not got:
                break
            answer += got
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413 "), head
    assert body == f'{{"error":"request body: larger than {MAX_BODY_BYTES} bytes"}}'
