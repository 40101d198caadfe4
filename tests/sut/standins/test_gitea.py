"""The Gitea stand-in over real HTTP: token auth, issues, listing, Gitea's errors, disk, faults."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sop.errors import ServiceConfigError
from sut.runtime import Settings
from sut.standins.gitea import API, create_app
from sut.standins.gitea_install import REPOSITORIES_FILE

TOKEN = "0123456789abcdef0123456789abcdef01234567"  # shaped like a Gitea access token
AUTH = {"Authorization": f"token {TOKEN}"}
# One repository per test that counts issues: each numbers its own from 1.
REPOS = "ops/incidents,ops/listing,ops/paging,ops/edits,ops/refusals,ops-agent/notes"


def _settings(**extra: str) -> Settings:
    env = {"SOPDRILL_GITEA_TOKEN": TOKEN, "SOPDRILL_GITEA_REPOS": REPOS, **extra}
    return Settings("gitea", environ=env)


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str]) -> str:
    return serve(create_app(_settings()))


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5, headers=AUTH) as client:
        client.delete("/_fault")
        client.delete("/_sink/messages")
        yield client


def _issues(repo: str) -> str:
    return f"{API}/repos/{repo}/issues"


def _open(client: httpx.Client, repo: str, title: str, **fields: Any) -> dict[str, Any]:
    answer = client.post(_issues(repo), json={"title": title, **fields})
    assert answer.status_code == 201, answer.text
    issue: dict[str, Any] = answer.json()
    return issue


def _gitea_error(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {
        "message": message,
        "url": f"{answer.url.scheme}://{answer.url.netloc.decode()}/api/swagger",
    }


def test_version_needs_no_token_but_a_wrong_one_is_401(base_url: str) -> None:
    assert httpx.get(f"{base_url}{API}/version").json() == {"version": "1.25.3"}
    assert httpx.get(f"{base_url}{API}/version", headers=AUTH).status_code == 200
    wrong = httpx.get(f"{base_url}{API}/version", headers={"Authorization": "token nope"})
    _gitea_error(wrong, 401, "invalid username, password or token")


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"token {TOKEN}"}, {}),
        ({"Authorization": f"Bearer {TOKEN}"}, {}),
        ({}, {"token": TOKEN}),
        ({}, {"access_token": TOKEN}),
    ],
)
def test_the_token_is_taken_from_the_header_or_the_query(
    base_url: str, headers: dict[str, str], query: dict[str, str]
) -> None:
    me = httpx.get(f"{base_url}{API}/user", headers=headers, params=query)
    assert me.status_code == 200, me.text
    assert (me.json()["login"], me.json()["username"]) == ("ops-agent", "ops-agent")
    assert me.json()["email"] == "ops-agent@noreply.localhost"


@pytest.mark.parametrize("authorization", [None, f"Bot {TOKEN}", "token"])
def test_no_token_is_anonymous_and_private_repositories_are_hidden(
    base_url: str, client: httpx.Client, authorization: str | None
) -> None:
    _open(client, "ops/refusals", "seen by its owner only")
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=base_url, timeout=5, headers=headers) as stranger:
        _gitea_error(stranger.get(f"{API}/user"), 401, "token is required")
        for answer in [
            stranger.get(f"{API}/repos/ops/refusals"),
            stranger.get(_issues("ops/refusals")),
            stranger.get(f"{_issues('ops/refusals')}/1"),
            stranger.post(_issues("ops/refusals"), json={"title": "x"}),
            stranger.patch(f"{_issues('ops/refusals')}/1", json={"state": "closed"}),
        ]:
            _gitea_error(answer, 404, "not found")
    assert client.get(f"{_issues('ops/refusals')}/1").json()["state"] == "open"
    assert len(client.get("/_sink/messages").json()) == 1


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": "token wrong"}, {}),
        ({"Authorization": f"Bearer {TOKEN}x"}, {}),
        (AUTH, {"token": "wrong"}),  # the query's token is read first, as Gitea reads it
    ],
)
def test_a_wrong_token_is_401_on_every_route_and_changes_nothing(
    base_url: str, client: httpx.Client, headers: dict[str, str], query: dict[str, str]
) -> None:
    before = client.get(_issues("ops/refusals"), params={"state": "all"}).json()
    with httpx.Client(base_url=base_url, timeout=5, headers=headers, params=query) as forger:
        for answer in [
            forger.get(f"{API}/user"),
            forger.get(f"{API}/repos/ops/refusals"),
            forger.post(_issues("ops/refusals"), json={"title": "forged"}),
            forger.patch(f"{_issues('ops/refusals')}/1", json={"state": "closed"}),
        ]:
            _gitea_error(answer, 401, "invalid username, password or token")
    assert client.get(_issues("ops/refusals"), params={"state": "all"}).json() == before
    assert client.get("/_sink/messages").json() == []


def test_sudo_is_403_for_a_user_who_is_no_admin(client: httpx.Client) -> None:
    for sudo in [
        client.get(f"{API}/user", params={"sudo": "root"}),
        client.get(f"{API}/user", headers={"Sudo": "root"}),
    ]:
        _gitea_error(sudo, 403, "Only administrators allowed to sudo.")


def test_the_repository_object_names_its_owner_and_counts_open_issues(client: httpx.Client) -> None:
    _open(client, "ops-agent/notes", "a note")
    repo = client.get(f"{API}/repos/OPS-AGENT/Notes").json()  # names match without case
    assert [repo[k] for k in ("full_name", "private", "open_issues_count")] == [
        "ops-agent/notes",
        True,
        1,
    ]
    assert repo["owner"]["email"] != "", "the token's user owns it: a user, with an email"
    assert repo["permissions"] == {"admin": False, "push": True, "pull": True}
    org = client.get(f"{API}/repos/ops/incidents").json()["owner"]
    assert (org["login"], org["email"]) == ("ops", ""), "another owner is an organization"


def test_a_created_issue_is_201_with_gitea_s_issue_object(client: httpx.Client) -> None:
    answer = client.post(_issues("ops/incidents"), json={"title": "Gitea down", "body": "P1"})
    assert answer.status_code == 201
    issue = answer.json()
    assert (issue["title"], issue["body"], issue["state"]) == ("Gitea down", "P1", "open")
    assert issue["user"]["login"] == "ops-agent"
    assert issue["html_url"].endswith(f"/ops/incidents/issues/{issue['number']}")
    assert issue["url"].endswith(f"{API}/repos/ops/incidents/issues/{issue['number']}")
    assert [issue[k] for k in ("labels", "comments", "assignees", "closed_at")] == [
        [],
        0,
        None,
        None,
    ]
    assert issue["created_at"] == issue["updated_at"]
    assert issue["created_at"].endswith("Z")
    assert (issue["repository"]["full_name"], issue["repository"]["owner"]) == (
        "ops/incidents",
        "ops",
    )
    assert client.get(f"{_issues('ops/incidents')}/{issue['number']}").json() == issue


def test_numbers_count_per_repository_from_1_and_ids_across_the_instance(
    serve: Callable[[Starlette], str],
) -> None:
    with httpx.Client(base_url=serve(create_app(_settings())), timeout=5, headers=AUTH) as client:
        made = [_open(client, repo, "t") for repo in ("ops/listing", "ops/paging", "ops/listing")]
    assert [(i["repository"]["full_name"], i["number"], i["id"]) for i in made] == [
        ("ops/listing", 1, 1),
        ("ops/paging", 1, 2),
        ("ops/listing", 2, 3),
    ]


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": None}, {"body": "no title"}])
def test_an_issue_without_a_title_is_422_title_required(
    client: httpx.Client, body: dict[str, Any]
) -> None:
    _gitea_error(client.post(_issues("ops/refusals"), json=body), 422, "[Title]: Required")
    assert client.get("/_sink/messages").json() == []


@pytest.mark.parametrize(
    ("content_type", "content", "message"),
    [
        (None, b'{"title": "t"}', "[]: Empty Content-Type"),
        ("text/plain", b'{"title": "t"}', "[]: Unsupported Content-Type"),
        ("application/json", b'{"title": ', "[]: request body: not valid JSON"),
        ("application/json", b'["t"]', "[]: request body: expected a JSON object, got list"),
        # The seeds' scenario 4 STEP 3: curl -d without -H "Content-Type: application/json"
        # sends a form, whose one field is the whole JSON text; Gitea finds no title in it.
        ("application/x-www-form-urlencoded", b'{"title": "t", "body": "b"}', "[Title]: Required"),
    ],
)
def test_gitea_binds_the_body_by_its_content_type(
    client: httpx.Client, content_type: str | None, content: bytes, message: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    _gitea_error(
        client.post(_issues("ops/refusals"), content=content, headers=headers), 422, message
    )


def test_a_form_is_bound_field_by_field(client: httpx.Client) -> None:
    form = {"title": "from a form", "body": "SSH unavailable", "closed": "true"}
    answer = client.post(_issues("ops/refusals"), data=form)
    assert answer.status_code == 201, answer.text
    issue = answer.json()
    assert [issue["title"], issue["body"], issue["state"]] == [
        form["title"],
        form["body"],
        "closed",
    ]


def test_a_body_past_the_limit_is_413(post_too_large: Callable[..., httpx.Response]) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    answer = post_too_large(create_app(_settings()), _issues("ops/incidents"), headers)
    assert answer.status_code == 413
    assert answer.json()["message"].startswith("[]: request body: larger than")


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/repos/ops/nope",
        f"{API}/repos/nobody/incidents",
        f"{_issues('ops/incidents')}/999",
        f"{_issues('ops/incidents')}/abc",
        f"{_issues('ops/incidents')}/{'9' * 30}",
        f"{API}/nope",
    ],
)
def test_what_is_not_here_is_404_not_found(client: httpx.Client, path: str) -> None:
    _gitea_error(client.get(path), 404, "not found")


def test_a_method_a_route_does_not_take_is_405_and_harness_routes_stay_plain(
    client: httpx.Client,
) -> None:
    answer = client.delete(f"{API}/user")
    _gitea_error(answer, 405, "Method Not Allowed")
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == {"GET", "HEAD"}
    assert (client.get("/_nope").status_code, client.get("/_nope").text) == (404, "Not Found")


def test_the_listing_filters_by_state_newest_first(client: httpx.Client) -> None:
    for title in ("one", "two", "three"):
        _open(client, "ops/listing", title)
    client.patch(f"{_issues('ops/listing')}/2", json={"state": "closed"})

    def titles(**params: str) -> list[str]:
        return [i["title"] for i in client.get(_issues("ops/listing"), params=params).json()]

    assert titles() == titles(state="bogus") == ["three", "one"]
    assert titles(state="closed") == ["two"]
    assert titles(state="all") == ["three", "two", "one"]
    assert titles(state="all", type="pulls") == []


def test_the_listing_pages_with_gitea_s_total_and_links(client: httpx.Client) -> None:
    for n in range(55):
        _open(client, "ops/paging", f"page item {n}")
    url = _issues("ops/paging")

    def numbers(**params: str) -> list[int]:
        return [i["number"] for i in client.get(url, params=params).json()]

    assert numbers() == list(range(55, 25, -1)), "30 a page by default"
    assert numbers(limit="100") == list(range(55, 5, -1)), "50 at most"
    assert numbers(limit="2", page="2") == [53, 52]
    assert numbers(limit="2", page="abc") == numbers(limit="2", page="-3") == [55, 54]
    assert numbers(limit="2", page="99") == []
    middle = client.get(url, params={"limit": "20", "page": "2"})
    assert middle.headers["X-Total-Count"] == "55"
    links = [part.split(";")[1].strip() for part in middle.headers["Link"].split(",")]
    assert links == ['rel="next"', 'rel="last"', 'rel="first"', 'rel="prev"']
    assert "limit=20&page=3>" in middle.headers["Link"].split(",")[0]
    last = client.get(url, params={"limit": "50", "page": "2"}).headers["Link"]
    assert [part.split(";")[1].strip() for part in last.split(",")] == ['rel="first"', 'rel="prev"']
    assert "Link" not in client.get(url, params={"limit": "50", "state": "closed"}).headers


def test_an_edit_closes_and_reopens_and_keeps_what_it_does_not_name(client: httpx.Client) -> None:
    issue = _open(client, "ops/edits", "to close", body="kept")
    url = f"{_issues('ops/edits')}/{issue['number']}"
    closed = client.patch(url, json={"state": "closed", "title": "", "body": None})
    assert closed.status_code == 201, "Gitea answers an edit 201"
    assert [closed.json()[k] for k in ("state", "title", "body")] == ["closed", "to close", "kept"]
    assert closed.json()["closed_at"] is not None
    reopened = client.patch(url, json={"state": "open", "assignees": ["OPS-agent"]}).json()
    assert (reopened["state"], reopened["closed_at"]) == ("open", None)
    assert reopened["assignee"]["login"] == "ops-agent"
    _gitea_error(
        client.patch(url, json={"assignees": ["stranger"]}),
        422,
        "Assignee does not exist: [name: stranger]",
    )
    # Gitea binds the body before it looks the issue up.
    _gitea_error(
        client.patch(f"{_issues('ops/edits')}/99", json={"state": 1}),
        422,
        "[]: json: cannot unmarshal number into Go struct field EditIssueOption.state"
        " of type string",
    )
    _gitea_error(
        client.patch(f"{_issues('ops/edits')}/99", json={"state": "closed"}), 404, "not found"
    )


def test_issues_outlive_a_restart_on_the_same_data_directory(
    tmp_path: Path, in_process: Any
) -> None:
    settings = _settings(SOPDRILL_GITEA_DATA=str(tmp_path / "gitea"))
    with in_process(create_app(settings)) as first:
        filed = [
            first.post(_issues("ops/incidents"), json={"title": t}, headers=AUTH).json()
            for t in ("a", "b")
        ]
        first.request(
            "PATCH", f"{_issues('ops/incidents')}/1", json={"state": "closed"}, headers=AUTH
        )
        before = first.get(_issues("ops/incidents"), params={"state": "all"}, headers=AUTH).json()
    assert [i["number"] for i in filed] == [1, 2]
    with in_process(create_app(settings)) as second:
        after = second.get(_issues("ops/incidents"), params={"state": "all"}, headers=AUTH).json()
        third = second.post(_issues("ops/incidents"), json={"title": "c"}, headers=AUTH).json()
    assert after == before
    assert [i["state"] for i in after] == ["open", "closed"]
    assert (third["number"], third["id"]) == (3, 3)
    assert sorted(p.name for p in (tmp_path / "gitea").iterdir()) == [
        "issues.json",
        REPOSITORIES_FILE,
    ], "no temporary file is left"


def test_a_lost_data_directory_comes_back_empty_and_its_repositories_answer_404(
    tmp_path: Path, in_process: Any
) -> None:
    # emergency-procedures.md P0 "Gitea lost": the data gone, not the service stopped.
    data = tmp_path / "gitea"
    settings = _settings(SOPDRILL_GITEA_DATA=str(data))
    with in_process(create_app(settings)) as first:
        assert first.get(f"{API}/repos/ops/incidents", headers=AUTH).status_code == 200
        first.post(_issues("ops/incidents"), json={"title": "a"}, headers=AUTH)
    for path in data.iterdir():
        path.unlink()  # the disk lost: the directory is there, empty
    with in_process(create_app(settings)) as second:
        assert second.get(f"{API}/version", headers=AUTH).status_code == 200
        gone = second.get(f"{API}/repos/ops/incidents", headers=AUTH)
        assert (gone.status_code, gone.json()["message"]) == (404, "not found")
        assert second.get(f"{_issues('ops/incidents')}/1", headers=AUTH).status_code == 404
    assert not (data / REPOSITORIES_FILE).exists(), "nothing recreates the repositories"


def test_the_token_never_reaches_the_logs(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _open(client, "ops/refusals", f"mentions {TOKEN[:8]}")
    client.get(f"{API}/user", params={"token": TOKEN}, headers={})
    client.get(f"{API}/user", headers={"Authorization": f"token {TOKEN}-forged"})
    # Not the clients' own logs, nor uvicorn's access log: the service runs with it off
    # (sut/runtime/jsonlog.py), and test_entrypoints.py reads what the real process prints.
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "uvicorn.a"))]
    assert any(r.getMessage() == "issue created" for r in ours)
    assert not [r for r in ours if TOKEN in f"{r.getMessage()} {getattr(r, 'fields', '')}"]


def test_the_sink_records_each_created_issue_once_in_order(client: httpx.Client) -> None:
    made = [_open(client, "ops/incidents", title) for title in ("first", "second")]
    client.post(_issues("ops/incidents"), json={"title": ""})
    entries = client.get("/_sink/messages").json()
    assert [(e["repo"], e["number"], e["title"], e["issue_id"]) for e in entries] == [
        ("ops/incidents", i["number"], i["title"], i["id"]) for i in made
    ]
    assert entries[0]["body"]["title"] == "first"
    assert TOKEN not in json.dumps(entries)


def test_faults_answer_in_gitea_s_error_shape(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "rate_limit", "retry_after_seconds": 1.5, "count": 1})
    limited = client.post(_issues("ops/incidents"), json={"title": "t"})
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert set(limited.json()) == {"message", "url"}
    client.put("/_fault", json={"mode": "error", "status": 502, "count": 1})
    assert client.get(f"{API}/version").status_code == 502
    assert client.get(f"{API}/version").status_code == 200, "the fault applied once"
    client.put("/_fault", json={"mode": "down"})
    assert client.get(f"{API}/version").status_code == 503
    assert client.get("/_sink/messages").json() == [], "the refused issue was not recorded"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SOPDRILL_GITEA_TOKEN", "", "SOPDRILL_GITEA_TOKEN is not set"),
        ("SOPDRILL_GITEA_REPOS", "incidents", "SOPDRILL_GITEA_REPOS: expected owner/name"),
        ("SOPDRILL_GITEA_REPOS", " , ", "SOPDRILL_GITEA_REPOS: expected at least one"),
        ("SOPDRILL_GITEA_USER", "ops agent", "SOPDRILL_GITEA_USER: expected a Gitea login"),
    ],
)
def test_bad_settings_are_one_line_config_errors(name: str, value: str, says: str) -> None:
    with pytest.raises(ServiceConfigError, match=says):
        create_app(_settings(**{name: value}))
