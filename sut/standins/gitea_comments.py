"""The Gitea stand-in's issue comments: ``GET`` and ``POST .../issues/{index}/comments``.

``GET /api/v1/repos/{owner}/{repo}/issues/{index}/comments``   the issue's comments, oldest
                                                              first (Gitea's ListIssueComments)
``POST /api/v1/repos/{owner}/{repo}/issues/{index}/comments``  CreateIssueCommentOption
                                                              ``{"body"}``: 201 and the Comment

A comment is posted by the caller's account (the token's user or the collaborator, see
sut/standins/gitea.py); an empty body is 422 ``[Body]: Required`` as Gitea's binding says.
Comments outlive a restart in ``comments.json`` beside the issues when the stand-in has a
data directory, written the same way (temporary file, fsync, rename). The sink records each
comment created.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sop import jsonwire
from sut.standins.gitea_issues import OptionError, read_option, rfc3339
from sut.standins.gitea_objects import Account
from sut.standins.statefile import write_json_atomically

if TYPE_CHECKING:
    from sut.standins.gitea import GiteaStandIn

COMMENTS_FILE: Final = "comments.json"
#: CreateIssueCommentOption (modules/structs/issue_comment.go): JSON key -> (Go name, type).
COMMENT_OPTION: Final = {"body": ("Body", "string")}


@dataclass(frozen=True)
class Comment:
    """One comment on issue ``issue`` of ``repo`` (lower-case ``owner/name``)."""

    id: int
    repo: str
    issue: int
    poster: str
    body: str
    created_unix: int


class CommentBook:
    """Every issue's comments, kept in ``path`` if given; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._comments: list[Comment] = []
        if path is not None and path.exists():
            stored = jsonwire.loads(path.read_bytes())
            if not isinstance(stored, dict) or not isinstance(stored.get("comments"), list):
                raise ValueError('expected {"comments": [...]}')
            self._comments = [Comment(**entry) for entry in stored["comments"]]

    def on(self, repo: str, issue: int) -> list[Comment]:
        """The comments on issue ``issue`` of ``repo``, oldest first."""
        with self._lock:
            return [c for c in self._comments if (c.repo, c.issue) == (repo, issue)]

    def add(self, repo: str, issue: int, poster: str, body: str, now_unix: int) -> Comment:
        """A new comment, written to the file (if any) before it counts."""
        with self._lock:
            comment = Comment(len(self._comments) + 1, repo, issue, poster, body, now_unix)
            after = [*self._comments, comment]
            if self.path is not None:
                write_json_atomically(self.path, {"comments": [asdict(c) for c in after]})
            self._comments = after
            return comment


def open_comments(data: str | None) -> CommentBook:
    """The comment book kept in ``data``/comments.json, or in memory without a directory."""
    return CommentBook(None if data is None else Path(data) / COMMENTS_FILE)


def comment_json(
    comment: Comment, full_name: str, poster: Account, base: str, since: str
) -> dict[str, Any]:
    """Gitea's Comment object (modules/structs/issue_comment.go)."""
    issue_path = f"{full_name}/issues/{comment.issue}"
    at = rfc3339(comment.created_unix)
    return {
        "id": comment.id,
        "html_url": f"{base}{issue_path}#issuecomment-{comment.id}",
        "pull_request_url": "",
        "issue_url": f"{base}{issue_path}",
        "user": poster.as_json(base, since),
        "original_author": "",
        "original_author_id": 0,
        "body": comment.body,
        "assets": [],
        "created_at": at,
        "updated_at": at,
    }


class CommentRoutes:
    """The two comment handlers over the stand-in's repositories, issues and accounts."""

    def __init__(self, standin: GiteaStandIn, book: CommentBook) -> None:
        self.standin = standin
        self.book = book

    def _json(self, request: Request, comment: Comment, full_name: str) -> dict[str, Any]:
        standin = self.standin
        poster = standin.account(comment.poster)
        return comment_json(comment, full_name, poster, str(request.base_url), standin.since)

    async def list_comments(self, request: Request) -> Response:
        """``GET .../issues/{index}/comments``: oldest first."""
        found = self.standin.repository_for(request)
        if isinstance(found, Response):
            return found
        issue = self.standin.issue_for(request, found)
        if isinstance(issue, Response):
            return issue
        comments = self.book.on(found.key, issue.number)
        return JSONResponse([self._json(request, c, found.full_name) for c in comments])

    async def create_comment(self, request: Request) -> Response:
        """``POST .../issues/{index}/comments``: 201 and the comment, by the caller."""
        found = self.standin.repository_for(request)
        if isinstance(found, Response):
            return found
        try:
            bound = await read_option(request, "CreateIssueCommentOption", COMMENT_OPTION)
        except OptionError as exc:
            return self.standin.error(request, exc.status, str(exc))
        issue = self.standin.issue_for(request, found)
        if isinstance(issue, Response):
            return issue
        if not bound.get("body"):
            return self.standin.error(request, 422, "[Body]: Required")
        caller = self.standin.caller(request)
        try:
            comment = self.book.add(
                found.key, issue.number, caller.login, bound["body"], int(time.time())
            )
        except OSError as exc:
            return self.standin.not_stored(request, exc)
        where = {"repo": found.full_name, "number": issue.number, "comment_id": comment.id}
        self.standin.sink.record(request.method, request.scope["path"], bound, **where)
        return JSONResponse(self._json(request, comment, found.full_name), 201)

    def routes(self, issue: str) -> list[tuple[str, str, Callable[[Request], Any]]]:
        """The API routes under the issue path ``issue``."""
        return [
            ("GET", f"{issue}/comments", self.list_comments),
            ("POST", f"{issue}/comments", self.create_comment),
        ]


__all__ = [
    "COMMENTS_FILE",
    "Comment",
    "CommentBook",
    "CommentRoutes",
    "comment_json",
    "open_comments",
]
