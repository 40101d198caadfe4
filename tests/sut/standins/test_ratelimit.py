"""Discord-style rate limits: fixed windows per route and resource, the global 429, headers."""

from __future__ import annotations

from sut.standins.ratelimit import RateBuckets, bucket_id, globally_rate_limited, rate_limited


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_counts_down_then_limits_until_the_window_ends() -> None:
    clock = FakeClock()
    buckets = RateBuckets(limit=2, window_seconds=5.0, monotonic=clock, wall=lambda: 1_000.0)
    first = buckets.hit("POST /channels/{channel_id}/messages", "42")
    clock.now += 1.0
    second = buckets.hit("POST /channels/{channel_id}/messages", "42")
    third = buckets.hit("POST /channels/{channel_id}/messages", "42")
    assert [(r.remaining, r.limited) for r in (first, second, third)] == [
        (1, False),
        (0, False),
        (0, True),
    ]
    assert third.reset_after_seconds == 4.0
    assert third.reset_at_epoch == 1_004.0
    clock.now += 4.0
    assert not buckets.hit("POST /channels/{channel_id}/messages", "42").limited


def test_each_channel_has_its_own_window_but_shares_the_bucket_id() -> None:
    buckets = RateBuckets(limit=1, window_seconds=5.0, monotonic=FakeClock())
    route = "POST /channels/{channel_id}/messages"
    assert not buckets.hit(route, "1").limited
    assert buckets.hit(route, "1").limited
    other = buckets.hit(route, "2")
    assert not other.limited
    assert other.bucket == bucket_id(route)


def test_429_carries_discord_body_and_headers() -> None:
    buckets = RateBuckets(limit=1, window_seconds=2.5, monotonic=FakeClock(), wall=lambda: 50.0)
    buckets.hit("POST /users/@me/channels")
    answer = rate_limited(buckets.hit("POST /users/@me/channels"))
    assert answer.status_code == 429
    assert (
        answer.body == b'{"message":"You are being rate limited.","retry_after":2.5,"global":false}'
    )
    assert answer.headers["retry-after"] == "3"
    assert answer.headers["x-ratelimit-scope"] == "user"
    assert answer.headers["x-ratelimit-remaining"] == "0"
    assert answer.headers["x-ratelimit-reset-after"] == "2.500"
    assert answer.headers["x-ratelimit-reset"] == "52.500"


def test_global_429_says_global_and_carries_no_bucket_headers() -> None:
    answer = globally_rate_limited(0.25)
    assert answer.status_code == 429
    assert (
        answer.body == b'{"message":"You are being rate limited.","retry_after":0.25,"global":true}'
    )
    assert answer.headers["x-ratelimit-global"] == "true"
    assert answer.headers["x-ratelimit-scope"] == "global"
    assert answer.headers["retry-after"] == "1"
    rate_headers = {name for name in answer.headers if name.startswith("x-ratelimit-")}
    assert rate_headers == {"x-ratelimit-global", "x-ratelimit-scope"}
