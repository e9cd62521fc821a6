"""The throwaway PostgreSQL server the department-mode tests run against is real."""

from __future__ import annotations

import pg_server
import psycopg
import pytest


def test_server_is_real_and_requires_the_password(pg: pg_server.PgServer) -> None:
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert int(version) >= 120000
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.url(password="wrong")).close()
    assert pg.startup_s < 60


def test_missing_binaries_fail_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(pg_server, "_SEARCH", [])
    with pytest.raises(RuntimeError, match="apt-get install postgresql"):
        pg_server.find_bin("initdb")
