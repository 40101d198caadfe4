"""Every write to the dispatcher names its caller: the operator's token or the agent's signature.

Unauthenticated writes are 401, wrong credentials 403; neither changes anything. A forged
emergency-log upload (signed with another key) is refused, so the record the integrity
check judges is the real agent's (sop/callers.py, sut/dispatcher/auth.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sop.callers import bearer_headers, sign_request
from sop.chain import chain_entry

TASK = {"agent": "ops", "action": "restart_service", "target": "nginx", "params": {}}


def _entries(n: int) -> list[dict]:
    entries, previous = [], None
    for i in range(n):
        previous = chain_entry(previous, {"kind": "marker", "n": i})
        entries.append(previous)
    return entries


def _incident() -> dict:
    return {
        "agent": "ops",
        "timestamp": datetime.now(UTC).isoformat(),
        "severity": "P1",
        "category": "service_down",
        "component": "ollama",
        "description": "ollama is down",
        "last_success": None,
        "attempts": 1,
        "requested_action": "restart_service",
        "escalation_timeout": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
    }


WRITES = [
    ("/v1/agents", {"name": "ops", "url": "http://127.0.0.1:9"}),
    ("/v1/tasks", TASK),
    ("/v1/incidents", _incident()),
    ("/v1/emergency-log", {"agent": "ops", "entries": _entries(1)}),
    ("/v1/integrity-check", {"agent": "ops"}),
]


def _post(url: str, path: str, body: dict, headers: dict[str, str]) -> httpx.Response:
    raw = json.dumps(body).encode()
    return httpx.post(
        f"{url}{path}",
        content=raw,
        headers={"Content-Type": "application/json", **headers},
        trust_env=False,
        timeout=10,
    )


def _signed(key: bytes, path: str, body: dict, **kwargs) -> dict[str, str]:
    return sign_request(key, "POST", path, json.dumps(body).encode(), **kwargs)


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_a_write_without_credentials_is_401_and_changes_nothing(stack, path, body):
    answer = _post(stack.url, path, body, {})
    assert answer.status_code == 401
    assert "authentication required" in answer.json()["error"]
    assert stack.agent.envelopes("task") == []
    assert stack.client.get("/v1/incidents").json()["incidents"] == []
    assert stack.client.get("/v1/emergency-log/ops").json()["entries"] == []


@pytest.mark.parametrize(("path", "body"), [WRITES[1], WRITES[4]])
def test_a_wrong_operator_token_is_403(stack, path, body):
    answer = _post(stack.url, path, body, bearer_headers("not-the-operator"))
    assert answer.status_code == 403
    assert "the operator token is wrong" in answer.json()["error"]
    assert stack.agent.envelopes("task") == []


@pytest.mark.parametrize(("path", "body"), [WRITES[2], WRITES[3]])
def test_the_operator_alone_cannot_write_the_agents_record(stack, path, body):
    """Incidents and log uploads are the agent's word: its signature, not a token."""
    answer = _post(stack.url, path, body, bearer_headers(stack.config.operator_token))
    assert answer.status_code == 401


def test_a_forged_upload_is_refused_and_the_real_agents_completes(stack):
    key = stack.config.hmac_key
    forged = {"agent": "ops", "entries": _entries(3)}
    answer = _post(
        stack.url, "/v1/emergency-log", forged, _signed(b"attacker", "/v1/emergency-log", forged)
    )
    assert answer.status_code == 403
    assert stack.client.get("/v1/emergency-log/ops").json()["entries"] == []

    real = {"agent": "ops", "entries": _entries(2)}
    answer = _post(stack.url, "/v1/emergency-log", real, _signed(key, "/v1/emergency-log", real))
    assert (answer.status_code, answer.json()["acknowledged_through"]) == (200, 1)
    check = {"agent": "ops"}
    verdict = _post(
        stack.url, "/v1/integrity-check", check, _signed(key, "/v1/integrity-check", check)
    )
    assert verdict.json()["status"] == "ok"


def test_a_signature_over_other_bytes_or_another_path_is_403(stack):
    key = stack.config.hmac_key
    body = {"agent": "ops", "entries": _entries(1)}
    tampered = {"agent": "ops", "entries": _entries(2)}
    headers = _signed(key, "/v1/emergency-log", body)
    assert _post(stack.url, "/v1/emergency-log", tampered, headers).status_code == 403
    moved = _signed(key, "/v1/incidents", body)
    assert _post(stack.url, "/v1/emergency-log", body, moved).status_code == 403


def test_a_stale_signature_is_refused(stack):
    """A captured request cannot be replayed later: its signing time ages out."""
    key, body = stack.config.hmac_key, {"agent": "ops", "entries": _entries(1)}
    old = datetime.now(UTC) - stack.config.max_request_age - timedelta(seconds=1)
    answer = _post(
        stack.url, "/v1/emergency-log", body, _signed(key, "/v1/emergency-log", body, sent_at=old)
    )
    assert answer.status_code == 403
    assert "stale" in answer.json()["error"]
