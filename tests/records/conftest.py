"""Fixtures for the records tests: an isolated data folder and database per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the package is not installed into the venv
    sys.path.insert(0, str(REPO))

from xray_desktop.records import Store  # noqa: E402


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "reads.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with Store.open(db_path) as s:
        yield s
