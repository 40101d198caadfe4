"""A Gitea REST API v1 subset: the version, the token's user, private repositories, their issues.

A Gitea client library (py-gitea, tests/sut/standins/test_gitea_community_client.py) and the
seeds' curl commands run against it unchanged but for the base URL and the token:

``GET /api/v1/version``                               ``{"version"}``: the seeds' health check
``GET /api/v1/user``                                  the token's user (how a client checks it)
``GET /api/v1/repos/{owner}/{repo}``                  the repository object
``GET /api/v1/repos/{owner}/{repo}/issues``           newest first; ``state`` open (default),
                                                      closed or all, ``type`` issues or pulls,
                                                      ``page`` from 1, ``limit`` (30, at most
                                                      50); ``X-Total-Count`` and ``Link``
``POST /api/v1/repos/{owner}/{repo}/issues``          CreateIssueOption: 201 and the issue
``GET /api/v1/repos/{owner}/{repo}/issues/{index}``   the issue
``PATCH /api/v1/repos/{owner}/{repo}/issues/{index}`` EditIssueOption (``{"state": "closed"}``
                                                      closes it): 201, as Gitea answers an edit
``GET``/``POST .../issues/{index}/comments``          its comments (sut/standins/gitea_comments.py)

The token is read as Gitea reads it (sut/standins/gitea_accounts.py). A token that is no
account's is 401 ``invalid username, password or token`` on every route (go-gitea/gitea#21671);
no token is anonymous: ``/user`` is 401 ``token is required``, and the repositories, private,
are 404 to anyone but the token's user, as Gitea hides a private repository. ``sudo`` (query
or header) is 403: that user is no admin. Errors are Gitea's ``{"message", "url"}``
(services/context/api.go): 404 ``not found`` for an unknown repository, issue or route, 405,
413 for a body past the size limit of docs/security.md, and 422 for what the binding or the
handler refuses (sut/standins/gitea_issues.py): ``[Title]: Required``, a value of the wrong
type, an unknown assignee, a POST that is neither JSON nor a form. curl's ``-d`` alone sends
a form: the seeds' scenario 4 STEP 3 command, as written, gets ``422 [Title]: Required``
here, as from Gitea.

Two accounts may sign in: the token's user, and a collaborator on every repository if one is
configured (emergency-procedures.md scenario 4 STEP 3: the father files an issue in the child's
repository with a token of its own); an issue or comment is posted by the caller's account.
Issues have ids across the instance and numbers per repository from 1; the token's user is
the only possible assignee; labels and milestones (there are none) are taken
and dropped. The sink records each issue created, its ``body`` the option as bound.

Environment: ``SOPDRILL_GITEA_TOKEN`` (the access token, a secret: never logged),
``SOPDRILL_GITEA_USER`` (its user's login, default ``ops-agent``), ``SOPDRILL_GITEA_REPOS``
(comma-separated ``owner/name``, default ``ops/incidents``; an owner other than the user is
an organization), ``SOPDRILL_GITEA_COLLABORATOR`` and ``SOPDRILL_GITEA_COLLABORATOR_TOKEN_SHA256``
(the second account and the hex SHA-256 of its token), ``SOPDRILL_GITEA_VERSION``,
``SOPDRILL_GITEA_DATA`` (a directory: the issues outlive a restart in its ``issues.json``, the
repositories exist while its install record does, sut/standins/gitea_install.py; in memory
without it), and those of every service.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sop.errors import ServiceConfigError
from sut.runtime import Settings, get_logger
from sut.standins.app import guarded_app, run
from sut.standins.fault import Fault
from sut.standins.gitea_accounts import Accounts, base_url, first, gitea_error
from sut.standins.gitea_comments import CommentRoutes, open_comments
from sut.standins.gitea_install import installed_repositories
from sut.standins.gitea_issues import (
    CREATE_OPTION,
    EDIT_OPTION,
    Issue,
    IssueBook,
    OptionError,
    atoi,
    open_book,
    read_option,
    rfc3339,
)
from sut.standins.gitea_objects import (
    NAME,
    Account,
    Repository,
    issue_json,
    link_header,
    parse_repositories,
)
from sut.standins.sink import Sink

SERVICE: Final = "gitea"
API: Final = "/api/v1"
DEFAULT_USER: Final = "ops-agent"
DEFAULT_REPOS: Final = "ops/incidents"
DEFAULT_VERSION: Final = "1.25.3"
DEFAULT_PAGE_SIZE: Final = 30  # app.ini [api] DEFAULT_PAGING_NUM
MAX_PAGE_SIZE: Final = 50  # app.ini [api] MAX_RESPONSE_ITEMS

_log = get_logger(f"sut.standins.{SERVICE}")  # stable when run as __main__


def _go_int(text: str) -> int:
    # ctx.FormInt and ctx.PathParamInt64: 0 for anything strconv does not take.
    return atoi(text) or 0


class GiteaStandIn:
    """The request handlers, over the token, its user, the repositories, the issues, the sink."""

    def __init__(
        self,
        token: str,
        user: Account,
        repositories: Mapping[str, Repository],
        version: str,
        book: IssueBook,
        sink: Sink,
        collaborator: tuple[str, Account] | None = None,
    ) -> None:
        self.accounts = Accounts(token, user, collaborator)
        self._signed = self.accounts.signed
        self.user = user
        self.repositories = repositories
        self.version = version
        self.book = book
        self.sink = sink
        self.since = rfc3339(int(time.time()))

    def caller(self, request: Request) -> Account:
        """The account whose token signed ``request`` (after ``repository_for``)."""
        return self.accounts.caller(request)

    def account(self, login: str) -> Account:
        """The account called ``login``; Gitea's ghost for one it does not know."""
        return self.accounts.named(login)

    error = staticmethod(gitea_error)

    def repository_for(self, request: Request) -> Repository | Response:
        """The repository the path names, for a signed caller; its 401, 403 or 404 otherwise."""
        signed = self._signed(request)
        if isinstance(signed, Response):
            return signed
        key = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
        found = self.repositories.get(key)
        return found if found is not None and signed else gitea_error(request, 404, "not found")

    def issue_for(self, request: Request, repository: Repository) -> Issue | Response:
        """The issue the path names in ``repository``; 404 otherwise."""
        found = self.book.get(repository.key, _go_int(request.path_params["index"]))
        return found if found is not None else gitea_error(request, 404, "not found")

    async def version_info(self, request: Request) -> Response:
        """``GET /api/v1/version``."""
        signed = self._signed(request)
        return signed if isinstance(signed, Response) else JSONResponse({"version": self.version})

    async def me(self, request: Request) -> Response:
        """``GET /api/v1/user``: the token's user."""
        signed = self._signed(request)
        if isinstance(signed, Response):
            return signed
        if not signed:
            return gitea_error(request, 401, "token is required")
        return JSONResponse(self.caller(request).as_json(base_url(request), self.since))

    async def repository(self, request: Request) -> Response:
        """``GET /api/v1/repos/{owner}/{repo}``."""
        found = self.repository_for(request)
        if isinstance(found, Response):
            return found
        body = found.as_json(base_url(request), self.since, self.book.count_open(found.key))
        return JSONResponse(body)

    async def list_issues(self, request: Request) -> Response:
        """``GET /api/v1/repos/{owner}/{repo}/issues``: one page, newest first."""
        found = self.repository_for(request)
        if isinstance(found, Response):
            return found
        state = first(request, "state")
        state = state if state in ("closed", "all") else "open"
        issues = [] if first(request, "type") == "pulls" else self.book.listing(found.key, state)
        page, limit = _go_int(first(request, "page")), _go_int(first(request, "limit"))
        limit = DEFAULT_PAGE_SIZE if limit <= 0 else min(limit, MAX_PAGE_SIZE)
        start = (max(page, 1) - 1) * limit
        shown = [self._json(request, i, found) for i in issues[start : start + limit]]
        headers = {"X-Total-Count": str(len(issues))}
        url = f"{base_url(request)}{quote(request.scope['path'][1:])}"
        query = request.query_params.multi_items()
        if link := link_header(url, query, len(issues), limit, page):
            headers["Link"] = link
        return JSONResponse(shown, headers=headers)

    async def get_issue(self, request: Request) -> Response:
        """``GET /api/v1/repos/{owner}/{repo}/issues/{index}``."""
        found = self.repository_for(request)
        if isinstance(found, Response):
            return found
        issue = self.issue_for(request, found)
        if isinstance(issue, Response):
            return issue
        return JSONResponse(self._json(request, issue, found))

    async def create_issue(self, request: Request) -> Response:
        """``POST /api/v1/repos/{owner}/{repo}/issues``: 201 and the new issue."""
        found = self.repository_for(request)
        if isinstance(found, Response):
            return found
        bound = await self._read(request, "CreateIssueOption", CREATE_OPTION)
        if isinstance(bound, Response):
            return bound
        if not bound.get("title"):
            return gitea_error(request, 422, "[Title]: Required")
        assignees = self._assignees(request, bound)
        if isinstance(assignees, Response):
            return assignees
        now = int(time.time())
        content = {
            "title": bound["title"],
            "body": bound.get("body", ""),
            "ref": bound.get("ref", ""),
            "poster": self.caller(request).login,
            "assignees": assignees or (),
            "closed_unix": now if bound.get("closed") else None,
            "deadline_unix": bound.get("due_date"),
        }
        try:
            issue = self.book.open(found.key, now, **content)
        except OSError as exc:
            return self.not_stored(request, exc)
        where = {"repo": found.full_name, "number": issue.number}
        self.sink.record(
            request.method,
            request.scope["path"],
            bound,
            **where,
            issue_id=issue.id,
            title=issue.title,
        )
        _log.info("issue created", extra={"fields": where})
        return JSONResponse(self._json(request, issue, found), 201)

    async def edit_issue(self, request: Request) -> Response:
        """``PATCH /api/v1/repos/{owner}/{repo}/issues/{index}``: 201 and the issue as edited."""
        found = self.repository_for(request)
        if isinstance(found, Response):
            return found
        # Gitea binds the body before its handler looks the issue up.
        bound = await self._read(request, "EditIssueOption", EDIT_OPTION)
        if isinstance(bound, Response):
            return bound
        issue = self.issue_for(request, found)
        if isinstance(issue, Response):
            return issue
        assignees = self._assignees(request, bound)
        if isinstance(assignees, Response):
            return assignees
        now = int(time.time())
        changes: dict[str, Any] = {"updated_unix": now}
        if bound.get("title"):  # an empty title keeps the old one
            changes["title"] = bound["title"]
        changes.update({field: bound[field] for field in ("body", "ref") if field in bound})
        if assignees is not None:
            changes["assignees"] = assignees
        if "due_date" in bound or "unset_due_date" in bound:
            changes["deadline_unix"] = (
                None if bound.get("unset_due_date") else bound.get("due_date")
            )
        if "state" in bound:
            # Any state but "closed" opens the issue, as Gitea reads it.
            closing = bound["state"] == "closed"
            kept = issue.closed_unix if issue.closed_unix is not None else now
            changes["closed_unix"] = kept if closing else None
        try:
            edited = self.book.edit(issue, **changes)
        except OSError as exc:
            return self.not_stored(request, exc)
        _log.info(
            "issue edited", extra={"fields": {"repo": found.full_name, "number": issue.number}}
        )
        return JSONResponse(self._json(request, edited, found), 201)

    async def _read(
        self, request: Request, struct: str, option: Mapping[str, tuple[str, str]]
    ) -> dict[str, Any] | Response:
        try:
            return await read_option(request, struct, option)
        except OptionError as exc:
            return gitea_error(request, exc.status, str(exc))

    def _assignees(
        self, request: Request, bound: Mapping[str, Any]
    ) -> tuple[str, ...] | Response | None:
        """The assignees ``bound`` names, None if it names none; 422 for a user not here."""
        if "assignee" not in bound and "assignees" not in bound:
            return None
        names = [bound.get("assignee") or "", *bound.get("assignees", [])]
        for name in filter(None, names):
            if name.lower() != self.user.login.lower():
                return gitea_error(request, 422, f"Assignee does not exist: [name: {name}]")
        return (self.user.login,) if any(names) else ()

    def _json(self, request: Request, issue: Issue, repository: Repository) -> dict[str, Any]:
        poster = self.account(issue.poster)
        return issue_json(issue, repository, self.user, base_url(request), self.since, poster)

    def not_stored(self, request: Request, exc: OSError) -> Response:
        """A 500 for a write the disk refused."""
        # A full or read-only disk: Gitea's database would refuse the write too.
        _log.error("issues not stored", extra={"fields": {"error": str(exc)}})
        return gitea_error(request, 500, "")

    def render_fault(self, fault: Fault, request: Request) -> Response:
        """A replacing fault in Gitea's error shape; a 429 says when to retry."""
        if fault.mode == "rate_limit":
            seconds = fault.retry_after_seconds or 0.0
            retry = str(math.ceil(seconds))
            return gitea_error(
                request, 429, f"rate limited: retry after {seconds:g} s", **{"Retry-After": retry}
            )
        return gitea_error(request, fault.status_code, f"stand-in fault: {fault.mode}")


def _route_error(request: Request, status: int, headers: Mapping[str, str] | None) -> Response:
    """A 404 or 405 of the router under ``/api/``: Gitea's JSON error."""
    message = "not found" if status == 404 else "Method Not Allowed"
    return gitea_error(request, status, message, **(headers or {}))


def create_app(settings: Settings) -> Starlette:
    """The Gitea stand-in configured from ``settings``."""
    token = settings.secret("SOPDRILL_GITEA_TOKEN")
    login = settings.text("SOPDRILL_GITEA_USER", DEFAULT_USER)
    if not NAME.match(login):
        raise ServiceConfigError(
            f"{SERVICE}: SOPDRILL_GITEA_USER: expected a Gitea login, got {login!r}"
        )
    user = Account(1, login)
    configured = parse_repositories(settings.items("SOPDRILL_GITEA_REPOS", DEFAULT_REPOS), user)
    data = settings.optional("SOPDRILL_GITEA_DATA")
    repositories = installed_repositories(data, configured)  # before the issues make the dir
    book = open_book(data)
    version = settings.text("SOPDRILL_GITEA_VERSION", DEFAULT_VERSION)
    collaborator = None
    if other := settings.optional("SOPDRILL_GITEA_COLLABORATOR"):
        if not NAME.match(other) or other.lower() == login.lower():
            raise ServiceConfigError(
                f"{SERVICE}: SOPDRILL_GITEA_COLLABORATOR: expected another login, got {other!r}"
            )
        digest = settings.text("SOPDRILL_GITEA_COLLABORATOR_TOKEN_SHA256")
        collaborator = (digest, Account(2, other))
    standin = GiteaStandIn(token, user, repositories, version, book, Sink(), collaborator)
    comments = CommentRoutes(standin, open_comments(data))
    repo, issue = (
        f"{API}/repos/{{owner}}/{{repo}}",
        f"{API}/repos/{{owner}}/{{repo}}/issues/{{index}}",
    )
    api = [
        ("GET", f"{API}/version", standin.version_info),
        ("GET", f"{API}/user", standin.me),
        ("GET", repo, standin.repository),
        ("GET", f"{repo}/issues", standin.list_issues),
        ("POST", f"{repo}/issues", standin.create_issue),
        ("GET", issue, standin.get_issue),
        ("PATCH", issue, standin.edit_issue),
        *comments.routes(issue),
    ]
    return guarded_app(api, standin.sink, standin.render_fault, _route_error)


def main() -> None:
    """``python -m sut.standins.gitea``: serve on ``SOPDRILL_BIND:SOPDRILL_PORT``."""
    run(SERVICE, create_app)


if __name__ == "__main__":
    main()
