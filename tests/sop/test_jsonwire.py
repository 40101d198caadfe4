"""Wire JSON: what Python's parser takes but no peer could send is refused, with the reason."""

from __future__ import annotations

import pytest

from sop.jsonwire import NotJson, loads, strings


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"x": NaN}', "invalid character 'N' looking for beginning of value"),
        (b"[1e999]", "cannot unmarshal number 1e999 into a float64"),
        (b'{"\\ud800": 1}', "a lone UTF-16 surrogate is not text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff", "codec can't decode"),
    ],
)
def test_what_no_peer_could_send_is_not_json(raw: bytes, reason: str) -> None:
    with pytest.raises(NotJson, match=reason):
        loads(raw)


def test_wire_json_parses_and_every_string_is_reached_without_recursion() -> None:
    value = loads(b'{"a": [{"b": "\\u00e9t\\u00e9"}], "n": 1.5}')
    assert value == {"a": [{"b": "été"}], "n": 1.5}
    deep: object = "leaf"
    for _ in range(50_000):
        deep = [deep]
    assert list(strings(deep)) == ["leaf"]
