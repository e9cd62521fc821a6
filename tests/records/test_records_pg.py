"""Department mode on a real PostgreSQL server: backend choice, append-only, serial chain, errors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pg_server
import psycopg
import pytest
from records_helpers import make_input
from test_records_durability import _kill_loop, _two_writers

from xray_desktop import settings
from xray_desktop.records import Store, StoreError, columns, dialect, pgconn
from xray_desktop.records.migrations import LATEST_VERSION

# -- which backend -----------------------------------------------------------------------------


def test_url_setting_opens_postgresql_and_never_a_local_folder(pg_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XRAY_DESKTOP_DB", pg_url)
    assert settings.db_location() == pg_url
    with Store.open() as s:
        s.add_read(make_input())
        assert s.dialect is dialect.POSTGRES and s.path == pg_url
    with Store.open(pg_url) as s:
        assert s.count() == 1
    assert not list(tmp_path.rglob("postgres*")), "a URL made a local file or folder"


@pytest.mark.parametrize("value", ["postgresql://nobody@127.0.0.1:1/x", "postgres://nobody@127.0.0.1:1/x"])
def test_unreachable_url_is_one_line_and_creates_nothing(value: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The old bug: XRAY_DESKTOP_DB=postgresql://... made a local SQLite file under "postgresql:"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XRAY_DESKTOP_DB", value)
    with pytest.raises(StoreError, match="cannot reach the reads database server") as info:
        Store.open()
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "match"), [
    (Path("postgresql://u@h/db"), "malformed"),  # Path() already ate a slash
    ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
    ("sqlite:///tmp/x.db", "unsupported database URL scheme"),
])  # fmt: skip
def test_other_urls_are_refused(value: object, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=match):
        Store.open(value)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_plain_path_still_means_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRAY_DESKTOP_DB", str(tmp_path / "r.sqlite3"))
    assert settings.db_location() == tmp_path / "r.sqlite3"
    with Store.open() as s:
        assert s.dialect is dialect.SQLITE
    assert dialect.parse_location("C:/data/reads.db") == Path("C:/data/reads.db")  # a drive, not a scheme


def test_password_is_never_in_messages_or_redacted_names(pg: pg_server.PgServer) -> None:
    with pytest.raises(StoreError, match="refused the login") as info:
        Store.open(pg.url(password="wrong-pw-123"))
    assert "wrong-pw-123" not in str(info.value) and "\n" not in str(info.value)
    assert dialect.redact("postgresql://u:secret@h:5/d") == "postgresql://u:***@h:5/d"


def test_missing_database_and_missing_schema(pg: pg_server.PgServer, pg_url: str) -> None:
    with pytest.raises(StoreError, match="no such database"):
        Store.open(pg.url("no_such_db"))
    with pytest.raises(StoreError, match="db init"):
        Store.open(pg_url, create=False)
    Store.open(pg_url).close()
    Store.open(pg_url, create=False).close()


# -- schema from the registry, versions --------------------------------------------------------


def _raw(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def _table_columns(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                       "WHERE table_name = 'reads' ORDER BY ordinal_position")]


def test_schema_is_the_registry(pg_url: str) -> None:
    with Store.open(pg_url) as s:
        assert s.schema_version == LATEST_VERSION
    with _raw(pg_url) as conn:
        cols = conn.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                            "WHERE table_name = 'reads' ORDER BY ordinal_position").fetchall()
    assert [c[0] for c in cols] == [c.name for c in sorted(columns.STORED, key=lambda c: c.since or 0)]
    types = {name: (kind, nullable) for name, kind, nullable in cols}
    assert types["ai_probability"] == ("double precision", "YES")
    assert types["id"][0] == "bigint" and types["created_at"] == ("text", "NO")


def test_a_new_registry_column_flows_into_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A column declared with ``since`` = a new version is added by the generic migration."""
    with Store.open(pg_url) as s:
        s.add_read(make_input())
    new = columns.Column("view_position", str, "TEXT", columns.Origin.INPUT, columns.Phi.NO, True, True,
                         columns.Deid.KEEP, LATEST_VERSION + 1, default="")
    monkeypatch.setattr(dialect, "STORED", (*columns.STORED, new))
    monkeypatch.setattr(pgconn, "LATEST_VERSION", LATEST_VERSION + 1)
    conn = pgconn.open_connection(pg_url, create=False)
    try:
        assert pgconn.schema_version(conn) == LATEST_VERSION + 1
        assert conn.execute("SELECT view_position FROM reads").fetchone()[0] == ""
    finally:
        conn.close()


def test_newer_schema_and_foreign_tables_refused(pg_url: str, pg: pg_server.PgServer) -> None:
    Store.open(pg_url).close()
    with _raw(pg_url) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(StoreError, match="newer than this program"):
        Store.open(pg_url)
    with _raw(pg.url()) as conn:
        conn.execute("DROP DATABASE IF EXISTS foreign_db")
        conn.execute("CREATE DATABASE foreign_db")
    with _raw(pg.url("foreign_db")) as conn:
        conn.execute("CREATE TABLE reads (x int)")
    with pytest.raises(StoreError, match="not an xray_desktop reads database"):
        Store.open(pg.url("foreign_db"))


# -- append-only ---------------------------------------------------------------------------------


def test_database_refuses_update_delete_truncate_and_out_of_chain_inserts(pg_url: str) -> None:
    with Store.open(pg_url) as s:
        read = s.add_read(make_input())
    with _raw(pg_url) as conn:  # even the superuser goes through the triggers
        for sql in ("UPDATE reads SET final_diagnosis = 'NORMAL'", "DELETE FROM reads", "TRUNCATE reads"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                conn.execute(sql)
        with pytest.raises(psycopg.errors.RestrictViolation, match="must follow the newest"):
            conn.execute("INSERT INTO reads SELECT * FROM reads")  # same id again
        with pytest.raises(psycopg.Error, match="append-only"):  # an upsert's UPDATE fires the trigger
            # id and prev_hash make it the next link; its row_hash conflicts with read 1's
            picks = [{"id": "id + 1", "prev_hash": "row_hash"}.get(c, c) for c in _table_columns(conn)]
            conn.execute(f"INSERT INTO reads SELECT {', '.join(picks)} FROM reads "
                         "ON CONFLICT (row_hash) DO UPDATE SET note = 'x'")
    with Store.open(pg_url) as s:
        assert s.get(read.id) == read and s.count() == 1 and s.verify().ok


def test_least_privilege_role_reads_and_appends_only(pg: pg_server.PgServer, pg_url: str) -> None:
    """The README's role recipe: the owner creates the schema; the application's role may only SELECT/INSERT."""
    Store.open(pg_url).close()  # as the owner: the schema
    dbname = pg_url.rsplit("/", 1)[1]
    with _raw(pg_url) as conn:
        conn.execute("DROP ROLE IF EXISTS xray_app")
        conn.execute(f"CREATE ROLE xray_app LOGIN PASSWORD '{pg_server.PASSWORD}'")
        for grant in dialect.pg_grants("xray_app", dbname):
            conn.execute(grant)
    app_url = pg.url(dbname, user="xray_app")
    with Store.open(app_url) as s:
        s.add_read(make_input())
        assert s.verify().ok
    with _raw(app_url) as conn:
        for sql in ("CREATE TABLE x (y int)", "UPDATE reads SET note = 'x'", "DELETE FROM reads",
                    "ALTER TABLE reads DISABLE TRIGGER USER",
                    "DROP TRIGGER reads_no_update ON reads", "UPDATE schema_version SET version = 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_an_upgrade_the_application_role_cannot_run_names_db_init(pg: pg_server.PgServer, pg_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(pg_url).close()
    dbname = pg_url.rsplit("/", 1)[1]
    with _raw(pg_url) as conn:
        conn.execute("DROP ROLE IF EXISTS xray_old")
        conn.execute(f"CREATE ROLE xray_old LOGIN PASSWORD '{pg_server.PASSWORD}'")
        for grant in dialect.pg_grants("xray_old", dbname):
            conn.execute(grant)
    new = columns.Column("view_position", str, "TEXT", columns.Origin.INPUT, columns.Phi.NO, True, True,
                         columns.Deid.KEEP, LATEST_VERSION + 1, default="")
    monkeypatch.setattr(dialect, "STORED", (*columns.STORED, new))
    monkeypatch.setattr(pgconn, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StoreError, match=f"schema v{LATEST_VERSION}, this program needs .*db init"):
        pgconn.open_connection(pg.url(dbname, user="xray_old"), create=True)


def test_verify_finds_what_an_owner_changed_behind_the_triggers(pg_url: str) -> None:
    with Store.open(pg_url) as s:
        s.add_reads(make_input(study_key=f"k{i}") for i in range(4))
    with _raw(pg_url) as conn:
        conn.execute("ALTER TABLE reads DISABLE TRIGGER USER")
        conn.execute("UPDATE reads SET final_diagnosis = 'NORMAL' WHERE id = 3")
    with Store.open(pg_url) as s:
        result = s.verify()
    assert (result.ok, result.first_broken_id) == (False, 3)


# -- several writers ------------------------------------------------------------------------------


def test_two_writer_threads_both_succeed_in_one_chain(pg_url: str) -> None:
    Store.open(pg_url).close()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(name: str) -> None:
        try:
            with Store.open(pg_url) as s:
                barrier.wait()
                for i in range(100):
                    s.add_read(make_input(reviewer=name, study_key=f"{name}{i}"))
        except BaseException as exc:  # noqa: BLE001 -- asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(pg_url) as s:
        reads = s.reads(latest_only=False)
        assert [r.id for r in reads] == list(range(1, 201))
        assert {r.reviewer for r in reads} == {"A", "B"}
        assert s.verify().ok
        # The defined order: id order is commit order, and created_at follows it.
        assert [r.created_at for r in reads] == sorted(r.created_at for r in reads)


def test_two_readers_confirming_the_same_study_at_once_get_two_reads(pg_url: str) -> None:
    Store.open(pg_url).close()
    stores = [Store.open(pg_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    saved: list[int] = []

    def confirm(s: Store, name: str) -> None:
        barrier.wait()
        saved.append(s.add_read(make_input(reviewer=name)).id)

    threads = [threading.Thread(target=confirm, args=(s, n)) for s, n in zip(stores, ("A", "B"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(saved) == [1, 2]
    with Store.open(pg_url) as s:
        assert [r.reviewer for r in s.history(make_input().study_key)] in (["A", "B"], ["B", "A"])
        assert s.verify().ok


def test_two_writer_processes(pg_url: str) -> None:
    Store.open(pg_url).close()
    _two_writers(pg_url, 300)


@pytest.mark.skipif(not hasattr(os, "kill"), reason="POSIX")
def test_kill_9_while_writing_postgresql(pg_url: str) -> None:
    Store.open(pg_url).close()
    _kill_loop(pg_url, kills=10, seed=5)


# -- losing the server ------------------------------------------------------------------------------


def test_a_dropped_connection_fails_one_confirm_cleanly_then_recovers(pg: pg_server.PgServer, pg_url: str) -> None:
    with Store.open(pg_url) as s:
        s.add_read(make_input(study_key="before"))
        with _raw(pg.url()) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'xray-desktop' AND datname = %s", [pg_url.rsplit("/", 1)[1]])
        with pytest.raises(StoreError, match="reads database") as info:
            s.add_read(make_input(study_key="lost"))
        assert "\n" not in str(info.value)
        s.add_read(make_input(study_key="after"))  # reconnected by itself
        assert [r.study_key for r in s.reads(latest_only=False)] == ["before", "after"]
        assert s.verify().ok


def test_session_anchor_of_a_postgresql_database(pg: pg_server.PgServer, pg_url: str) -> None:
    """The GUI's start/end-of-session anchor works on a URL, named without the password."""
    from xray_desktop.records.anchor import check_and_advance, session_anchor_path

    with Store.open(pg_url) as s:
        s.add_read(make_input())
        assert check_and_advance(s).ok and check_and_advance(s).ok
    path = session_anchor_path(pg_url)
    assert path.is_file() and path.parent == settings.data_dir() / "anchors"
    assert session_anchor_path(pg_url.replace(pg_server.PASSWORD, "other")) == path
