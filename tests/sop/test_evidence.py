"""The shared evidence vocabulary: the detection verdict and its one rendering, the journal
entry's round trip, and the redaction rule every artifact is written with."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import EvidenceError
from sop.evidence import (
    MIN_SECRET_LENGTH,
    REDACTED,
    Detection,
    JournalEntry,
    redact_secrets,
    secrets_to_hide,
)

#: Random tokens as the harness makes them (hex and URL-safe characters).
_SECRET = st.text(alphabet="0123456789abcdefABCDEF_-", min_size=8, max_size=40)
_MINUTES = st.none() | st.floats(min_value=0, max_value=600, allow_nan=False)
_WINDOWS = st.none() | st.tuples(
    st.floats(min_value=0, max_value=300, allow_nan=False),
    st.floats(min_value=300, max_value=600, allow_nan=False),
)


@pytest.mark.parametrize(
    ("declared", "window", "line"),
    [
        (15.2, (15.0, 16.5), "15.20 SOP-min in [15.00, 16.50] (within window)"),
        (14.9, (15.0, 16.5), "14.90 SOP-min in [15.00, 16.50] (OUTSIDE window)"),
        (None, (15.0, 16.5), "never declared in [15.00, 16.50] (OUTSIDE window)"),
        (None, None, "not declared, must not be (within window)"),
        (2.0, None, "declared at 2.00 SOP-min, must not be (OUTSIDE window)"),
    ],
)
def test_a_detection_reads_as_one_line_against_its_window(
    declared: float | None, window: tuple[float, float] | None, line: str
) -> None:
    assert Detection.judge("scenario_a", declared, window).describe() == line


@given(declared=_MINUTES, window=_WINDOWS, trigger=st.sampled_from([None, "scenario_a"]))
def test_a_detection_survives_its_event_data(
    declared: float | None, window: tuple[float, float] | None, trigger: str | None
) -> None:
    detection = Detection.judge(trigger, declared, window)
    data = json.loads(json.dumps(detection.to_dict()))
    assert Detection.of_event("state_change", data) == detection
    # An early alarm, a late one and a missing one are all outside the window.
    if window is not None:
        assert detection.within_window == (
            declared is not None and window[0] <= declared <= window[1]
        )


def test_only_a_state_change_marked_as_detection_is_one() -> None:
    data = Detection.judge(None, None, None).to_dict()
    assert Detection.of_event("probe", data) is None
    assert Detection.of_event("state_change", {"mode": "offline"}) is None


def test_a_journal_entry_round_trips_and_a_malformed_one_is_refused() -> None:
    entry = JournalEntry("d::x", "drill-1", "t0", "t1", 1.5, "completed", False, meta={"a": 1})
    assert JournalEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    with pytest.raises(EvidenceError, match="journal entry: malformed"):
        JournalEntry.from_dict({"nodeid": "d::x"})


def test_strings_shorter_than_a_secret_are_never_hidden() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    assert secrets_to_hide([short, short + "yz"]) == {short + "yz"}


@given(secret=_SECRET, prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_redaction_leaves_no_secret_in_any_string_or_key(
    secret: str, prefix: str, suffix: str
) -> None:
    tree = {f"{prefix}{secret}": [f"{prefix}{secret}{suffix}", {"k": secret}], "n": 3}
    flat = json.dumps(redact_secrets(tree, [secret]))
    assert secret not in flat
    assert REDACTED in flat
