"""The Discord stand-in over real HTTP: login, DM channel, message, auth, errors, limits, sink."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from unittest.mock import ANY

import httpx
import pytest
from starlette.applications import Starlette

from sop.errors import ServiceConfigError
from sut.runtime import Settings
from sut.standins.discord import API, create_app

TOKEN = "test-bot-token.abc123"
RECIPIENT = "80351110224678912"
AUTH = {"Authorization": f"Bot {TOKEN}"}
RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


def _settings(**extra: str) -> Settings:
    return Settings("discord", environ={"SOPDRILL_DISCORD_TOKEN": TOKEN, **extra})


@pytest.fixture(scope="module")
def base_url(serve: Callable[[Starlette], str]) -> str:
    # Large limits so that only the tests about limits ever meet the natural ones.
    return serve(
        create_app(
            _settings(SOPDRILL_DISCORD_RATE_LIMIT="1000", SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT="1000")
        )
    )


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{base_url}", timeout=5, headers=AUTH) as client:
        client.delete("/_fault")
        client.delete("/_sink/messages")
        yield client


def _open_dm(client: httpx.Client, recipient: str = RECIPIENT) -> str:
    answer = client.post(f"{API}/users/@me/channels", json={"recipient_id": recipient})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_create_dm_answers_a_dm_channel_object(client: httpx.Client) -> None:
    answer = client.post(f"{API}/users/@me/channels", json={"recipient_id": RECIPIENT})
    channel = answer.json()
    assert channel["type"] == 1
    assert channel["id"].isdigit()
    assert [user["id"] for user in channel["recipients"]] == [RECIPIENT]
    assert all(header in answer.headers for header in RATE_HEADERS)
    assert _open_dm(client) == channel["id"], "the same recipient gets the same DM channel"


def test_my_user_is_the_bot_that_authors_the_messages(client: httpx.Client) -> None:
    answer = client.get(f"{API}/users/@me")
    assert answer.status_code == 200
    me = answer.json()
    assert me["id"].isdigit()
    assert (me["bot"], me["global_name"], me["avatar"]) == (True, None, None)
    assert len(me["discriminator"]) == 4, "bots keep the legacy four-digit tag"
    assert {"mfa_enabled", "flags", "verified", "locale"} <= me.keys()
    assert all(header in answer.headers for header in RATE_HEADERS)
    channel_id = _open_dm(client)
    message = client.post(f"{API}/channels/{channel_id}/messages", json={"content": "hi"}).json()
    assert message["author"]["id"] == me["id"]


def test_gateway_bot_answers_one_shard_on_loopback(client: httpx.Client) -> None:
    answer = client.get(f"{API}/gateway/bot")
    assert answer.status_code == 200
    assert answer.json() == {
        "url": "wss://127.0.0.1/",
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        },
    }
    assert all(header in answer.headers for header in RATE_HEADERS)


def test_post_message_answers_a_message_object_from_the_bot(client: httpx.Client) -> None:
    channel_id = _open_dm(client)
    answer = client.post(f"{API}/channels/{channel_id}/messages", json={"content": "OFFLINE"})
    assert answer.status_code == 200
    message = answer.json()
    assert message["channel_id"] == channel_id
    assert message["content"] == "OFFLINE"
    assert message["id"].isdigit()
    assert message["id"] != channel_id
    assert message["author"]["bot"] is True
    assert message["timestamp"].endswith("+00:00")
    assert all(header in answer.headers for header in RATE_HEADERS)
    assert "X-RateLimit-Scope" not in answer.headers


@pytest.mark.parametrize(
    "authorization", [None, f"Bearer {TOKEN}", "Bot wrong-token", f"Bot {TOKEN}x", TOKEN]
)
def test_anything_but_the_bot_token_is_401(
    base_url: str, client: httpx.Client, authorization: str | None
) -> None:
    channel_id = _open_dm(client)
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=base_url, timeout=5, headers=headers) as stranger:
        answers = [
            stranger.get(f"{API}/users/@me"),
            stranger.get(f"{API}/gateway/bot"),
            stranger.post(f"{API}/users/@me/channels", json={"recipient_id": RECIPIENT}),
            stranger.post(f"{API}/channels/{channel_id}/messages", json={"content": "hi"}),
        ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.json() == {"message": "401: Unauthorized", "code": 0}
    assert client.get("/_sink/messages").json() == []


def test_unknown_channel_is_404_10003(client: httpx.Client) -> None:
    answer = client.post(f"{API}/channels/123456789/messages", json={"content": "hi"})
    assert answer.status_code == 404
    assert answer.json() == {"message": "Unknown Channel", "code": 10003}


@pytest.mark.parametrize("path", [f"{API}/users/@me/guilds", f"{API}/nope", "/api/v9/users/@me"])
def test_a_route_outside_the_subset_is_discords_404(base_url: str, path: str) -> None:
    # No Authorization at all: Discord routes the request before it looks at the token.
    answer = httpx.get(f"{base_url}{path}", timeout=5)
    assert answer.status_code == 404
    assert answer.json() == {"message": "404: Not Found", "code": 0}


def test_a_method_the_route_does_not_take_is_discords_405(client: httpx.Client) -> None:
    answer = client.delete(f"{API}/users/@me")
    assert answer.status_code == 405
    assert answer.json() == {"message": "405: Method Not Allowed", "code": 0}
    assert {method.strip() for method in answer.headers["Allow"].split(",")} == {"GET", "HEAD"}


def test_the_harness_routes_keep_starlettes_plain_404(client: httpx.Client) -> None:
    answer = client.get("/_nope")
    assert (answer.status_code, answer.text) == (404, "Not Found")


def test_a_body_past_the_limit_is_discords_413(post_too_large) -> None:
    # It was a 400 "invalid JSON": docs/security.md says 413 (issue 14's fuzz).
    answer = post_too_large(create_app(_settings()), f"{API}/users/@me/channels", AUTH)
    assert answer.status_code == 413
    assert answer.json() == {"message": "Request entity too large", "code": 40005}


@pytest.mark.parametrize("body", [{"content": ""}, {"content": "   "}, {}])
def test_empty_content_is_400_50006(client: httpx.Client, body: dict[str, str]) -> None:
    channel_id = _open_dm(client)
    answer = client.post(f"{API}/channels/{channel_id}/messages", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"message": "Cannot send an empty message", "code": 50006}
    assert client.get("/_sink/messages").json() == []


def test_oversized_content_and_bad_recipient_are_invalid_form_body(client: httpx.Client) -> None:
    channel_id = _open_dm(client)
    too_long = client.post(f"{API}/channels/{channel_id}/messages", json={"content": "x" * 2001})
    assert too_long.status_code == 400
    assert too_long.json()["code"] == 50035
    assert too_long.json()["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    bad = client.post(f"{API}/users/@me/channels", json={"recipient_id": "not-a-snowflake"})
    assert bad.status_code == 400
    assert "recipient_id" in bad.json()["errors"]


def test_rate_limit_fault_answers_discords_429(client: httpx.Client) -> None:
    channel_id = _open_dm(client)
    client.put("/_fault", json={"mode": "rate_limit", "retry_after_seconds": 1.5, "count": 1})
    answer = client.post(f"{API}/channels/{channel_id}/messages", json={"content": "alert"})
    assert answer.status_code == 429
    assert answer.json() == {
        "message": "You are being rate limited.",
        "retry_after": 1.5,
        "global": False,
    }
    assert answer.headers["Retry-After"] == "2"
    assert answer.headers["X-RateLimit-Scope"] == "user"
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert float(answer.headers["X-RateLimit-Reset-After"]) == 1.5
    retried = client.post(f"{API}/channels/{channel_id}/messages", json={"content": "alert"})
    assert retried.status_code == 200
    assert [m["content"] for m in client.get("/_sink/messages").json()] == ["alert"]


def test_error_and_down_faults_answer_json_5xx(client: httpx.Client) -> None:
    client.put("/_fault", json={"mode": "error", "status": 502, "count": 1})
    answer = client.post(f"{API}/users/@me/channels", json={"recipient_id": RECIPIENT})
    assert (answer.status_code, answer.json()["code"]) == (502, 0)
    client.put("/_fault", json={"mode": "down"})
    assert client.post(f"{API}/users/@me/channels", json={}).status_code == 503


def test_sink_records_messages_oldest_first(client: httpx.Client) -> None:
    first_channel = _open_dm(client)
    other_recipient = "80351110224678999"
    second_channel = _open_dm(client, other_recipient)
    for channel_id, content in [
        (first_channel, "one"),
        (second_channel, "two"),
        (first_channel, "three"),
    ]:
        client.post(f"{API}/channels/{channel_id}/messages", json={"content": content})
    entries = client.get("/_sink/messages").json()
    assert [(e["content"], e["channel_id"], e["recipient_id"]) for e in entries] == [
        ("one", first_channel, RECIPIENT),
        ("two", second_channel, other_recipient),
        ("three", first_channel, RECIPIENT),
    ]
    assert [e["received_at"] for e in entries] == sorted(e["received_at"] for e in entries)
    assert entries[0]["body"] == {"content": "one"}
    assert TOKEN not in str(entries)


def test_the_bucket_limits_for_real_and_says_when_to_retry(
    serve: Callable[[Starlette], str],
) -> None:
    app = create_app(
        _settings(SOPDRILL_DISCORD_RATE_LIMIT="2", SOPDRILL_DISCORD_RATE_WINDOW_SECONDS="60")
    )
    with httpx.Client(base_url=serve(app), timeout=5, headers=AUTH) as client:
        channel_id = _open_dm(client)
        answers = [
            client.post(f"{API}/channels/{channel_id}/messages", json={"content": str(n)})
            for n in range(3)
        ]
        refusals = client.get("/_sink/refusals").json()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    retry_after = answers[2].json()["retry_after"]
    assert 0 < retry_after <= 60
    assert answers[2].headers["Retry-After"] == str(math.ceil(retry_after))
    assert answers[0].headers["X-RateLimit-Bucket"] == answers[2].headers["X-RateLimit-Bucket"]
    # The harness sees the refusal at the stand-in, not in the SUT's word (a fleet's storm).
    [refused] = refusals
    assert (refused["status"], refused["scope"], refused["method"]) == (429, "user", "POST")
    assert refused["path"] == f"{API}/channels/{channel_id}/messages"


def test_the_global_limit_answers_discords_global_429(
    serve: Callable[[Starlette], str],
) -> None:
    app = create_app(
        _settings(SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT="2", SOPDRILL_DISCORD_RATE_LIMIT="1000")
    )
    with httpx.Client(base_url=serve(app), timeout=5, headers=AUTH) as client:
        # Two routes: the global limit counts the bot's requests over all of them.
        answers = [
            client.get(f"{API}/users/@me"),
            client.get(f"{API}/gateway/bot"),
            client.get(f"{API}/users/@me"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    limited = answers[2]
    body = limited.json()
    assert body == {"message": "You are being rate limited.", "retry_after": ANY, "global": True}
    assert 0 < body["retry_after"] <= 1
    assert limited.headers["X-RateLimit-Global"] == "true"
    assert limited.headers["X-RateLimit-Scope"] == "global"
    assert limited.headers["Retry-After"] == "1"
    assert "X-RateLimit-Bucket" not in limited.headers, "the global limit is no route's bucket"


def test_a_route_429_is_not_global(serve: Callable[[Starlette], str]) -> None:
    app = create_app(_settings(SOPDRILL_DISCORD_RATE_LIMIT="1"))
    with httpx.Client(base_url=serve(app), timeout=5, headers=AUTH) as client:
        answers = [client.get(f"{API}/users/@me") for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[1].json()["global"] is False
    assert answers[1].headers["X-RateLimit-Scope"] == "user"
    assert "X-RateLimit-Global" not in answers[1].headers


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "SOPDRILL_DISCORD_TOKEN"),
        ({"SOPDRILL_DISCORD_TOKEN": TOKEN, "SOPDRILL_DISCORD_RATE_LIMIT": "0"}, "RATE_LIMIT"),
        (
            {"SOPDRILL_DISCORD_TOKEN": TOKEN, "SOPDRILL_DISCORD_RATE_WINDOW_SECONDS": "-1"},
            "RATE_WINDOW_SECONDS",
        ),
        (
            {"SOPDRILL_DISCORD_TOKEN": TOKEN, "SOPDRILL_DISCORD_GLOBAL_RATE_LIMIT": "0"},
            "GLOBAL_RATE_LIMIT",
        ),
    ],
)
def test_bad_settings_are_one_line_config_errors(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ServiceConfigError, match=named):
        create_app(Settings("discord", environ=environ))


def test_a_restarted_stand_in_keeps_its_dm_channels_bot_and_inbox(tmp_path) -> None:
    """Discord keeps a DM channel, the bot's id and what it accepted across a restart of
    the service: a cached channel id still takes messages, and the harness still reads the
    message accepted before (CI: the alert vanished with the stand-in's restart)."""
    import asyncio

    settings = _settings(SOPDRILL_STANDIN_STATE=str(tmp_path / "state"))

    async def talk(app: Starlette, *calls: tuple[str, str, dict[str, str] | None]) -> list:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://standin", headers=AUTH
        ) as client:
            return [await client.request(m, p, json=b) for m, p, b in calls]

    dm = ("POST", f"{API}/users/@me/channels", {"recipient_id": RECIPIENT})
    me = ("GET", f"{API}/users/@me", None)
    [opened, before] = asyncio.run(talk(create_app(settings), dm, me))
    channel = opened.json()["id"]
    post = ("POST", f"{API}/channels/{channel}/messages", {"content": "ALERT"})
    asyncio.run(talk(create_app(settings), post))

    again = create_app(settings)  # the service restarted: a new process, the same disk
    post2 = ("POST", f"{API}/channels/{channel}/messages", {"content": "RESOLVED"})
    sink = ("GET", "/_sink/messages", None)
    [answer, after, seen] = asyncio.run(talk(again, post2, me, sink))
    assert answer.status_code == 200, answer.text
    assert after.json()["id"] == before.json()["id"]
    assert [m["body"]["content"] for m in seen.json()] == ["ALERT", "RESOLVED"]
