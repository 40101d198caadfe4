"""A restarted Ollama proven to serve: its models listed, then one test inference answered.

cell0-incident-runbook.md "P1 - Ollama Connection Lost", Response: once Ollama is restarted
(step 2), "Verify models are available" with ``ollama list`` (step 3: ``GET /api/tags``)
and "Test inference" with ``ollama run <model> "test"`` (step 4: ``POST /api/generate`` with
that prompt, not streamed, on a model the list names). The executor runs this check after
restarting the service whose health check is Ollama's ``/api/tags`` (sut/agent/remediation.py).
A check that fails makes the restart a failed one, as a restart supervisord could not carry
out is: the service was not brought back. All of it must be done within the length of
Ollama's RTO (emergency-procedures.md Appendix B): a restart that serves no inference by
then restored nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from sop.observations import HEALTH_PATHS

#: Runbook step 3, ``ollama list``: the models Ollama has.
TAGS_PATH: Final = HEALTH_PATHS["ollama"]
#: Runbook step 4, ``ollama run``: one completion (Ollama's API, docs.ollama.com/api).
GENERATE_PATH: Final = "/api/generate"
#: The runbook's own prompt: ``ollama run llama3.1 "test"``.
PROMPT: Final = "test"


class _NotServing(Exception):
    """Why the restarted service does not serve inference (the check's failure, in words)."""


@dataclass(frozen=True)
class InferenceOutcome:
    """What the test inference found: a reply from ``model``, or why there was none."""

    ok: bool
    model: str | None
    detail: str

    def as_log(self) -> dict[str, Any]:
        """The ``test_inference`` field of the restart's decision entry."""
        return {"outcome": "ok" if self.ok else "failed", "model": self.model}


@dataclass(frozen=True, eq=False)
class InferenceCheck:
    """Runbook steps 3-4 against the Ollama at ``base_url`` (the managed program ``service``)."""

    service: str
    base_url: str
    client: httpx.AsyncClient
    #: Wall seconds the restarted service has to list its models and answer (its RTO).
    within_s: float
    #: Wall seconds between two asks of a service still binding its port after its start.
    poll_s: float
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)

    async def run(self) -> InferenceOutcome:
        """List the models, then one non-streamed generate on the first; never raises."""
        deadline = self.monotonic() + self.within_s
        model: str | None = None
        try:
            model = await self._first_model(deadline)
            reply = await self._generate(model, deadline)
        except _NotServing as exc:
            return InferenceOutcome(False, model, str(exc))
        return InferenceOutcome(True, model, reply)

    def _left_s(self, deadline: float, asking: str) -> float:
        """Wall seconds left for ``asking``; none left is the check's failure."""
        left = deadline - self.monotonic()
        if left <= 0:
            raise _NotServing(f"{asking}: no answer within {self.within_s:g} wall s (its RTO)")
        return left

    async def _first_model(self, deadline: float) -> str:
        """The first model ``/api/tags`` lists, asked until it answers (a program supervisord
        calls running may still be binding its port) or the time is up."""
        url = f"{self.base_url.rstrip('/')}{TAGS_PATH}"
        last = "not asked"
        while True:
            left = self._left_s(deadline, f"GET {TAGS_PATH} (last: {last})")
            try:
                answer = await self.client.get(url, timeout=left)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if answer.status_code == 200:
                    return self._listed(answer)
                last = f"HTTP {answer.status_code}"
            await asyncio.sleep(min(self.poll_s, max(deadline - self.monotonic(), 0.0)))

    @staticmethod
    def _listed(answer: httpx.Response) -> str:
        try:
            models = answer.json().get("models")
            name = models[0]["name"]
        except (ValueError, AttributeError, LookupError, TypeError):
            raise _NotServing(f"GET {TAGS_PATH}: lists no model") from None
        if not isinstance(name, str) or not name:
            raise _NotServing(f"GET {TAGS_PATH}: lists no model")
        return name

    async def _generate(self, model: str, deadline: float) -> str:
        """One completion of the runbook's prompt; the reply's text."""
        url = f"{self.base_url.rstrip('/')}{GENERATE_PATH}"
        body = {"model": model, "prompt": PROMPT, "stream": False}
        try:
            left = self._left_s(deadline, f"POST {GENERATE_PATH}")
            answer = await self.client.post(url, json=body, timeout=left)
        except httpx.HTTPError as exc:
            raise _NotServing(f"POST {GENERATE_PATH}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise _NotServing(f"POST {GENERATE_PATH}: HTTP {answer.status_code}")
        try:
            reply = answer.json().get("response")
        except (ValueError, AttributeError):
            reply = None
        if not isinstance(reply, str):
            raise _NotServing(f"POST {GENERATE_PATH}: no response in the answer")
        return reply


__all__ = ["GENERATE_PATH", "PROMPT", "TAGS_PATH", "InferenceCheck", "InferenceOutcome"]
