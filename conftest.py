"""This repository's own test settings; the sopdrill plugin comes via its pytest11 entry point."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from reports.signing import HOME_ENV

# "ci" keeps property tests thorough but bounded; "dev" is quicker for a local loop.
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True, scope="session")
def private_sopdrill_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' own SOPDRILL_HOME: no test makes or uses the user's real signing key.

    Set in os.environ (not monkeypatch) so that the sopdrill commands tests start as
    subprocesses see it too.
    """
    before = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(tmp_path_factory.mktemp("sopdrill-home"))
    yield
    if before is None:
        os.environ.pop(HOME_ENV, None)
    else:
        os.environ[HOME_ENV] = before
