"""Real servers on 127.0.0.1 for the dispatcher's tests: the dispatcher, fake agents, a provider.

Each is served by ``serve`` (tests/sut/conftest.py) for one test. The fakes are deliberately
tiny and local (not sut.standins): an agent inbox that records every POST, and a model
provider that answers 200, 429 or 500 on demand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sop.callers import bearer_headers, sign_request
from sut.dispatcher.app import create_app
from sut.dispatcher.config import DispatcherConfig
from sut.runtime.settings import Settings

#: 600 SOP seconds per wall second: the 1-minute heartbeat interval becomes 0.1 s.
TIME_SCALE = 600
HMAC_KEY = "test-hmac-key-4f1c9a77e2"
OPERATOR_TOKEN = "test-operator-token-9b2e71"


class OperatorAndAgent(httpx.Auth):
    """Every request as both callers at once: the operator's token and the agent's signature.

    The dispatcher takes the one each route allows (sop/callers.py), so the API tests can
    exercise every route with one client; tests/sut/dispatcher/test_auth.py takes each apart.
    """

    requires_request_body = True

    def __init__(self, key: str = HMAC_KEY, token: str = OPERATOR_TOKEN) -> None:
        self.key, self.token = key.encode(), token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers.update(bearer_headers(self.token))
        request.headers.update(
            sign_request(self.key, request.method, request.url.path, request.content)
        )
        yield request


@pytest.fixture
def callers() -> type[OperatorAndAgent]:
    """``callers(key, token)``: an httpx auth that is the operator and the agent at once."""
    return OperatorAndAgent


def wait_for(observe: Callable[[], Any], describe: str, timeout_s: float = 5.0) -> Any:
    """Poll ``observe`` until it returns something truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout_s
    seen: Any = None
    while time.monotonic() < deadline:
        seen = observe()
        if seen:
            return seen
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout_s} s waiting for {describe}; last saw {seen!r}")


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    """``wait_for(observe, describe, timeout_s=5)``: a condition, never a sleep."""
    return wait_for


@dataclass
class Received:
    """One POST a fake received, stamped with the monotonic clock."""

    at: float
    path: str
    body: Any


@dataclass
class FakeAgent:
    """An agent inbox that records every envelope and answers ``status`` with ``answer``."""

    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"accepted": True})
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def inbox(request: Request) -> Response:
            body = await request.json()
            with self.lock:
                self.received.append(Received(time.monotonic(), request.url.path, body))
            return JSONResponse(self.answer, status_code=self.status)

        return Starlette(routes=[Route("/v1/inbox", inbox, methods=["POST"])])

    def envelopes(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received if kind is None or r.body.get("kind") == kind]

    def heartbeat_times(self) -> list[float]:
        with self.lock:
            return [r.at for r in self.received if r.body.get("kind") == "heartbeat"]


@dataclass
class FakeProvider:
    """An Ollama-ish ``/api/chat`` that answers by ``mode``: ok, rate_limit, phrase, error."""

    mode: str = "ok"
    requests: list[Any] = field(default_factory=list)

    def app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            self.requests.append(await request.json())
            if self.mode == "rate_limit":
                return JSONResponse({"error": "too many requests"}, status_code=429)
            if self.mode == "phrase":
                return JSONResponse({"error": "Rate Limit Exceeded"}, status_code=503)
            if self.mode == "error":
                return JSONResponse({"error": "internal"}, status_code=500)
            return JSONResponse(
                {"model": "m", "message": {"role": "assistant", "content": "ok"}, "done": True}
            )

        return Starlette(routes=[Route("/api/chat", chat, methods=["POST"])])


@pytest.fixture
def fake_agent() -> FakeAgent:
    """A fresh recording agent inbox (serve its ``app()``)."""
    return FakeAgent()


@pytest.fixture
def fake_provider() -> FakeProvider:
    """A fresh provider answering ok until its ``mode`` changes (serve its ``app()``)."""
    return FakeProvider()


def dispatcher_config(state_dir: Path, provider_url: str, **env: str) -> DispatcherConfig:
    """A dispatcher config as the service would read it from its environment."""
    environ = {
        "SOPDRILL_PORT": "0",
        "SOPDRILL_HMAC_KEY": HMAC_KEY,
        "SOPDRILL_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "SOPDRILL_PROVIDER_URL": provider_url,
        "SOPDRILL_STATE_DIR": str(state_dir),
        "SOPDRILL_TIME_SCALE": str(TIME_SCALE),
        **env,
    }
    return DispatcherConfig.from_settings(Settings("dispatcher", environ))


@pytest.fixture
def make_config() -> Callable[..., DispatcherConfig]:
    """``make_config(state_dir, provider_url, **env)``: a config read from an environment."""
    return dispatcher_config


@dataclass
class Stack:
    """A running dispatcher with one registered fake agent and a fake provider."""

    url: str
    config: DispatcherConfig
    agent: FakeAgent
    provider: FakeProvider
    client: httpx.Client

    @property
    def key(self) -> bytes:
        return HMAC_KEY.encode()


@pytest.fixture
def stack(
    serve: Callable[[Starlette], str],
    tmp_path: Path,
    fake_agent: FakeAgent,
    fake_provider: FakeProvider,
) -> Iterator[Stack]:
    """Provider, agent ``ops`` and the dispatcher, all served for real on 127.0.0.1."""
    provider, agent = fake_provider, fake_agent
    provider_url = serve(provider.app())
    agent_url = serve(agent.app())
    config = dispatcher_config(tmp_path / "state", provider_url, SOPDRILL_AGENTS=f"ops={agent_url}")
    url = serve(create_app(config))
    with httpx.Client(
        base_url=url, timeout=5.0, trust_env=False, auth=OperatorAndAgent()
    ) as client:
        yield Stack(url, config, agent, provider, client)
