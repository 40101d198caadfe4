"""The emergency-log upload contract: epochs (0 when absent) and the seal of a broken log."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import WireError
from sop.logupload import EPOCH_FIELD, LEGACY_EPOCH, MAX_EPOCH, Seal, UploadHeader, epoch_of


def test_an_upload_without_an_epoch_is_the_legacy_epoch() -> None:
    assert UploadHeader.from_json({"agent": "ops", "entries": []}) == UploadHeader(0, None)
    assert epoch_of([]) == epoch_of([{"seq": 0}]) == LEGACY_EPOCH


@given(
    st.integers(min_value=0, max_value=MAX_EPOCH),
    st.none() | st.integers(1, 10**6),
    st.text(min_size=1),
)
def test_a_header_survives_its_own_json(epoch: int, line: int | None, error: str) -> None:
    for header in (UploadHeader(epoch, None), UploadHeader(epoch, Seal(line, error))):
        assert UploadHeader.from_json(header.as_json()) == header


@given(st.integers(min_value=0, max_value=MAX_EPOCH))
def test_the_epoch_is_read_from_the_first_entry(epoch: int) -> None:
    assert epoch_of([{"seq": 0, EPOCH_FIELD: epoch}, {"seq": 1, EPOCH_FIELD: epoch + 1}]) == epoch


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"epoch": -1}, "epoch"),
        ({"epoch": True}, "epoch"),
        ({"epoch": "7"}, "epoch"),
        # The dispatcher names a file by it: 300 digits were a file name too long, a 500.
        ({"epoch": MAX_EPOCH + 1}, "epoch"),
        ({"epoch": 10**300}, "epoch"),
        ({"sealed": "broken"}, "sealed"),
        ({"sealed": {"line": 0, "error": "x"}}, "sealed.line"),
        ({"sealed": {"line": 3}}, "sealed.error"),
    ],
)
def test_a_malformed_header_names_its_field(body: dict, field: str) -> None:
    with pytest.raises(WireError) as caught:
        UploadHeader.from_json(body)
    assert str(caught.value).startswith(f"{field}:")
