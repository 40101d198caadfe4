"""The ``sop`` package: its public names resolve, and importing it loads none of them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import sop


@pytest.mark.parametrize("name", sop.__all__)
def test_each_public_name_is_the_object_of_its_home_module(name: str) -> None:
    home = importlib.import_module(sop._HOMES[name])
    assert getattr(sop, name) is getattr(home, name)


def test_the_public_names_and_their_homes_are_the_same_list() -> None:
    assert sorted(sop.__all__) == sorted(sop._HOMES)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'no_such_name'"):
        _ = sop.no_such_name  # type: ignore[attr-defined]


def test_importing_sop_imports_none_of_its_modules() -> None:
    # Each SUT service imports sop at start; the modules it needs come one by one.
    code = "import sys, sop; print(sorted(m for m in sys.modules if m.startswith('sop.')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
