"""The signal-cli-rest-api stand-in over real HTTP: /v2/send, /v1/about, refusals, faults, sink."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from sop.errors import ServiceConfigError
from sut.runtime import Settings
from sut.standins.signal import create_app

NUMBER = "+15550100001"
RECIPIENT = "+15550100002"


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str]) -> str:
    return serve(create_app(Settings("signal", environ={"SOPDRILL_SIGNAL_NUMBER": NUMBER})))


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        client.delete("/_fault")
        client.delete("/_sink/messages")
        yield client


def _send(client: httpx.Client, **override: object) -> httpx.Response:
    body: dict[str, object] = {"message": "OFFLINE", "number": NUMBER, "recipients": [RECIPIENT]}
    body.update(override)
    return client.post("/v2/send", json=body)


def test_send_answers_201_with_a_millisecond_timestamp_string(client: httpx.Client) -> None:
    first, second = _send(client), _send(client)
    assert first.status_code == second.status_code == 201
    stamps = [first.json()["timestamp"], second.json()["timestamp"]]
    assert all(isinstance(s, str) and s.isdigit() and len(s) == 13 for s in stamps)
    assert int(stamps[0]) < int(stamps[1])


def test_about_describes_the_api(client: httpx.Client) -> None:
    about = client.get("/v1/about").json()
    assert about["versions"] == ["v1", "v2"]
    assert about["mode"] == "normal"
    assert isinstance(about["build"], int)
    assert isinstance(about["version"], str)
    assert isinstance(about["capabilities"], dict)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"recipients": []}, "at least one recipient"),
        ({"recipients": None}, "at least one recipient"),
        ({"recipients": [""]}, "recipients"),
        ({"number": None}, "valid number"),
        ({"message": None}, "message"),
        ({"number": "+15559999999"}, "User +15559999999 is not registered."),
    ],
)
def test_a_bad_send_is_400_with_an_error(
    client: httpx.Client, override: dict[str, object], reason: str
) -> None:
    answer = _send(client, **override)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert client.get("/_sink/messages").json() == []


def test_a_body_that_is_not_json_is_400(client: httpx.Client) -> None:
    answer = client.post("/v2/send", content=b"message=hi")
    assert answer.status_code == 400
    assert answer.json() == {"error": "Couldn't process request - invalid request"}


def test_a_body_past_the_limit_is_413(post_too_large) -> None:
    # It was a 400 "invalid request": docs/security.md says 413 (issue 14's fuzz).
    app = create_app(Settings("signal", environ={"SOPDRILL_SIGNAL_NUMBER": NUMBER}))
    answer = post_too_large(app, "/v2/send", {})
    assert answer.status_code == 413
    assert answer.json() == {"error": "Couldn't process request - request too large"}


def test_sink_records_sends_oldest_first(client: httpx.Client) -> None:
    stamps = [_send(client, message=text).json()["timestamp"] for text in ("first", "second")]
    entries = client.get("/_sink/messages").json()
    assert [(e["message"], e["timestamp"]) for e in entries] == list(
        zip(["first", "second"], stamps, strict=True)
    )
    assert entries[0]["recipients"] == [RECIPIENT]
    assert entries[0]["number"] == NUMBER
    assert entries[0]["path"] == "/v2/send"
    assert "received_at" in entries[0]


def test_counted_error_fault_reverts(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "error", "status": 500, "count": 1})
    failed = _send(client)
    assert failed.status_code == 500
    assert "error" in failed.json()
    assert _send(client).status_code == 201
    assert len(client.get("/_sink/messages").json()) == 1


def test_down_is_503_on_send_and_about(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "down"})
    assert _send(client).status_code == 503
    assert client.get("/v1/about").status_code == 503
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("environ", [{}, {"SOPDRILL_SIGNAL_NUMBER": "0155501"}])
def test_missing_or_malformed_number_is_a_config_error(environ: dict[str, str]) -> None:
    with pytest.raises(ServiceConfigError, match="SOPDRILL_SIGNAL_NUMBER"):
        create_app(Settings("signal", environ=environ))
