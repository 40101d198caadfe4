"""The recording inbox: oldest first, named fields beside the fixed ones, cleared on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sut.standins.sink import Sink


def _ticking_clock() -> tuple[list[datetime], Callable[[], datetime]]:
    start = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    ticks = [start + timedelta(seconds=n) for n in range(10)]
    feed = iter(ticks)
    return ticks, lambda: next(feed)


def test_messages_come_back_oldest_first_with_their_receipt_time() -> None:
    ticks, clock = _ticking_clock()
    sink = Sink(clock=clock)
    for n in range(3):
        sink.record("POST", "/v2/send", {"n": n}, message=f"m{n}")
    listed = [entry.as_json() for entry in sink.messages()]
    assert [entry["message"] for entry in listed] == ["m0", "m1", "m2"]
    assert [entry["received_at"] for entry in listed] == [t.isoformat() for t in ticks[:3]]
    assert listed[0] == {
        "received_at": ticks[0].isoformat(),
        "method": "POST",
        "path": "/v2/send",
        "body": {"n": 0},
        "message": "m0",
    }


def test_a_named_field_cannot_mask_the_receipt_fields() -> None:
    _, clock = _ticking_clock()
    sink = Sink(clock=clock)
    sink.record("POST", "/x", {}, path="/forged", method="GET")
    entry = sink.messages()[0].as_json()
    assert (entry["method"], entry["path"]) == ("POST", "/x")


def test_clear_empties_and_counts() -> None:
    sink = Sink()
    sink.record("POST", "/a", {})
    sink.record("POST", "/b", {})
    assert sink.clear() == 2
    assert sink.messages() == []
    assert sink.clear() == 0


def test_a_journalled_inbox_outlives_its_process_and_a_torn_last_line(tmp_path) -> None:
    journal = tmp_path / "state" / "sink.jsonl"
    first = Sink(journal=journal)
    first.record("POST", "/v2/send", {"message": "ALERT"}, recipient="+1")
    first.refuse("POST", "/v2/send", status=429)
    with journal.open("a") as out:
        out.write('{"refused": false, "received_at": "2026-')  # killed mid-write
    again = Sink(journal=journal)
    assert [(e.body, e.fields) for e in again.messages()] == [
        ({"message": "ALERT"}, {"recipient": "+1"})
    ]
    assert [e.fields for e in again.refusals()] == [{"status": 429}]
    again.record("POST", "/v2/send", {"message": "RESOLVED"})
    assert [e.body for e in Sink(journal=journal).messages()][-1] == {"message": "RESOLVED"}
    again.clear()
    assert Sink(journal=journal).messages() == []
