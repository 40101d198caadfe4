"""Gitea's API objects as it writes them: users, repositories, issues, and its page links.

The shapes follow Gitea's modules/structs (User, Repository, Issue, RepositoryMeta) as
services/convert fills them for a signed-in user: every field a client may read is there,
with the value Gitea gives a fresh private repository on a UTC server. ``base`` is the
instance's root URL, ending in "/"; ``since`` the instance's start, RFC 3339.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from sop.errors import ServiceConfigError
from sut.standins.gitea_issues import Issue, rfc3339

#: Gitea's user and repository names: letters, digits, "-", "_", "." (AlphaDashDot).
NAME: Final = re.compile(r"^[\w.-]+$", re.ASCII)


@dataclass(frozen=True)
class Account:
    """A Gitea user, or an organization (to the API, a user of another kind)."""

    id: int
    login: str
    organization: bool = False

    def as_json(self, base: str, since: str) -> dict[str, Any]:
        """Gitea's User object, as its own user sees it (an organization shows no email)."""
        email = "" if self.organization or self.id < 0 else f"{self.login}@noreply.localhost"
        return {
            "id": self.id,
            "login": self.login,
            "login_name": "",
            "source_id": 0,
            "full_name": "",
            "email": email,
            "avatar_url": f"{base}{self.login}.png",
            "html_url": f"{base}{self.login}",
            "language": "",
            "is_admin": False,
            "last_login": since,
            "created": since,
            "restricted": False,
            "active": True,
            "prohibit_login": False,
            "location": "",
            "website": "",
            "description": "",
            "visibility": "public",
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
            "username": self.login,
        }


#: Who Gitea shows for a user it no longer has (user_model.NewGhostUser).
GHOST: Final = Account(-1, "Ghost")


@dataclass(frozen=True)
class Repository:
    """A private repository of the token's user or of an organization."""

    id: int
    owner: Account
    name: str

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner.login}/{self.name}"

    @property
    def key(self) -> str:
        """The full name in lower case: Gitea finds owners and repositories without case."""
        return self.full_name.lower()

    def meta(self) -> dict[str, Any]:
        """The RepositoryMeta an issue carries."""
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner.login,
            "full_name": self.full_name,
        }

    def as_json(self, base: str, since: str, open_issues: int) -> dict[str, Any]:
        """Gitea's Repository object, as its writer sees it."""
        html = f"{base}{self.full_name}"
        host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        flags = ("has_issues", "has_wiki", "has_pull_requests", "has_projects", "has_releases")
        merges = ("allow_merge_commits", "allow_rebase", "allow_rebase_explicit")
        more = ("allow_squash_merge", "allow_fast_forward_only_merge", "allow_rebase_update")
        return {
            "id": self.id,
            "owner": self.owner.as_json(base, since),
            "name": self.name,
            "full_name": self.full_name,
            "description": "",
            "empty": False,
            "private": True,
            "fork": False,
            "template": False,
            "mirror": False,
            "size": 0,
            "language": "",
            "languages_url": f"{base}api/v1/repos/{self.full_name}/languages",
            "html_url": html,
            "url": f"{base}api/v1/repos/{self.full_name}",
            "link": "",
            "ssh_url": f"git@{host}:{self.full_name}.git",
            "clone_url": f"{html}.git",
            "original_url": "",
            "website": "",
            "stars_count": 0,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": open_issues,
            "open_pr_counter": 0,
            "release_counter": 0,
            "default_branch": "main",
            "archived": False,
            "created_at": since,
            "updated_at": since,
            "archived_at": rfc3339(0),
            "permissions": {"admin": False, "push": True, "pull": True},
            **dict.fromkeys((*flags, "has_packages", "has_actions", *merges, *more), True),
            "internal_tracker": {
                "enable_time_tracker": True,
                "allow_only_contributors_to_track_time": True,
                "enable_issue_dependencies": True,
            },
            "projects_mode": "all",
            "ignore_whitespace_conflicts": False,
            "allow_manual_merge": False,
            "autodetect_manual_merge": False,
            "default_delete_branch_after_merge": False,
            "default_merge_style": "merge",
            "default_allow_maintainer_edit": False,
            "avatar_url": "",
            "internal": False,
            "mirror_interval": "",
            "object_format_name": "sha1",
            "mirror_updated": "0001-01-01T00:00:00Z",  # Go's zero time: never mirrored
            "topics": [],
            "licenses": [],
        }


def link_header(
    url: str, query: Sequence[tuple[str, str]], total: int, page_size: int, page: int
) -> str | None:
    """Gitea's pagination links for ``url`` (without its query), in its order: next, last,
    first, prev (services/context/api.go, genAPILinks); None when there is one page."""
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    has_next = total > page * page_size
    wanted = [("next", page + 1)] if has_next else []
    wanted += [("last", pages)] if has_next else []  # Gitea's IsLast(): no page after it
    wanted += [("first", 1), ("prev", page - 1)] if page > 1 else []
    params: dict[str, list[str]] = {}
    for key, value in query:
        params.setdefault(key, []).append(value)
    links = []
    for rel, number in wanted:
        # Go's url.Values.Encode: keys sorted, the page replaced, the rest kept.
        encoded = urlencode(sorted({**params, "page": [str(number)]}.items()), doseq=True)
        links.append(f'<{url}?{encoded}>; rel="{rel}"')
    return ",".join(links) or None


def issue_json(
    issue: Issue,
    repository: Repository,
    user: Account,
    base: str,
    since: str,
    poster: Account | None = None,
) -> dict[str, Any]:
    """Gitea's Issue object for ``issue`` of ``repository``; ``user`` is the token's user,
    ``poster`` the account that opened it (the user, or the ghost, when not given)."""
    if poster is None:
        poster = user if issue.poster.lower() == user.login.lower() else GHOST
    mine = [name for name in issue.assignees if name.lower() == user.login.lower()]
    people = [user.as_json(base, since) for _ in mine[:1]]
    path = f"{repository.full_name}/issues/{issue.number}"
    return {
        "id": issue.id,
        "url": f"{base}api/v1/repos/{path}",
        "html_url": f"{base}{path}",
        "number": issue.number,
        "user": poster.as_json(base, since),
        "original_author": "",
        "original_author_id": 0,
        "title": issue.title,
        "body": issue.body,
        "ref": issue.ref,
        "assets": [],
        "labels": [],
        "milestone": None,
        "assignee": people[0] if people else None,
        "assignees": people or None,  # Go's nil slice
        "state": issue.state,
        "is_locked": False,
        "comments": 0,
        "created_at": rfc3339(issue.created_unix),
        "updated_at": rfc3339(issue.updated_unix),
        "closed_at": None if issue.closed_unix is None else rfc3339(issue.closed_unix),
        "due_date": None if issue.deadline_unix is None else rfc3339(issue.deadline_unix),
        "time_estimate": 0,
        "pull_request": None,
        "repository": repository.meta(),
        "pin_order": 0,
    }


def parse_repositories(full_names: Sequence[str], user: Account) -> dict[str, Repository]:
    """The configured repositories by key; an owner other than ``user`` is an organization."""
    owners = {user.login.lower(): user}
    found: dict[str, Repository] = {}
    for full_name in full_names:
        owner, _, name = full_name.partition("/")
        if not (NAME.match(owner) and NAME.match(name)):
            raise ServiceConfigError(
                "gitea: SOPDRILL_GITEA_REPOS: expected owner/name such as ops/incidents, "
                f"got {full_name!r}"
            )
        account = owners.setdefault(owner.lower(), Account(len(owners) + 1, owner, True))
        found.setdefault(f"{owner}/{name}".lower(), Repository(len(found) + 1, account, name))
    if not found:
        raise ServiceConfigError("gitea: SOPDRILL_GITEA_REPOS: expected at least one owner/name")
    return found
