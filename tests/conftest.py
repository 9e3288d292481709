"""Shared fixtures: the hand-made bundles in tests/data (see tests/data/tiny/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scenarios.bundle import Scenario, load_bundle

DATA_DIR = Path(__file__).parent / "data"

# the doctests of every module are collected (--doctest-modules); the conftest files hold
# none and share a module name, so they are loaded as plugins only
collect_ignore_glob = ["conftest.py", "*/conftest.py"]


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    """The tiny bundle's folder: a hub, two stations, seven villages, a 3 t bridge beside a
    dam road, a lane only tricycles may use, a washed-out road and a bulk shipper; every
    distance can be worked out by hand. Read-only: use ``tiny_copy`` to change anything."""
    return DATA_DIR / "tiny"


@pytest.fixture
def tiny_copy(tiny_path: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle, for tests that break or rewrite one file."""
    return Path(shutil.copytree(tiny_path, tmp_path / "tiny"))


@pytest.fixture(scope="session")
def tiny(tiny_path: Path) -> Scenario:
    """The tiny bundle loaded once. Scenarios are immutable and matrices read-only, so
    tests share it (and its cached road index) safely."""
    return load_bundle(tiny_path)
