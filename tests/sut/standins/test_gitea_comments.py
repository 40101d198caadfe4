"""The Gitea stand-in's second account (a collaborator) and its issue comments, over real HTTP:
scenario 4 STEP 3's father files an issue with a token of its own; the child comments on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from sop.errors import ServiceConfigError
from sut.runtime import Settings
from sut.standins.gitea import API, create_app

TOKEN = "0123456789abcdef0123456789abcdef01234567"
FATHER_TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
REPO = "ops-agent/first-steps"


def _settings(data: Path | None = None, **extra: str) -> Settings:
    env = {
        "SOPDRILL_GITEA_TOKEN": TOKEN,
        "SOPDRILL_GITEA_REPOS": f"ops/incidents,{REPO}",
        "SOPDRILL_GITEA_COLLABORATOR": "allegro",
        "SOPDRILL_GITEA_COLLABORATOR_TOKEN_SHA256": hashlib.sha256(
            FATHER_TOKEN.encode()
        ).hexdigest(),
        **({"SOPDRILL_GITEA_DATA": str(data)} if data else {}),
        **extra,
    }
    return Settings("gitea", environ=env)


def _as(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=5, headers={"Authorization": f"token {token}"})


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str], tmp_path_factory) -> str:
    return serve(create_app(_settings(tmp_path_factory.mktemp("gitea") / "data")))


def test_the_collaborator_signs_in_and_posts_as_itself(base_url):
    with _as(base_url, FATHER_TOKEN) as father, _as(base_url, TOKEN) as child:
        assert father.get(f"{API}/user").json()["login"] == "allegro"
        body = {"title": "Father Message: Emergency Contact", "body": "SSH unavailable."}
        filed = father.post(f"{API}/repos/{REPO}/issues", json=body)
        assert filed.status_code == 201, filed.text
        number = filed.json()["number"]
        seen = child.get(f"{API}/repos/{REPO}/issues/{number}").json()
        assert seen["user"]["login"] == "allegro"
        mine = child.post(f"{API}/repos/{REPO}/issues", json={"title": "child's own"}).json()
        assert mine["user"]["login"] == "ops-agent"


def test_comments_are_posted_by_the_caller_and_listed_oldest_first(base_url):
    with _as(base_url, FATHER_TOKEN) as father, _as(base_url, TOKEN) as child:
        number = father.post(f"{API}/repos/{REPO}/issues", json={"title": "t"}).json()["number"]
        path = f"{API}/repos/{REPO}/issues/{number}/comments"
        assert child.get(path).json() == []
        ack = child.post(path, json={"body": "Acknowledged."})
        assert ack.status_code == 201, ack.text
        assert (ack.json()["user"]["login"], ack.json()["body"]) == ("ops-agent", "Acknowledged.")
        father.post(path, json={"body": "Thanks."})
        listed = father.get(path).json()
        assert [(c["user"]["login"], c["body"]) for c in listed] == [
            ("ops-agent", "Acknowledged."),
            ("allegro", "Thanks."),
        ]
        assert listed[0]["issue_url"].endswith(f"{REPO}/issues/{number}")


def test_comments_are_refused_as_gitea_refuses_them(base_url):
    with _as(base_url, TOKEN) as child, _as(base_url, "0" * 40) as stranger:
        number = child.post(f"{API}/repos/{REPO}/issues", json={"title": "t"}).json()["number"]
        path = f"{API}/repos/{REPO}/issues/{number}/comments"
        assert child.post(path, json={"body": ""}).status_code == 422
        assert stranger.post(path, json={"body": "x"}).status_code == 401
        assert httpx.get(f"{base_url}{path}").status_code == 404, "private: anonymous sees none"
        assert child.get(f"{API}/repos/{REPO}/issues/999/comments").status_code == 404


def test_comments_outlive_a_restart(tmp_path, in_process):
    auth = {"Authorization": f"token {TOKEN}"}
    issues = f"{API}/repos/{REPO}/issues"
    with in_process(create_app(_settings(tmp_path / "gitea"))) as first:
        number = first.post(issues, json={"title": "t"}, headers=auth).json()["number"]
        first.post(f"{issues}/{number}/comments", json={"body": "kept"}, headers=auth)
    with in_process(create_app(_settings(tmp_path / "gitea"))) as again:
        listed = again.get(f"{issues}/{number}/comments", headers=auth).json()
    assert [c["body"] for c in listed] == ["kept"]


def test_the_collaborator_is_another_login():
    with pytest.raises(ServiceConfigError, match="SOPDRILL_GITEA_COLLABORATOR: expected another"):
        create_app(_settings(SOPDRILL_GITEA_COLLABORATOR="ops-agent"))
