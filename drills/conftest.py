"""Drill-suite settings: a fault this machine cannot make skips its drill with the reason;
a drill that needs what the chosen backend's hosts cannot do is left out of the run."""

from __future__ import annotations

import json
from collections.abc import Generator

import pytest

from fixtures.faults import FaultUnavailable
from fixtures.topology import backend_capabilities

#: The marker of a drill that needs container-level faults (``HostControl``).
NEEDS_MARKER = "needs"
_LEFT_OUT = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    """Declare ``needs(capability)`` (strict markers are on)."""
    config.addinivalue_line(
        "markers",
        "needs(capability): the drill needs hosts that can do this ('containers': killed, "
        "paused, partitioned, limited as whole machines); left out on a backend without it. "
        "Example: @pytest.mark.needs('containers')",
    )


def _backend(config: pytest.Config) -> str:
    """The backend the drills will meet: the given deployment's, else --drill-backend's."""
    given = config.getoption("--drill-topology", default=None)
    if given is not None:
        try:
            return str(json.loads(open(given, encoding="utf-8").read())["backend"])
        except (OSError, ValueError, KeyError, TypeError):
            return "local"
    return str(config.getoption("--drill-backend", default="local"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the drills whose ``needs`` the backend lacks (a skip would fail the suite,
    which counts a skipped drill as not verified); say which, and why, in one line."""
    backend = _backend(config)
    can = backend_capabilities(backend)
    kept, left_out = [], []
    for item in items:
        marker = item.get_closest_marker(NEEDS_MARKER)
        missing = [need for need in (marker.args if marker else ()) if need not in can]
        (left_out if missing else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
        config.stash[_LEFT_OUT] = [
            f"{item.name} (needs {', '.join(item.get_closest_marker(NEEDS_MARKER).args)})"
            for item in left_out
        ]


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """The one line that says which drills this backend cannot host."""
    left_out = config.stash.get(_LEFT_OUT, [])
    if not left_out:
        return []
    return [
        f"sopdrill: left out on backend {_backend(config)} (its hosts share one machine): "
        + "; ".join(left_out)
    ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Turn ``FaultUnavailable`` (no root for a volume, no proxy on a link) into a skip."""
    try:
        return (yield)
    except FaultUnavailable as exc:
        pytest.skip(str(exc))
