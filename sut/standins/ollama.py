"""An Ollama-compatible model server: tags, version, generate and chat under ``/api``.

It stands for the Ollama service on the agent's host and, as a second instance of the same
code, for the dispatcher's model provider (the one a drill makes rate-limit). It answers in
Ollama's wire format (docs.ollama.com/api): streaming is the default and is NDJSON, chunks
with ``"done": false`` then one ``"done": true`` object carrying the timing fields in
nanoseconds; ``"stream": false`` gives that final object alone with the whole reply. The
reply is a short deterministic sentence: no model runs here.

Environment: ``SOPDRILL_OLLAMA_MODELS`` (comma-separated, default ``qwen2.5:1.5b,llama3.2:3b``),
``SOPDRILL_OLLAMA_VERSION`` (what ``/api/version`` reports), ``OLLAMA_MODELS`` (Ollama's own
variable: its model store, made at start as ``ollama serve`` does; a store that cannot be
made stops the start with one line, as the real one's ``Error: mkdir ...`` does) and those of
every service.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from sop.errors import ServiceConfigError
from sut.runtime import Settings, get_logger
from sut.standins.app import NotAJsonObject, guarded_app, read_json_object, run
from sut.standins.sink import Sink

SERVICE: Final = "ollama"
DEFAULT_MODELS: Final = "qwen2.5:1.5b,llama3.2:3b"
DEFAULT_VERSION: Final = "0.6.5"
NDJSON: Final = "application/x-ndjson"

_log = get_logger(f"sut.standins.{SERVICE}")  # stable when run as __main__
_SIZE_RE: Final = re.compile(r"(\d+(?:\.\d+)?)([bm])", re.IGNORECASE)


def _timestamp(moment: datetime) -> str:
    # Ollama writes UTC instants with a "Z" suffix.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def canonical_name(name: str) -> str:
    """A model name as Ollama stores it: ``name:tag``, the tag ``latest`` when none is given."""
    name = name.strip()
    return name if ":" in name else f"{name}:latest"


@dataclass(frozen=True)
class Model:
    """One model the server claims to have pulled, described the way ``/api/tags`` lists it."""

    name: str
    modified_at: datetime

    @property
    def family(self) -> str:
        """The name without namespace, tag or version: ``llama3.2:3b`` -> ``llama``."""
        base = self.name.split(":", 1)[0].split("/")[-1]
        return re.sub(r"[\d.]+$", "", base) or base

    @property
    def parameter_size(self) -> str:
        """The size from the tag (``3b`` -> ``3B``); ``7B`` when the tag does not say."""
        match = _SIZE_RE.search(self.name.split(":", 1)[1])
        return f"{match.group(1)}{match.group(2).upper()}" if match else "7B"

    @property
    def size_bytes(self) -> int:
        """A plausible Q4_K_M file size for the parameter count (about 0.6 bytes a parameter)."""
        number, unit = float(self.parameter_size[:-1]), self.parameter_size[-1]
        return int(number * (1e9 if unit == "B" else 1e6) * 0.6)

    @property
    def digest(self) -> str:
        """A stable sha256 hex digest derived from the name."""
        return hashlib.sha256(self.name.encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        """The ``/api/tags`` entry."""
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": _timestamp(self.modified_at),
            "size": self.size_bytes,
            "digest": self.digest,
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": self.family,
                "families": [self.family],
                "parameter_size": self.parameter_size,
                "quantization_level": "Q4_K_M",
            },
        }


def parse_models(names: Sequence[str], modified_at: datetime) -> tuple[Model, ...]:
    """The configured models, canonical names, duplicates dropped, order kept."""
    seen: dict[str, Model] = {}
    for name in names:
        canonical = canonical_name(name)
        seen.setdefault(canonical, Model(canonical, modified_at))
    if not seen:
        raise ServiceConfigError(
            f"{SERVICE}: SOPDRILL_OLLAMA_MODELS: expected at least one model name, got none"
        )
    return tuple(seen.values())


@dataclass(frozen=True)
class Completion:
    """One validated ``/api/generate`` or ``/api/chat`` request."""

    kind: str  # "generate" or "chat"
    model: str
    stream: bool
    prompt_words: int


def _validate(kind: str, body: dict[str, Any]) -> Completion | JSONResponse:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        return _error("model is required", 400)
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        return _error(f"stream: expected true or false, got {stream!r}", 400)
    if kind == "generate":
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            return _error("prompt: expected a string", 400)
        words = len(prompt.split())
    else:
        messages = body.get("messages", [])
        valid = isinstance(messages, list) and all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content", ""), str)
            for m in messages
        )
        if not valid:
            return _error("messages: expected a list of {role, content} objects", 400)
        words = sum(len(m.get("content", "").split()) for m in messages)
    return Completion(kind, model.strip(), stream, words)


class OllamaStandIn:
    """The request handlers, over the models it serves and the sink it records into."""

    def __init__(self, models: Sequence[Model], version: str, sink: Sink) -> None:
        self.models = {model.name: model for model in models}
        self.version = version
        self.sink = sink

    async def tags(self, request: Request) -> Response:
        """``GET /api/tags``: the models, as ``{"models": [...]}``."""
        return JSONResponse({"models": [model.as_json() for model in self.models.values()]})

    async def show_version(self, request: Request) -> Response:
        """``GET /api/version``."""
        return JSONResponse({"version": self.version})

    async def generate(self, request: Request) -> Response:
        """``POST /api/generate``."""
        return await self._complete("generate", request)

    async def chat(self, request: Request) -> Response:
        """``POST /api/chat``."""
        return await self._complete("chat", request)

    async def _complete(self, kind: str, request: Request) -> Response:
        started_ns = time.perf_counter_ns()
        try:
            body = await read_json_object(request)
        except NotAJsonObject as exc:
            return _error(str(exc), exc.status)
        checked = _validate(kind, body)
        if isinstance(checked, Response):
            return checked
        name = canonical_name(checked.model)
        if name not in self.models:
            return _error(f"model '{checked.model}' not found", 404)
        self.sink.record(
            request.method, request.url.path, body, kind=kind, model=name, stream=checked.stream
        )
        _log.info("completion", extra={"fields": {"kind": kind, "model": name}})
        pieces = self._reply(name)
        if checked.stream:
            return StreamingResponse(
                self._chunks(checked, name, pieces, started_ns), media_type=NDJSON
            )
        return JSONResponse(self._final(checked, name, "".join(pieces), len(pieces), started_ns))

    @staticmethod
    def _reply(model: str) -> list[str]:
        words = f"Stand-in reply from {model}: acknowledged.".split(" ")
        return [words[0], *(f" {word}" for word in words[1:])]

    def _piece(self, completion: Completion, model: str, text: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"model": model, "created_at": _timestamp(datetime.now(UTC))}
        if completion.kind == "chat":
            entry["message"] = {"role": "assistant", "content": text}
        else:
            entry["response"] = text
        return entry

    def _final(
        self, completion: Completion, model: str, text: str, eval_count: int, started_ns: int
    ) -> dict[str, Any]:
        total_ns = max(time.perf_counter_ns() - started_ns, 1)
        final = self._piece(completion, model, text)
        final.update(
            done=True,
            done_reason="stop",
            total_duration=total_ns,
            load_duration=total_ns // 10,
            prompt_eval_count=max(completion.prompt_words, 1),
            prompt_eval_duration=total_ns // 5,
            eval_count=eval_count,
            eval_duration=total_ns // 2,
        )
        if completion.kind == "generate":
            # The context array lets a caller continue the conversation; token ids are made up.
            final["context"] = list(range(1, eval_count + 1))
        return final

    async def _chunks(
        self, completion: Completion, model: str, pieces: list[str], started_ns: int
    ) -> AsyncIterator[bytes]:
        for piece in pieces:
            yield (
                json.dumps({**self._piece(completion, model, piece), "done": False}) + "\n"
            ).encode()
        final = self._final(completion, model, "", len(pieces), started_ns)
        yield (json.dumps(final) + "\n").encode()


def open_store(store: Path) -> None:
    """Make the model store's ``blobs`` and ``manifests`` (Ollama's layout) unless there;
    a store that cannot be made (a file in its way, no permission) is a failed start."""
    for part in ("blobs", "manifests"):
        try:
            (store / part).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceConfigError(
                f"{SERVICE}: OLLAMA_MODELS: cannot open the model store {store}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None


def create_app(settings: Settings) -> Starlette:
    """The Ollama stand-in configured from ``settings``."""
    store = settings.optional("OLLAMA_MODELS")
    if store:
        # emergency-procedures.md scenario 2 STEP 4: a restart that cannot bring Ollama back.
        open_store(Path(store))
    models = parse_models(
        settings.items("SOPDRILL_OLLAMA_MODELS", DEFAULT_MODELS), datetime.now(UTC)
    )
    standin = OllamaStandIn(
        models, settings.text("SOPDRILL_OLLAMA_VERSION", DEFAULT_VERSION), Sink()
    )
    api = [
        ("GET", "/api/tags", standin.tags),
        ("GET", "/api/version", standin.show_version),
        ("POST", "/api/generate", standin.generate),
        ("POST", "/api/chat", standin.chat),
    ]
    return guarded_app(api, standin.sink)


def main() -> None:
    """``python -m sut.standins.ollama``: serve on ``SOPDRILL_BIND:SOPDRILL_PORT``."""
    run(SERVICE, create_app)


if __name__ == "__main__":
    main()
