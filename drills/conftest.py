"""Drill-suite settings: a fault this machine cannot make skips its drill with the reason."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from fixtures.faults import FaultUnavailable


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Turn ``FaultUnavailable`` (no root for a volume, no proxy on a link) into a skip."""
    try:
        return (yield)
    except FaultUnavailable as exc:
        pytest.skip(str(exc))
