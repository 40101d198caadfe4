"""The Ollama stand-in over real HTTP: Ollama's shapes, NDJSON streaming, faults, the sink."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from sop.errors import ServiceConfigError
from sut.runtime import Settings
from sut.standins.ollama import DEFAULT_MODELS, create_app

TIMING_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str]) -> str:
    return serve(create_app(Settings("ollama", environ={"SOPDRILL_OLLAMA_VERSION": "0.6.5"})))


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        client.delete("/_fault")
        client.delete("/_sink/messages")
        yield client


def _lines(answer: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line) for line in answer.text.splitlines()]


def test_tags_list_the_configured_models_in_ollamas_shape(client: httpx.Client) -> None:
    models = client.get("/api/tags").json()["models"]
    assert [m["name"] for m in models] == DEFAULT_MODELS.split(",")
    first = models[0]
    assert set(first) == {"name", "model", "modified_at", "size", "digest", "details"}
    assert first["model"] == first["name"]
    assert isinstance(first["size"], int)
    assert len(first["digest"]) == 64
    assert first["details"]["parameter_size"] == "1.5B"
    assert first["details"]["family"] == "qwen"
    assert first["details"]["families"] == ["qwen"]
    assert {"format", "quantization_level"} <= set(first["details"])


def test_version(client: httpx.Client) -> None:
    assert client.get("/api/version").json() == {"version": "0.6.5"}


def test_generate_streams_ndjson_by_default(client: httpx.Client) -> None:
    answer = client.post("/api/generate", json={"model": "qwen2.5:1.5b", "prompt": "status?"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(answer)
    *chunks, final = lines
    assert len(chunks) >= 2
    assert all(c["done"] is False and c["model"] == "qwen2.5:1.5b" for c in chunks)
    assert "".join(str(c["response"]) for c in chunks).startswith("Stand-in reply")
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert all(isinstance(final[field], int) for field in TIMING_FIELDS)
    assert final["eval_count"] == len(chunks)


def test_generate_without_streaming_is_one_object(client: httpx.Client) -> None:
    answer = client.post(
        "/api/generate", json={"model": "qwen2.5:1.5b", "prompt": "hi", "stream": False}
    )
    body = answer.json()
    assert body["done"] is True
    assert str(body["response"]).startswith("Stand-in reply from qwen2.5:1.5b")
    assert all(field in body for field in TIMING_FIELDS)


def test_chat_streams_assistant_messages(client: httpx.Client) -> None:
    request = {"model": "llama3.2:3b", "messages": [{"role": "user", "content": "ping"}]}
    *chunks, final = _lines(client.post("/api/chat", json=request))
    assert all(c["message"]["role"] == "assistant" for c in chunks)  # type: ignore[index]
    assert final["done"] is True
    assert final["message"] == {"role": "assistant", "content": ""}


def test_chat_without_streaming_carries_the_whole_reply(client: httpx.Client) -> None:
    request = {"model": "llama3.2:3b", "messages": [], "stream": False}
    body = client.post("/api/chat", json=request).json()
    assert body["message"]["role"] == "assistant"
    assert "llama3.2:3b" in body["message"]["content"]
    assert body["done"] is True


def test_a_name_without_tag_means_latest(client: httpx.Client) -> None:
    answer = client.post("/api/generate", json={"model": "qwen2.5", "stream": False})
    assert answer.status_code == 404
    assert answer.json() == {"error": "model 'qwen2.5' not found"}


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/chat", {"model": "mistral:7b"}, 404, "model 'mistral:7b' not found"),
        ("/api/generate", {"prompt": "x"}, 400, "model is required"),
        ("/api/generate", {"model": "qwen2.5:1.5b", "stream": "yes"}, 400, "stream: expected"),
        ("/api/chat", {"model": "llama3.2:3b", "messages": "hi"}, 400, "messages: expected"),
    ],
)
def test_bad_requests_answer_ollamas_error_shape(
    client: httpx.Client, path: str, body: dict[str, object], status: int, error: str
) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == status
    assert str(answer.json()["error"]).startswith(error)
    assert client.get("/_sink/messages").json() == []


@pytest.mark.parametrize("route", ["/api/generate", "/api/chat"])
def test_a_body_past_the_limit_is_413(post_too_large, route: str) -> None:
    # It was a 400: docs/security.md says 413 (issue 14's fuzz).
    answer = post_too_large(create_app(Settings("ollama", environ={})), route, {})
    assert answer.status_code == 413
    assert answer.json()["error"].startswith("request body: larger than")


def test_rate_limit_fault_is_429_with_an_error_body_then_reverts(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "rate_limit", "count": 2, "retry_after_seconds": 30})
    request = {"model": "qwen2.5:1.5b", "messages": [], "stream": False}
    first, second, third = (client.post("/api/chat", json=request) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert "Rate Limit Exceeded" in first.json()["error"]
    assert first.headers["Retry-After"] == "30"
    assert client.get("/_fault").json()["mode"] == "ok"
    assert len(client.get("/_sink/messages").json()) == 1


def test_down_answers_503_but_health_and_control_stay_up(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "down"})
    assert client.get("/api/tags").status_code == 503
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.delete("/_fault").json()["mode"] == "ok"
    assert client.get("/api/tags").status_code == 200


def test_sink_records_generate_and_chat_oldest_first(client: httpx.Client) -> None:
    client.post("/api/generate", json={"model": "qwen2.5:1.5b", "prompt": "one", "stream": False})
    client.post("/api/chat", json={"model": "llama3.2:3b", "messages": [], "stream": True})
    entries = client.get("/_sink/messages").json()
    assert [(e["kind"], e["model"], e["path"]) for e in entries] == [
        ("generate", "qwen2.5:1.5b", "/api/generate"),
        ("chat", "llama3.2:3b", "/api/chat"),
    ]
    assert entries[0]["body"]["prompt"] == "one"
    assert entries[0]["received_at"] <= entries[1]["received_at"]
    assert client.delete("/_sink/messages").json() == {"cleared": 2}


def test_no_models_configured_is_a_one_line_config_error() -> None:
    with pytest.raises(ServiceConfigError, match="SOPDRILL_OLLAMA_MODELS"):
        create_app(Settings("ollama", environ={"SOPDRILL_OLLAMA_MODELS": " , "}))


def test_the_model_store_is_made_at_start_as_ollama_serve_does(tmp_path) -> None:
    store = tmp_path / "models"
    create_app(Settings("ollama", environ={"OLLAMA_MODELS": str(store)}))
    assert sorted(p.name for p in store.iterdir()) == ["blobs", "manifests"]


def test_a_store_that_cannot_be_made_fails_the_start_with_one_line(tmp_path) -> None:
    # emergency-procedures.md scenario 2 STEP 4: the restart that cannot bring Ollama back.
    store = tmp_path / "models"
    store.write_text("a file where the store should be")
    with pytest.raises(ServiceConfigError, match="OLLAMA_MODELS: cannot open the model store"):
        create_app(Settings("ollama", environ={"OLLAMA_MODELS": str(store)}))
