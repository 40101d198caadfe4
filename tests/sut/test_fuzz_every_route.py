"""Every route of every HTTP service under hostile requests: never a 5xx, a refusal changes nothing.

Issue 14, "Inputs are checked at the edge" (docs/security.md, "Limits at the edge"). The
services are the dispatcher, the agent, the four stand-ins and the embedded proxy's
Toxiproxy API, each built as its own tests build it and served in-process (httpx's
ASGITransport, lifespan on: the dispatcher's heartbeats and the agent's loops run). The routes
are read from each app's ``routes``, so a route added later is fuzzed without a word here;
``test_every_http_service_of_the_repo_is_fuzzed`` fails when a new service appears.

For each route and method hypothesis sends hostile requests: random and malformed JSON,
nesting 5000 deep and at the edge of the interpreter's recursion limit, wrong types and
unknown fields beside plausible ones, bad UTF-8, empty bodies, Content-Length claims far
past any limit, random path parameters, query strings and headers, and credentials that
are missing, wrong, stale or (so that validation behind them is reached) right. Each answer
is below 500, and a refusal (3xx or 4xx) leaves the state the service's own GET routes show
as it was, but for what the service records of a refusal by design (below).
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from fixtures.proxy.api import create_app as create_proxy_api
from fixtures.proxy.collection import ProxyCollection
from sop.callers import bearer_headers, sign_request
from sut.agent.app import create_app as create_agent_app
from sut.agent.config import load_config
from sut.agent.service import AgentService
from sut.dispatcher.app import create_app as create_dispatcher_app
from sut.dispatcher.config import DispatcherConfig
from sut.dispatcher.incidents import REQUIRED_FIELDS as INCIDENT_FIELDS
from sut.runtime.body import MAX_BODY_BYTES
from sut.runtime.settings import Settings
from sut.standins import discord, gitea, ollama, signal

ROOT = Path(__file__).resolve().parents[2]
HMAC_KEY = "fuzz-hmac-key-6d1f0c"
OPERATOR_TOKEN = "fuzz-operator-token-93ab"
DISCORD_TOKEN = "fuzz-bot-token.77e1"
GITEA_TOKEN = "fuzz-gitea-token-4c1d"
SIGNAL_NUMBER = "+15550100001"
#: SOP seconds per wall second: a loop's second round is hours away, so every state the
#: fuzz compares holds still unless a request moves it (the first rounds run at start).
TIME_SCALE = "0.001"
#: Examples per route and method; GET and HEAD read only, so they get fewer.
WRITE_EXAMPLES = 50
READ_EXAMPLES = 20
#: Deeper than any parser recurses, and the band where the parser copes but a repr, a
#: json.dumps or a comparison made later in the handler may not.
DEEP_LEVELS = 5000
EDGE_LEVELS = (850, 1050)


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the services, as their own tests build them --------------------------------------------


@dataclass
class Service:
    """One running app, what its GET routes show as its state, and how to put it back."""

    name: str
    app: Starlette
    #: The app served in process (``in_process``, tests/sut/conftest.py).
    client: Any
    #: The GET paths whose answers are the state a refused ``Hostile`` must leave alone.
    views: Callable[[Hostile], list[str]]
    #: A value of each path parameter that names something the service holds.
    known: Mapping[str, str] = field(default_factory=dict)
    #: Puts back what an accepted write changed that would skew the next example.
    reset: Callable[[], None] = lambda: None
    #: Fields of a view that move with the clock, not with requests.
    volatile: frozenset[str] = frozenset()
    #: The answer to a body past the size limit (the SUT's 413; the proxy's API says 400).
    too_large: int = 413
    #: The callers whose credentials the service takes (``credentials``).
    right: tuple[str, ...] = ()
    #: The Content-Type without which the service reads no body (Gitea binds by it).
    body_type: str | None = None

    def snapshot(self, request: Hostile) -> dict[str, Any]:
        """What the views answer now, each as (status, body)."""
        state = {}
        for path in self.views(request):
            answer = self.client.get(path)
            json_answer = answer.headers.get("content-type", "").startswith("application/json")
            body = answer.json() if json_answer else answer.text
            if isinstance(body, dict):
                body = {k: v for k, v in body.items() if k not in self.volatile}
            state[path] = (answer.status_code, body)
        return state


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """One environment for the dispatcher and the agent; every peer is a closed port."""
    return {
        "SOPDRILL_PORT": "0",
        "SOPDRILL_HMAC_KEY": HMAC_KEY,
        "SOPDRILL_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "SOPDRILL_PROVIDER_URL": f"http://127.0.0.1:{closed_port()}",
        "SOPDRILL_DISPATCHER_URL": f"http://127.0.0.1:{closed_port()}",
        "SOPDRILL_AGENTS": f"ops=http://127.0.0.1:{closed_port()}",
        "SOPDRILL_STATE_DIR": str(tmp / "state"),
        "SOPDRILL_EMERGENCY_LOG": str(tmp / "emergency.log"),
        "SOPDRILL_AGENT_NAME": "ops",
        "SOPDRILL_TIME_SCALE": TIME_SCALE,
        **extra,
    }


@pytest.fixture(scope="module")
def dispatcher(tmp_path_factory: pytest.TempPathFactory, in_process: Any) -> Iterator[Service]:
    env = environment(tmp_path_factory.mktemp("dispatcher"))
    app = create_dispatcher_app(DispatcherConfig.from_settings(Settings("dispatcher", env)))

    def views(request: Hostile) -> list[str]:
        # Not /metrics nor /v1/status: they count refusals by design (upload conflicts) and
        # show the heartbeat loop's provider calls. The emergency log of the agent the request
        # names, if it names one, beside the seeded agent's.
        named = ["ops", request.json_field("agent"), request.path_params.get("agent")]
        logs = {
            f"/v1/emergency-log/{quote(name, safe='', errors='surrogatepass')}"
            for name in named
            if isinstance(name, str)
        }
        return ["/v1/agents", "/v1/tasks", "/v1/incidents", "/v1/integrity-checks", *sorted(logs)]

    with in_process(app) as client:
        yield Service(
            "dispatcher", app, client, views, {"agent": "ops"}, right=("bearer", "signed")
        )


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, in_process: Any) -> Iterator[Service]:
    env = environment(tmp_path_factory.mktemp("agent"))
    service = AgentService(load_config(Settings("agent", env)))
    app = create_agent_app(service)
    views = ["/v1/state", "/v1/actions", "/v1/notifications", "/v1/incidents"]
    with in_process(app) as client:
        # The first probe of the (absent) dispatcher has failed (the agent is suspect) before
        # the fuzz compares states; the next is hours away.
        first_probe = _wait(lambda: client.get("/v1/state").json()["consecutive_api_failures"])
        assert first_probe, "the agent's first probe of its dispatcher never came back"
        yield Service("agent", app, client, lambda _: views, volatile=frozenset({"sop_minute"}))
        # Never offline: the gate refused every local request, none ran on this machine (SOP 4).
        assert client.get("/v1/state").json()["mode"] in ("online", "suspect")


def _wait(observe: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """What ``observe`` returns once truthy, or its last answer after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (seen := observe()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return seen


def standin(
    name: str, app: Starlette, client: Any, right: tuple[str, ...] = (), **known: str
) -> Service:
    def reset() -> None:
        client.delete("/_fault")  # an accepted fault would answer the next example itself
        client.delete("/_sink/messages")

    views = ["/_sink/messages", "/_fault"]
    return Service(name, app, client, lambda _: views, known, reset, right=right)


@pytest.fixture(scope="module")
def discord_standin(in_process: Any) -> Iterator[Service]:
    # Limits far out of reach: a 429 would hide the handlers from the fuzz.
    env = {
        "SOPDRILL_DISCORD_TOKEN": DISCORD_TOKEN,
        "SOPDRILL_DISCORD_RATE_LIMIT": str(10**9),
        "SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT": str(10**9),
    }
    app = discord.create_app(Settings("discord", env))
    with in_process(app) as client:
        opened = client.post(
            f"{discord.API}/users/@me/channels",
            json={"recipient_id": "80351110224678912"},
            headers={"Authorization": f"Bot {DISCORD_TOKEN}"},
        )
        yield standin("discord", app, client, ("bot",), channel_id=opened.json()["id"])


@pytest.fixture(scope="module")
def gitea_standin(tmp_path_factory: pytest.TempPathFactory, in_process: Any) -> Iterator[Service]:
    # Issues on disk: every accepted write goes through the atomic file write too.
    env = {
        "SOPDRILL_GITEA_TOKEN": GITEA_TOKEN,
        "SOPDRILL_GITEA_DATA": str(tmp_path_factory.mktemp("gitea") / "data"),
    }
    app = gitea.create_app(Settings("gitea", env))
    repo = f"{gitea.API}/repos/ops/incidents"
    # The issues, as their owner reads them, are state a refusal must leave alone.
    views = [
        "/_sink/messages",
        "/_fault",
        f"{repo}?token={GITEA_TOKEN}",
        f"{repo}/issues?state=all&limit=50&token={GITEA_TOKEN}",
        f"{repo}/issues/1?token={GITEA_TOKEN}",
    ]
    with in_process(app) as client:
        filed = client.post(
            f"{repo}/issues", json={"title": "seeded"}, headers=credentials(("token",), "", "", b"")
        )
        assert filed.status_code == 201, filed.text
        client.delete("/_sink/messages")
        known = {"owner": "ops", "repo": "incidents", "index": "1"}
        service = standin("gitea", app, client, ("token",), **known)
        yield replace(service, views=lambda _: views, body_type="application/json")


@pytest.fixture(scope="module")
def signal_standin(in_process: Any) -> Iterator[Service]:
    app = signal.create_app(Settings("signal", {"SOPDRILL_SIGNAL_NUMBER": SIGNAL_NUMBER}))
    with in_process(app) as client:
        yield standin("signal", app, client)


@pytest.fixture(scope="module")
def ollama_standin(in_process: Any) -> Iterator[Service]:
    app = ollama.create_app(Settings("ollama", {}))
    with in_process(app) as client:
        yield standin("ollama", app, client)


@pytest.fixture(scope="module")
def proxy(in_process: Any) -> Iterator[Service]:
    collection = ProxyCollection()
    app = create_proxy_api(collection)
    upstream = f"127.0.0.1:{closed_port()}"

    def reset() -> None:
        # Back to one proxy with one toxic; every proxy the fuzz made is removed (and stops
        # listening), so none is ever re-enabled on a port that someone else took since.
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{quote(name, safe='')}")
        seeded = client.post("/proxies", json={"name": "p0", "upstream": upstream})
        assert seeded.status_code == 201, seeded.text
        toxic = {"name": "t0", "type": "latency", "attributes": {"latency": 1}}
        assert client.post("/proxies/p0/toxics", json=toxic).status_code == 200

    with in_process(app) as client:
        reset()
        known = {"proxy": "p0", "toxic": "t0"}
        yield Service("proxy", app, client, lambda _: ["/proxies"], known, reset, too_large=400)
        client.call(collection.close())  # nothing left listening


SERVICES = (
    "dispatcher",
    "agent",
    "discord_standin",
    "signal_standin",
    "ollama_standin",
    "gitea_standin",
    "proxy",
)
#: The modules that define each service's ``create_app``.
SERVICE_MODULES = {
    "sut/dispatcher/app.py",
    "sut/agent/app.py",
    "sut/standins/discord.py",
    "sut/standins/signal.py",
    "sut/standins/ollama.py",
    "sut/standins/gitea.py",
    "fixtures/proxy/api.py",
}


# ---- hostile requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One request as sent: method, path (its parameters filled in), query, headers, body."""

    method: str
    path: str
    path_params: Mapping[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None

    def json_field(self, name: str) -> Any:
        """``name`` of the body if it is a JSON object, else None."""
        try:
            data = json.loads(self.body or b"")
        except (ValueError, RecursionError):
            return None
        return data.get(name) if isinstance(data, dict) else None


#: Text a check may take for digits ("²".isdigit() is true, int("²") raises) or for nothing.
ODD_URL_TEXT = st.sampled_from(["", " ", "\x00", "²", "٣", "-1", "1e999", "...", "9" * 5000])
#: What json.loads takes and RFC 8259 or UTF-8 do not: NaN, the infinities (json.dumps
#: writes them, Starlette's JSONResponse refuses them) and lone surrogates (valid escapes
#: that no UTF-8 answer or file can hold).
NASTY = st.sampled_from([math.nan, math.inf, -math.inf, "\ud800", "x\udfff", 10**400])
ODD_TEXT = ODD_URL_TEXT | NASTY
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | ODD_TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _iso(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


ISO_TIMES = st.builds(_iso, st.floats(-10, 10)) | st.sampled_from(["9999-12-31T23:59:59+14:00"])
LOOPBACK_CLOSED = f"127.0.0.1:{closed_port()}"
#: Plausible values of every field any service reads (``of_form`` makes them hostile).
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "agent": st.sampled_from(["ops", "ops-2", "A.b_c"]),
    "name": st.sampled_from(["ops", "p0", "p1", "t0"]),
    # Never a name to resolve: a registered agent's URL gets heartbeats and tasks.
    "url": st.sampled_from(
        [f"http://{LOOPBACK_CLOSED}", "ftp://x", "http:/", "http://[", "http://127.0.0.1:99999"]
    ),
    "action": st.sampled_from(["restart_service", "rotate_logs", "kill_runaway", "delete_data"]),
    "target": st.sampled_from(["ollama", "/srv", "1"]),
    "params": st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    "entries": st.lists(
        st.fixed_dictionaries({"seq": st.integers(-1, 3), "hash": st.sampled_from(["h", "g"])}),
        max_size=3,
    ),
    "epoch": st.integers(min_value=0) | st.integers(min_value=0, max_value=10**400),
    "sealed": st.none() | st.fixed_dictionaries({"line": st.integers(0, 3), "error": JSON}),
    "timestamp": ISO_TIMES,
    "escalation_timeout": ISO_TIMES,
    "severity": st.sampled_from(["P0", "P1", "P4"]),
    "category": st.just("service"),
    "component": st.just("ollama"),
    "message": st.text(min_size=1, max_size=10),
    "context": st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    "requested_action": st.just("restart"),
    "requested_by": st.text(max_size=5),
    "kind": st.sampled_from(["heartbeat", "task"]),
    "dispatcher_id": st.just("dispatcher"),
    "seq": st.integers(),
    "sent_at": ISO_TIMES,
    "body": st.dictionaries(st.sampled_from(["status", "provider", "action"]), JSON, max_size=2),
    "sig": st.text("0123456789abcdef", min_size=64, max_size=64),
    "mode": st.sampled_from(["ok", "rate_limit", "error", "slow", "down", "on"]),
    "count": st.none() | st.integers(-1, 3),
    "status": st.none() | st.integers(399, 600),
    "retry_after_seconds": st.none() | st.floats(),
    # A slow fault is set, never waited out here: the next example resets it first.
    "delay_seconds": st.none() | st.floats(max_value=0.01),
    "recipient_id": st.sampled_from(["80351110224678912", "x1"]) | st.integers(),
    "content": st.text(min_size=1, max_size=10) | st.just("x" * 2001),
    "number": st.just(SIGNAL_NUMBER),
    "recipients": st.lists(st.sampled_from(["+15550100002", "+15550100003"]), min_size=1),
    "model": st.sampled_from(["qwen2.5:1.5b", "llama3.2:3b", "nope"]),
    "stream": st.booleans() | st.sampled_from(["upstream", "downstream"]),
    "prompt": st.text(max_size=10),
    "messages": st.lists(
        st.fixed_dictionaries({"role": st.just("user"), "content": st.text(max_size=5)}),
        max_size=2,
    ),
    # The proxy binds only port 0 here: a named port may be taken, and a bind that fails is
    # Toxiproxy's 500 by design (tests/fixtures/proxy/test_api.py, listen in use).
    "listen": st.sampled_from(["127.0.0.1:0", "localhost:0", "10.0.0.1:0", ":0", "x"]),
    "upstream": st.sampled_from([LOOPBACK_CLOSED, "[::1]:9", "8.8.8.8:53", "1:99999"]),
    "enabled": st.booleans(),
    "type": st.sampled_from(["latency", "bandwidth", "slicer", "timeout", "nope"]),
    "toxicity": st.floats(),
    "attributes": st.dictionaries(
        st.sampled_from(["latency", "jitter", "rate", "average_size", "size_variation"]),
        st.integers(-1, 5),
        max_size=3,
    ),
    "title": st.text(min_size=1, max_size=10),
    "ref": st.sampled_from(["", "main", "refs/heads/x"]),
    "assignee": st.sampled_from(["", "ops-agent", "OPS-agent", "nobody"]),
    "assignees": st.lists(st.sampled_from(["ops-agent", "OPS-AGENT", ""]), max_size=2),
    "labels": st.lists(st.integers(-1, 3), max_size=2),
    "milestone": st.integers(-1, 3),
    "closed": st.booleans(),
    "state": st.sampled_from(["open", "closed", "all", ""]),
    "due_date": ISO_TIMES,
    "unset_due_date": st.booleans(),
}
_PROXY = ("name", "listen", "upstream", "enabled")
_TOXIC = ("name", "type", "stream", "toxicity", "attributes")
#: The fields of the body each route reads, where one is known: a body of its form gets
#: past the first checks. A route not named here (one added later) gets every form.
FORMS: dict[str, tuple[str, ...]] = {
    "POST /v1/agents": ("name", "url"),
    "POST /v1/tasks": ("agent", "action", "target", "params"),
    "POST /v1/incidents": INCIDENT_FIELDS,
    "POST /v1/emergency-log": ("agent", "entries", "epoch", "sealed"),
    "POST /v1/integrity-check": ("agent",),
    "POST /v1/inbox": ("kind", "dispatcher_id", "seq", "sent_at", "body", "sig"),
    "POST /v1/actions": ("action", "target", "params", "requested_by"),
    "PUT /_fault": ("mode", "count", "status", "retry_after_seconds", "delay_seconds"),
    "POST /api/v10/users/@me/channels": ("recipient_id",),
    "POST /api/v10/channels/{channel_id}/messages": ("content",),
    "POST /v2/send": ("message", "number", "recipients"),
    "POST /api/generate": ("model", "stream", "prompt"),
    "POST /api/chat": ("model", "stream", "messages"),
    "POST /api/v1/repos/{owner}/{repo}/issues": (
        "title",
        "body",
        "ref",
        "assignee",
        "assignees",
        "labels",
        "milestone",
        "closed",
        "due_date",
    ),
    "PATCH /api/v1/repos/{owner}/{repo}/issues/{index}": (
        "title",
        "body",
        "ref",
        "assignees",
        "milestone",
        "state",
        "due_date",
        "unset_due_date",
    ),
    "POST /proxies": _PROXY,
    "POST /proxies/{proxy}": _PROXY,
    "PATCH /proxies/{proxy}": _PROXY,
    "POST /populate": _PROXY,  # a list of them
    "POST /proxies/{proxy}/toxics": _TOXIC,
    "POST /proxies/{proxy}/toxics/{toxic}": _TOXIC,
    "PATCH /proxies/{proxy}/toxics/{toxic}": _TOXIC,
}
LISTS = {"POST /populate"}
#: A field a route reads otherwise than the others of its name do: an issue's body is text.
PLAUSIBLE_FOR = {
    "POST /api/v1/repos/{owner}/{repo}/issues": {"body": st.text(max_size=10)},
    "PATCH /api/v1/repos/{owner}/{repo}/issues/{index}": {"body": st.text(max_size=10)},
}


@st.composite
def of_form(draw: st.DrawFn, fields: tuple[str, ...], key: str = "") -> dict[str, Any]:
    """A body of ``fields``, each plausible; then a few removed, made hostile or added."""
    values = {name: PLAUSIBLE_FOR.get(key, {}).get(name, PLAUSIBLE[name]) for name in fields}
    body = draw(st.fixed_dictionaries(values))
    for name in draw(st.lists(st.sampled_from(fields), max_size=2, unique=True), label="broken"):
        if draw(st.booleans()):
            del body[name]
        else:
            body[name] = draw(JSON | NASTY, label=name)
    return body | draw(st.dictionaries(st.text(max_size=6), JSON, max_size=1), label="unknown")


def plausible(key: str) -> st.SearchStrategy[Any]:
    """Bodies of the form ``key`` (``METHOD /path``) reads, or of any form if none is known."""
    if key not in FORMS:
        return st.sampled_from(sorted(set(FORMS.values()))).flatmap(of_form)
    form = of_form(FORMS[key], key)
    return st.lists(form, max_size=3) if key in LISTS else form


@st.composite
def deep_in_a_field(draw: st.DrawFn, key: str) -> bytes:
    """A plausible object with one field nested ``EDGE_LEVELS`` deep, written by hand."""
    body = draw(plausible(key).filter(lambda value: isinstance(value, dict)))
    name = draw(st.sampled_from(FORMS.get(key, ("name",))))
    depth = draw(st.integers(*EDGE_LEVELS))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + ("1" if opener != "[" else "") + closer * depth
    rest = json.dumps({k: v for k, v in body.items() if k != name})
    return f'{rest[:-1]}{", " if len(rest) > 2 else ""}"{name}": {nested}}}'.encode()


def as_json(value: Any) -> bytes:
    # json.dumps writes NaN and the infinities as bare words and escapes lone surrogates.
    return json.dumps(value).encode()


def bodies(key: str) -> st.SearchStrategy[bytes | None]:
    """Bodies for the route ``key``: of its form but broken, or hostile through and through."""
    # Half of them of the route's form: the likeliest to get past the first checks.
    return st.one_of(
        *[plausible(key).map(as_json)] * 8,
        st.none(),
        st.just(b""),
        JSON.map(as_json),
        deep_in_a_field(key),
        st.sampled_from([b"[", b'{"a":']).map(lambda opener: opener * DEEP_LEVELS),
        st.just(b'{"seq": ' + b"9" * 5000 + b"}"),  # past Python's int-from-text digit limit
        st.binary(max_size=40),
        st.binary(min_size=1, max_size=8).map(lambda bad: b'{"name": "' + bad + b'\xff"}'),
    )


#: Content-Length claims past every limit, and digits that are not ASCII ones.
ODD_LENGTHS = st.sampled_from(["²", "-1", "1e9", " 7", "0x10", str(10**30)])
TOKENS = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
# Latin-1, as ASGI decodes header bytes; sent as bytes (httpx would encode text as ASCII).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
KNOWN_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            [
                "application/json",
                "text/plain",
                "x/y; charset=zz",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
            ]
        ),
        "content-length": st.integers(0, 10**30).map(str) | ODD_LENGTHS | HEADER_TEXT,
        "authorization": HEADER_TEXT,
        "x-sopdrill-sent-at": HEADER_TEXT | ISO_TIMES,
        "x-sopdrill-signature": HEADER_TEXT,
        "transfer-encoding": st.just("chunked"),
    },
)
OTHER_HEADERS = st.dictionaries(TOKENS, HEADER_TEXT, max_size=2)
#: Callers that are not the right one: none, a wrong secret, a stale signature.
WRONG_CALLERS = st.sampled_from(
    [
        "none",
        "bearer-wrong",
        "bot-wrong",
        "token-wrong",
        "signed-stale",
        "signed-wrong",
        "bearer",
        "bot",
        "token",
    ]
)
QUERY = st.lists(
    st.tuples(
        st.sampled_from(["epoch", "stream", "state", "page", "limit", "type", "sudo"])
        | st.sampled_from(["token", "access_token"])
        | st.text(max_size=5),
        ODD_URL_TEXT
        | ODD_URL_TEXT
        | st.integers(0, 3).map(str)
        | HEADER_TEXT
        | st.sampled_from(["all", "closed", "pulls", GITEA_TOKEN]),
    ),
    max_size=3,
)


def credentials(callers: tuple[str, ...], method: str, path: str, body: bytes) -> dict[str, str]:
    """The headers of the callers named: right, wrong, stale or none."""
    headers: dict[str, str] = {}
    for caller in callers:
        if caller.startswith("signed"):
            key = b"not-the-key" if caller == "signed-wrong" else HMAC_KEY.encode()
            sent_at = datetime.now(UTC) - timedelta(days=365 if caller == "signed-stale" else 0)
            # Signed over the path the server sees: percent-escapes decoded.
            headers |= sign_request(key, method, unquote(path), body, sent_at)
        else:
            headers |= {
                "none": {},
                "bearer": bearer_headers(OPERATOR_TOKEN),
                "bearer-wrong": bearer_headers(OPERATOR_TOKEN + "x"),
                "bot": {"Authorization": f"Bot {DISCORD_TOKEN}"},
                "bot-wrong": {"Authorization": "Bot nope"},
                "token": {"Authorization": f"token {GITEA_TOKEN}"},
                "token-wrong": {"Authorization": "token nope"},
            }[caller]
    return {name.lower(): value for name, value in headers.items()}


def segment(known: str | None) -> st.SearchStrategy[str]:
    """A path parameter: the known value, or any text; percent-escaped."""
    random = st.text(min_size=1, max_size=20) | ODD_URL_TEXT.filter(bool)
    drawn = random if known is None else st.just(known) | random
    return drawn.map(lambda text: quote(text, safe=""))


@st.composite
def hostile(draw: st.DrawFn, service: Service, route: Route, method: str) -> Hostile:
    """One hostile request to ``route`` by ``method``."""
    params = {
        name: draw(segment(service.known.get(name)), label=name) for name in route.param_convertors
    }
    path = re.sub(r"{(\w+)(:\w+)?}", lambda m: params[m.group(1)], route.path)
    body = draw(bodies(f"{method} {route.path}"), label="body")
    headers = draw(OTHER_HEADERS, label="headers") | draw(KNOWN_HEADERS, label="known headers")
    # Half the time the right caller, so that what stands behind the check is reached too.
    callers = draw(st.just(service.right) | WRONG_CALLERS.map(lambda one: (one,)), label="caller")
    headers |= credentials(callers, method, path, body or b"")
    # Most of those without a type say what the service wants, as its clients do.
    if service.body_type and "content-type" not in headers and draw(st.integers(0, 3)) < 3:
        headers["content-type"] = service.body_type
    decoded = {name: unquote(value) for name, value in params.items()}
    return Hostile(method, path, decoded, draw(QUERY, label="query"), headers, body)


# ---- the fuzz ---------------------------------------------------------------------------------


def routes_of(service: Service) -> Iterator[tuple[Route, str]]:
    """Every (route, method) the app serves, read from the app itself."""
    for route in service.app.routes:
        assert isinstance(route, Route), (
            f"{service.name}: {route!r} is not a plain Route; teach this fuzz to reach it"
        )
        assert route.methods, f"{service.name}: {route.path} takes every method"
        for method in sorted(route.methods):
            yield route, method


def expected_after_refusal(
    service: Service, request: Hostile, answer: Any, before: dict[str, Any]
) -> dict[str, Any]:
    """The state a refused request leaves: the one before, but for what SOP 4 records."""
    if (service.name, request.method, request.path, answer.status_code) == (
        "agent",
        "POST",
        "/v1/actions",
        403,
    ):
        # SOP 4: the gate's refusal of a local request is a decision, and every decision is
        # logged (test_service.py, test_a_red_list_action_is_refused_and_logged).
        status, actions = before["/v1/actions"]
        verdict = {k: v for k, v in answer.json().items() if k not in ("kind", "result")}
        after_actions = service.client.get("/v1/actions").json()
        timing = ("at", "facts_age_minutes")  # when, not what: the answer carries neither
        logged = (
            {k: v for k, v in after_actions[-1].items() if k not in timing} if after_actions else {}
        )
        assert logged == verdict, f"the refusal logged {logged}, answered {verdict}"
        return {**before, "/v1/actions": (status, [*actions, after_actions[-1]])}
    return before


def fuzz_route(service: Service, route: Route, method: str) -> None:
    """Hypothesis on one route and method of ``service``."""
    examples = READ_EXAMPLES if method in ("GET", "HEAD") else WRITE_EXAMPLES

    # database=None: one inner test per route shares this function's name, so a stored
    # example would be replayed against the wrong route.
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=hostile(service, route, method))
    def refused_or_served(request: Hostile) -> None:
        note(f"{service.name}: {request.method} {route.path}")
        before = service.snapshot(request)
        answer = service.client.request(
            request.method,
            request.path,
            params=request.query,
            headers=[
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
            ],
            content=request.body,
        )
        assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:500]}"
        if answer.is_success:
            if request.method not in ("GET", "HEAD"):
                service.reset()
            return
        assert service.snapshot(request) == expected_after_refusal(service, request, answer, before)

    refused_or_served()


@pytest.mark.parametrize("name", SERVICES)
def test_no_route_answers_5xx_and_a_refusal_changes_nothing(
    name: str, request: pytest.FixtureRequest
) -> None:
    service: Service = request.getfixturevalue(name)
    fuzzed = 0
    for route, method in routes_of(service):
        fuzz_route(service, route, method)
        fuzzed += 1
    assert fuzzed, f"{service.name}: no route at all"


def test_every_http_service_of_the_repo_is_fuzzed() -> None:
    # A service is an app factory; a new one must join SERVICES (and SERVICE_MODULES).
    found = {
        str(path.relative_to(ROOT))
        for room in ("sut", "fixtures", "cli", "reports", "sop")
        for path in (ROOT / room).rglob("*.py")
        if re.search(r"^def create_app\(", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert found == SERVICE_MODULES, (
        "an HTTP service came or went: give it a fixture in SERVICES and its module in "
        "SERVICE_MODULES, so that its routes are fuzzed too"
    )


# ---- a body too large is refused before it is read ----------------------------------------------


async def _oversized(
    app: Starlette, path: str, method: str, headers: dict[str, str]
) -> tuple[int, int]:
    """(status, body chunks read) for a request claiming a body past every limit."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise AssertionError(f"{method} {path}: read past the first chunk of an oversized body")
        return {"type": "http.request", "body": b"{" + b" " * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    claimed = str(MAX_BODY_BYTES + 1)
    raw_headers = [
        (k.lower().encode(), v.encode()) for k, v in {**headers, "content-length": claimed}.items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent[0]["status"], reads


#: Write routes that take no body: they answer without reading one, whatever its size.
BODILESS = {("proxy", "/reset")}


@pytest.mark.parametrize("name", SERVICES)
def test_an_oversized_body_is_refused_before_it_is_read(
    name: str, request: pytest.FixtureRequest
) -> None:
    service: Service = request.getfixturevalue(name)
    # The Discord and Gitea stand-ins check their caller before the body; the others ignore
    # this header.
    token = f"token {GITEA_TOKEN}" if name == "gitea_standin" else f"Bot {DISCORD_TOKEN}"
    caller = {"authorization": token}
    if service.body_type:
        caller["content-type"] = service.body_type
    for route, method in routes_of(service):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: service.known.get(m.group(1), "x"), route.path)
        status, reads = service.client.call(_oversized(service.app, path, method, caller))
        assert reads == 0, f"{service.name}: {method} {path}: the body was read"
        if (service.name, route.path) in BODILESS:
            assert status < 300, f"{service.name}: {method} {path}: {status}"
            service.reset()  # the proxy's reset removed the toxic the next route names
        else:
            assert status == service.too_large, f"{service.name}: {method} {path}: {status}"
