"""Fixtures for the records tests: an isolated data folder and database per test, on either backend."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the package is not installed into the venv
    sys.path.insert(0, str(REPO))

import pg_server  # noqa: E402

from xray_desktop.records import Store  # noqa: E402

_DB_NUMBERS = itertools.count(1)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "reads.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with Store.open(db_path) as s:
        yield s


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_server.PgServer]:
    """One real PostgreSQL server for the whole session (fails, never skips, without the binaries)."""
    server = pg_server.start()
    print(f"\n[test PostgreSQL server started in {server.startup_s:.2f} s on port {server.port}]")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg: pg_server.PgServer) -> str:
    """The URL of a new, empty database on the test server (one per test)."""
    import psycopg

    name = f"reads_{next(_DB_NUMBERS)}"
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_location(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """The same test on both backends: an SQLite path, or a PostgreSQL URL."""
    return db_path if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(db_location: str | Path):
    with Store.open(db_location) as s:
        yield s
