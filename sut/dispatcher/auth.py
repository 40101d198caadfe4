"""The dispatcher's gate for writes: every write names its caller, or it is refused and logged.

Read (sop/callers.py): task assignment is the operator's (``Authorization: Bearer``); the
agent's registration, incidents and emergency-log uploads are signed with the agent's
key like an envelope; an integrity check is either's (the operator's on demand, the
agent's in SOP 5.3). A forged upload must not become the record the integrity check
judges, and a task from nobody must not be signed for the agent in the dispatcher's name.
No credentials at all is a 401; credentials that are wrong (a bad token, a signature
that does not verify, a stale one) are a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from starlette.requests import Request

from sop.callers import is_operator, is_signed, operator_token_of, verify_request
from sop.errors import WireError
from sut.dispatcher.config import DispatcherConfig
from sut.dispatcher.errors import RequestRejected
from sut.runtime.body import BodyRefused, parse_json_object, read_bytes
from sut.runtime.jsonlog import get_logger

log = get_logger("sut.dispatcher")

Caller = Literal["operator", "agent"]


@dataclass(frozen=True)
class WriteGate:
    """Reads a write request's body once its caller is known to be allowed."""

    config: DispatcherConfig

    async def read(
        self, request: Request, *, operator: bool = False, agent: bool = False
    ) -> tuple[Caller, dict[str, Any]]:
        """The caller and the JSON object it sent; RequestRejected 401/403/400/413 otherwise."""
        try:
            raw = await read_bytes(request)
        except BodyRefused as exc:
            raise RequestRejected(str(exc), exc.status) from None
        caller = self._caller(request, raw, operator=operator, agent=agent)
        try:
            return caller, parse_json_object(raw)
        except BodyRefused as exc:
            raise RequestRejected(str(exc), exc.status) from None

    def _caller(self, request: Request, raw: bytes, *, operator: bool, agent: bool) -> Caller:
        headers = request.headers
        route = f"{request.method} {request.url.path}"
        if operator and operator_token_of(headers) is not None:
            if is_operator(self.config.operator_token, headers):
                return "operator"
            self._refuse(route, "the operator token is wrong", 403)
        if agent and is_signed(headers):
            try:
                verify_request(
                    self.config.hmac_key,
                    request.method,
                    request.url.path,
                    raw,
                    headers,
                    max_age=self.config.max_request_age,
                )
            except WireError as exc:
                self._refuse(route, str(exc), 403)
            return "agent"
        wanted = " or ".join(
            name
            for name, allowed in (
                ("the operator's bearer token", operator),
                ("the agent's request signature", agent),
            )
            if allowed
        )
        self._refuse(route, f"authentication required: {wanted}", 401)

    @staticmethod
    def _refuse(route: str, reason: str, status: int) -> NoReturn:
        # Logged without the credentials: the reason names what was wrong, never a value.
        log.warning("write refused", extra={"fields": {"route": route, "reason": reason}})
        raise RequestRejected(f"{route}: {reason}", status)


__all__ = ["Caller", "WriteGate"]
