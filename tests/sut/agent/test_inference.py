"""A restarted Ollama's test inference (cell0 "P1 - Ollama Connection Lost", steps 3-4),
against the Ollama stand-in's own app: the real API contract, its inbox read back."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from sut.agent.inference import InferenceCheck, InferenceOutcome
from sut.runtime import Settings
from sut.standins.fault import parse_fault
from sut.standins.ollama import DEFAULT_MODELS, create_app

OLLAMA = "http://ollama.test"
FIRST_MODEL = DEFAULT_MODELS.split(",")[0]
WITHIN_S = 2.0
POLL_S = 0.01


def standin() -> Starlette:
    return create_app(Settings("ollama", environ={}))


def check_with(transport: httpx.AsyncBaseTransport, within_s: float = WITHIN_S) -> InferenceOutcome:
    async def run() -> InferenceOutcome:
        async with httpx.AsyncClient(transport=transport) as client:
            return await InferenceCheck("ollama", OLLAMA, client, within_s, POLL_S).run()

    return asyncio.run(run())


def generated(app: Starlette) -> list[dict[str, Any]]:
    return [m.as_json() for m in app.state.sink.messages() if m.path == "/api/generate"]


def test_a_serving_ollama_answers_one_test_inference_on_a_model_it_lists():
    app = standin()

    outcome = check_with(httpx.ASGITransport(app=app))

    assert outcome.ok, outcome
    assert outcome.model == FIRST_MODEL
    assert outcome.as_log() == {"outcome": "ok", "model": FIRST_MODEL}
    # The runbook's `ollama run <model> "test"`: one completion, not streamed, seen by Ollama.
    [call] = generated(app)
    assert call["body"] == {"model": FIRST_MODEL, "prompt": "test", "stream": False}
    assert (call["kind"], call["model"], call["stream"]) == ("generate", FIRST_MODEL, False)
    assert [m.path for m in app.state.sink.messages()] == ["/api/generate"]


def test_an_ollama_still_coming_up_is_asked_again_until_it_lists_its_models():
    app = standin()
    app.state.faults.set(parse_fault({"mode": "down", "count": 3}))  # three 503s, then up

    outcome = check_with(httpx.ASGITransport(app=app))

    assert outcome.ok, outcome
    assert len(generated(app)) == 1
    assert app.state.faults.snapshot()["mode"] == "ok"


def closed_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_ollama_that_never_answers_fails_the_check_once_its_time_is_up():
    async def run() -> InferenceOutcome:
        async with httpx.AsyncClient() as client:
            return await InferenceCheck("ollama", closed_url(), client, 0.3, POLL_S).run()

    started = time.monotonic()
    outcome = asyncio.run(run())
    took_s = time.monotonic() - started

    assert not outcome.ok
    assert outcome.model is None
    assert outcome.as_log() == {"outcome": "failed", "model": None}
    assert "GET /api/tags" in outcome.detail
    # Refused at once, or, when the last try had only the budget's last milliseconds, out
    # of time connecting (CI, a loaded machine): either way its connection failed.
    assert "ConnectError" in outcome.detail or "ConnectTimeout" in outcome.detail
    assert "0.3 wall s" in outcome.detail
    assert 0.3 <= took_s < 0.3 + 1.0


def answering(generate: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """Ollama's tags listing one model; ``generate`` answers the completion."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tags":
            return httpx.Response(200, json={"models": [{"name": "llama3.1:latest"}]})
        return generate(request)

    return httpx.MockTransport(answer)


def test_a_generate_that_fails_fails_the_check_naming_the_model_tried():
    outcome = check_with(answering(lambda _: httpx.Response(500, json={"error": "boom"})))

    assert not outcome.ok
    assert outcome.model == "llama3.1:latest"
    assert outcome.detail == "POST /api/generate: HTTP 500"
    assert outcome.as_log() == {"outcome": "failed", "model": "llama3.1:latest"}


def test_a_generate_answered_without_a_response_is_no_reply():
    outcome = check_with(answering(lambda _: httpx.Response(200, json={"done": True})))

    assert not outcome.ok
    assert outcome.detail == "POST /api/generate: no response in the answer"


def test_an_ollama_listing_no_model_has_nothing_to_test():
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/tags", "no generate without a model"
        return httpx.Response(200, json={"models": []})

    outcome = check_with(httpx.MockTransport(answer))

    assert not outcome.ok
    assert outcome.detail == "GET /api/tags: lists no model"
