"""SOP time versus wall time: one scale, bounded so that the services can keep the cadence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import PolicyError
from sop.timescale import MAX_TIME_SCALE, TimeScale, aware_instant


@given(
    st.floats(min_value=1e-3, max_value=MAX_TIME_SCALE),
    st.floats(min_value=0, max_value=1e4, allow_nan=False),
)
def test_wall_and_sop_time_convert_back_and_forth(factor: float, minutes: float) -> None:
    scale = TimeScale(factor)
    assert math.isclose(scale.sop_minutes(scale.wall_seconds(minutes)), minutes, abs_tol=1e-9)


def test_the_nightly_scale_is_one_sop_minute_per_wall_second() -> None:
    assert TimeScale(60).wall_seconds(15) == 15.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "--time-scale: expected a positive number, got 'fast'"),
        ("0", "--time-scale: expected a positive number, got '0'"),
        ("nan", "--time-scale: expected a positive number, got 'nan'"),
        ("1e9", "--time-scale: at most 600 (ten SOP minutes per wall second), got '1e9'"),
    ],
)
def test_a_bad_scale_is_one_line_naming_where(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        TimeScale.parse(text, "--time-scale")
    assert str(caught.value) == message


def test_the_fastest_scale_is_accepted_and_one_beyond_is_not() -> None:
    assert TimeScale.parse(str(MAX_TIME_SCALE)).factor == MAX_TIME_SCALE
    with pytest.raises(PolicyError, match="at most 600"):
        TimeScale(MAX_TIME_SCALE + 1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (17, "expected an ISO-8601 time string, got 17"),
        ("yesterday", "not ISO-8601: 'yesterday'"),
        ("2026-02-11T17:00:00", "a time zone is required (e.g. Z), got '2026-02-11T17:00:00'"),
    ],
)
def test_an_instant_without_a_zone_or_form_is_refused_naming_where(
    value: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=r"^thing: at: ") as caught:
        aware_instant(value, "thing: at")
    assert str(caught.value) == f"thing: at: {reason}"


def test_a_zoned_instant_is_read() -> None:
    assert aware_instant("2026-02-11T17:00:00Z", "at").utcoffset() is not None
