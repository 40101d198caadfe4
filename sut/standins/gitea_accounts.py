"""Who signs in to the Gitea stand-in: the token's user, and a collaborator if configured.

The token is read as Gitea reads it (services/auth/oauth2.go): ``?token=``, else
``?access_token=``, else ``Authorization: token <t>`` or ``Bearer <t>``. Every account's token
is compared in constant time; the one that matched is the request's caller (its issues and
comments are posted by it). The collaborator has the user's access to every repository:
emergency-procedures.md scenario 4 STEP 3, the father filing an issue in the child's
repository with a token of its own. The stand-in knows that token by its SHA-256 only, as
Gitea keeps a hash of each access token (models/auth/access_token.go): the host it runs on
(the child's) never holds the father's secret.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from sut.standins.gitea_objects import GHOST, Account


def base_url(request: Request) -> str:
    """Gitea writes its ROOT_URL; here it is the URL the client used, ending in "/"."""
    return str(request.base_url)


def gitea_error(request: Request, status: int, message: str, **headers: str) -> JSONResponse:
    """Gitea's API error: ``{"message", "url"}``, the URL being its API documentation."""
    body = {"message": message, "url": f"{base_url(request)}api/swagger"}
    return JSONResponse(body, status, headers=headers or None)


def first(request: Request, name: str) -> str:
    """The query parameter's first value, as Go's FormValue reads it; "" when absent."""
    values = request.query_params.getlist(name)
    return values[0] if values else ""


def _secret_bytes(text: str) -> bytes:
    # Any text compares, lone surrogates of an undecodable environment value included.
    return text.encode("utf-8", "surrogatepass")


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).hexdigest().encode()


class Accounts:
    """The accounts that may sign in, by token; ``user`` is the token's user, the owner."""

    def __init__(self, token: str, user: Account, collaborator: tuple[str, Account] | None) -> None:
        """``collaborator``: the hex SHA-256 of its token, and its account."""
        self.user = user
        self._tokens = [(_digest(_secret_bytes(token)), user)]
        if collaborator is not None:
            self._tokens.append((collaborator[0].strip().lower().encode(), collaborator[1]))

    @staticmethod
    def presented(request: Request) -> str | None:
        """The token the request carries, None for an anonymous one."""
        for name in ("token", "access_token"):
            if given := first(request, name):
                return given
        scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None  # another scheme is no token: the caller stays anonymous
        return value.strip() or None

    def signed(self, request: Request) -> bool | JSONResponse:
        """True for an account's token (kept as the request's caller), False for no one;
        the 401 or 403 otherwise."""
        presented = self.presented(request)
        if presented is not None:
            given = _digest(_secret_bytes(presented))
            matched = [a for t, a in self._tokens if hmac.compare_digest(given, t)]
            if not matched:
                return gitea_error(request, 401, "invalid username, password or token")
            request.state.caller = matched[0]
        if first(request, "sudo") or request.headers.get("sudo"):
            return gitea_error(request, 403, "Only administrators allowed to sudo.")
        return presented is not None

    def caller(self, request: Request) -> Account:
        """The account whose token signed ``request`` (once ``signed`` said True)."""
        found: Account = getattr(request.state, "caller", self.user)
        return found

    def named(self, login: str) -> Account:
        """The account called ``login``; Gitea's ghost for one it does not know."""
        known = [a for _, a in self._tokens if a.login.lower() == login.lower()]
        return known[0] if known else GHOST


__all__ = ["Accounts", "base_url", "first", "gitea_error"]
