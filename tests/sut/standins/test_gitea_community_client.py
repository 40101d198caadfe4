"""A community Gitea library, py-gitea, run against the Gitea stand-in unchanged.

Only configuration points it here: the base URL and the access token (``Gitea(url, token)``).
It reads the version and its user, loads a repository of an organization and one of its own
user (py-gitea tells them apart by the owner's email), files the father's message of
emergency-procedures.md scenario 4 STEP 3 and a burst past Gitea's default page of 30, reads
every open issue back through its own paging, closes one by editing it, and meets Gitea's
refusals as the exceptions it raises for them. The sink must show each issue once, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from gitea import Gitea, Issue, NotFoundException, Organization, Repository, User
from gitea.exceptions import Forbidden, GiteaApiException, Unprocessable
from starlette.applications import Starlette

from sut.runtime import Settings
from sut.standins.gitea import DEFAULT_VERSION, create_app

TOKEN = "c0ffee0123456789abcdef0123456789abcdef01"
#: One issue more than Gitea's default page (DEFAULT_PAGING_NUM 30): the client must page.
BURST = 31
FATHER = ("Father Message: Emergency Contact", "SSH unavailable. Proceed with autonomy.")


@pytest.fixture
def base_url(serve: Callable[[Starlette], str]) -> str:
    environ = {
        "SOPDRILL_GITEA_TOKEN": TOKEN,
        "SOPDRILL_GITEA_REPOS": "ops/incidents,ops-agent/notes",
    }
    return serve(create_app(Settings("gitea", environ=environ)))


def _client(base_url: str, token: str = TOKEN) -> Gitea:
    gitea = Gitea(base_url, token)
    gitea.requests.trust_env = False  # no proxy from the environment may see test traffic
    return gitea


@pytest.fixture
def gitea(base_url: str) -> Iterator[Gitea]:
    client = _client(base_url)
    yield client
    client.requests.close()


def test_py_gitea_files_pages_and_closes_issues(base_url: str, gitea: Gitea) -> None:
    assert gitea.get_version() == DEFAULT_VERSION
    me = gitea.get_user()
    assert (me.username, me.is_admin) == ("ops-agent", False)
    incidents = Repository.request(gitea, "ops", "incidents")
    assert isinstance(incidents.owner, Organization)
    assert (incidents.get_full_name(), incidents.private) == ("ops/incidents", True)
    notes = Repository.request(gitea, "ops-agent", "notes")
    assert isinstance(notes.owner, User)
    assert notes.owner.username == me.username

    father = incidents.create_issue(FATHER[0], assignees=[], description=FATHER[1])
    assert (father.number, father.state, father.title, father.body) == (1, Issue.OPENED, *FATHER)
    assert father.user.username == "ops-agent"
    assert father.repository == incidents
    burst = [
        Issue.create_issue(gitea, incidents, f"drill {n}", "body") for n in range(2, BURST + 1)
    ]
    assert [issue.number for issue in burst] == list(range(2, BURST + 1))

    opened = incidents.get_issues_state(Issue.OPENED)
    assert sorted(issue.number for issue in opened) == list(range(1, BURST + 1))

    fetched = Issue.request(gitea, "ops", "incidents", "1")
    assert (fetched.title, fetched.body) == FATHER
    fetched.state = Issue.CLOSED
    fetched.commit()
    assert [issue.number for issue in incidents.get_issues_state(Issue.CLOSED)] == [1]
    assert len(incidents.get_issues()) == BURST
    assert Repository.request(gitea, "ops", "incidents").open_issues_count == BURST - 1

    entries: list[dict[str, Any]] = httpx.get(f"{base_url}/_sink/messages", timeout=5).json()
    assert [e["title"] for e in entries] == [
        FATHER[0],
        *(f"drill {n}" for n in range(2, BURST + 1)),
    ]
    assert [e["number"] for e in entries] == list(range(1, BURST + 1))


def test_py_gitea_meets_gitea_s_refusals_as_its_own_exceptions(base_url: str, gitea: Gitea) -> None:
    forger = _client(base_url, "not-the-token")
    with pytest.raises(Forbidden):  # py-gitea's name for a 401
        forger.get_user()
    with pytest.raises(NotFoundException):
        Repository.request(gitea, "ops", "nope")
    incidents = Repository.request(gitea, "ops", "incidents")
    with pytest.raises(Unprocessable):
        Issue.create_issue(gitea, incidents, "")
    with pytest.raises(NotFoundException):
        Issue.request(gitea, "ops", "incidents", "7")

    fault = {"mode": "error", "status": 503, "count": 1}
    httpx.put(f"{base_url}/_fault", json=fault, timeout=5).raise_for_status()
    with pytest.raises(GiteaApiException):
        Issue.create_issue(gitea, incidents, "during the outage")
    assert Issue.create_issue(gitea, incidents, "after it").number == 1
    titles = [e["title"] for e in httpx.get(f"{base_url}/_sink/messages", timeout=5).json()]
    assert titles == ["after it"]
