"""Store behaviour: round trip, amendments, queries, validation, append-only, tamper evidence."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.domain import Diagnosis
from xray_desktop.records import InvalidReadError, Read, ReadInput, Store, StoreError
from xray_desktop.records.chain import GENESIS
from xray_desktop.records.migrations import LATEST_VERSION


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here that takes ``store`` runs on SQLite and on PostgreSQL (conftest.db_location)."""
    return any_store


@pytest.fixture
def sqlite_store(db_path: Path):
    with Store.open(db_path) as s:
        yield s


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- round trip and basics ----------------------------------------------------------


def test_every_field_round_trips(store: Store) -> None:
    original = make_input(
        final_diagnosis=Diagnosis.OTHER, other_finding="pleural effusion, ünïcödé", ai_label="NORMAL",
        note='line1\nline2 "quoted" =1+1', time_spent_ms=7,
    )  # fmt: skip
    saved = store.add_read(original)
    assert isinstance(saved, Read)
    assert saved.id == 1
    assert saved.prev_hash == GENESIS
    assert len(saved.row_hash) == 64
    assert saved.created_at.tzinfo is not None and saved.created_at.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - saved.created_at).total_seconds()) < 60

    with Store.open(store.path) as again:
        loaded = again.latest_for(original.study_key)
    assert loaded == saved
    for f in dataclasses.fields(ReadInput):
        assert getattr(loaded, f.name) == getattr(original, f.name), f.name
    assert isinstance(loaded.final_diagnosis, Diagnosis)
    assert loaded.to_input() == original


def test_none_probability_and_defaults_round_trip(store: Store) -> None:
    minimal = ReadInput(
        reviewer="r", study_key="k", file_path="f", file_sha256="s", final_diagnosis=Diagnosis.NORMAL, confidence=1
    )
    saved = store.add_read(minimal)
    assert store.latest_for("k") == saved
    assert saved.ai_probability is None and saved.threshold is None and saved.supersedes is None
    assert saved.agreement == "n/a"


def test_diagnosis_given_as_string_is_stored_as_enum(store: Store) -> None:
    saved = store.add_read(make_input(final_diagnosis="NORMAL"))
    assert saved.final_diagnosis is Diagnosis.NORMAL


def test_open_defaults_to_settings_db_path(tmp_path: Path) -> None:
    with Store.open() as s:
        s.add_read(make_input())
        assert s.path == tmp_path / "data" / "reads.sqlite3"
    assert (tmp_path / "data" / "reads.sqlite3").is_file()


def test_pragmas_and_permissions(sqlite_store: Store, db_path: Path) -> None:
    store = sqlite_store
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.schema_version == LATEST_VERSION
    if os.name == "posix":
        assert db_path.stat().st_mode & 0o777 == 0o600


def test_open_creates_parent_dirs_and_create_false_refuses(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "reads.db"
    with pytest.raises(StoreError, match="no reads database"):
        Store.open(nested, create=False)
    assert not nested.exists()
    Store.open(nested).close()
    assert nested.is_file()


def test_closed_store_raises(db_path: Path) -> None:
    s = Store.open(db_path)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.latest_for("x")


def test_connection_belongs_to_opening_thread(sqlite_store: Store) -> None:
    store = sqlite_store
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.latest_for("x")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors and isinstance(errors[0], sqlite3.ProgrammingError)


# -- amendments and queries -----------------------------------------------------------


def test_amend_chain_latest_and_history(store: Store) -> None:
    first = store.add_read(make_input(study_key="A", final_diagnosis=Diagnosis.NORMAL, ai_label="PNEUMONIA"))
    other = store.add_read(make_input(study_key="B"))
    fix = store.add_read(first.to_input(final_diagnosis=Diagnosis.PNEUMONIA, supersedes=first.id, confidence=5))
    fix2 = store.add_read(fix.to_input(final_diagnosis=Diagnosis.INDETERMINATE, supersedes=fix.id))

    assert first.agreement == "disagree" and fix.agreement == "agree" and fix2.agreement == "n/a"
    assert store.latest_for("A") == fix2
    assert store.latest_for("B") == other
    assert store.latest_for("missing") is None
    assert [r.id for r in store.history("A")] == [first.id, fix.id, fix2.id]
    assert store.history("missing") == []
    assert [r.id for r in store.reads()] == [other.id, fix2.id]
    assert [r.id for r in store.reads(latest_only=False)] == [1, 2, 3, 4]
    # chain links
    chain = store.reads(latest_only=False)
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in zip(chain, chain[1:], strict=False))
    assert store.verify().ok and store.verify().checked == 4


def test_reads_filters(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    a1 = store.add_read(make_input(reviewer="a", study_key="s1"))
    b1 = store.add_read(make_input(reviewer="b", study_key="s1"))
    a2 = store.add_read(make_input(reviewer="a", study_key="s2"))
    assert [r.id for r in store.reads(reviewer="a")] == [a1.id, a2.id]
    assert [r.id for r in store.reads(reviewer="b")] == [b1.id]
    assert [r.id for r in store.reads()] == [b1.id, a2.id]  # latest per study across reviewers
    now = datetime.now(UTC)
    assert store.reads(since=now + timedelta(hours=1)) == []
    assert len(store.reads(since=now - timedelta(hours=1), latest_only=False)) == 3
    assert store.reads(until=now - timedelta(hours=1)) == []
    assert [r.id for r in store.reads(until=b1.created_at)] == [b1.id]  # state as of then
    today = datetime.now().date()
    assert len(store.reads(since=today, until=today, latest_only=False)) == 3
    assert store.reads(since=today + timedelta(days=1)) == []
    assert store.reads(until=today - timedelta(days=1)) == []
    assert isinstance(today, date)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"confidence": 0}, "confidence"),
        ({"confidence": 6}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"confidence": 2.5}, "confidence"),
        ({"final_diagnosis": "MAYBE"}, "final_diagnosis"),
        ({"reviewer": "  "}, "reviewer"),
        ({"study_key": ""}, "study_key"),
        ({"ai_probability": 1.5}, "ai_probability"),
        ({"ai_probability": float("nan")}, "ai_probability"),
        ({"threshold": -0.1}, "threshold"),
        ({"ai_label": "pneumonia"}, "ai_label"),
        ({"time_spent_ms": -1}, "time_spent_ms"),
        ({"note": 5}, "note"),
        ({"patient_name": "a\x00b"}, "patient_name"),
        ({"supersedes": 0}, "supersedes"),
    ],
)
def test_validation(store: Store, changes: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidReadError, match=match) as info:
        store.add_read(make_input(**changes))
    assert isinstance(info.value, ValueError) and isinstance(info.value, StoreError)
    assert store.count() == 0


def test_supersedes_must_exist_and_match_study(store: Store) -> None:
    a = store.add_read(make_input(study_key="A"))
    with pytest.raises(InvalidReadError, match="no such read"):
        store.add_read(make_input(study_key="A", supersedes=99))
    with pytest.raises(InvalidReadError, match="different study"):
        store.add_read(make_input(study_key="B", supersedes=a.id))
    assert store.count() == 1


def test_add_reads_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(InvalidReadError):
        store.add_reads([make_input(study_key="A"), make_input(study_key="B", supersedes=1)])
    assert store.count() == 0
    # a read may amend one earlier in the same batch
    done = store.add_reads([make_input(study_key="A"), make_input(study_key="A", supersedes=1)])
    assert [r.id for r in done] == [1, 2] and store.verify().ok


def test_phi_not_in_repr(store: Store) -> None:
    read = store.add_read(make_input(patient_name="SECRET^NAME", file_path="/x/SECRET/y.dcm", note="SECRET"))
    assert "SECRET" not in repr(read) and "SECRET" not in repr(read.to_input())


@pytest.mark.parametrize(
    ("diagnosis", "ai", "expected"),
    [
        (Diagnosis.PNEUMONIA, "PNEUMONIA", "agree"),
        (Diagnosis.PNEUMONIA, "NORMAL", "disagree"),
        (Diagnosis.NORMAL, "NORMAL", "agree"),
        (Diagnosis.NORMAL, "PNEUMONIA", "disagree"),
        (Diagnosis.OTHER, "NORMAL", "n/a"),
        (Diagnosis.OTHER, "PNEUMONIA", "n/a"),
        (Diagnosis.INDETERMINATE, "PNEUMONIA", "n/a"),
        (Diagnosis.PNEUMONIA, "", "n/a"),
    ],
)
def test_agreement(store: Store, diagnosis: Diagnosis, ai: str, expected: str) -> None:
    assert store.add_read(make_input(final_diagnosis=diagnosis, ai_label=ai)).agreement == expected


# -- append-only and tamper evidence --------------------------------------------------


def test_triggers_refuse_update_and_delete(sqlite_store: Store, db_path: Path) -> None:
    store = sqlite_store
    store.add_read(make_input())
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE reads SET final_diagnosis = 'NORMAL'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM reads")
    finally:
        raw.close()
    assert store.latest_for(make_input().study_key).final_diagnosis is Diagnosis.PNEUMONIA
    assert not hasattr(store, "update") and not hasattr(store, "delete")


def _tamper(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    raw = sqlite3.connect(db_path)
    try:
        raw.execute("DROP TRIGGER reads_no_update")
        raw.execute("DROP TRIGGER reads_no_delete")
        raw.execute(sql, params)
        raw.commit()
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("sql", "params", "broken"),
    [
        ("UPDATE reads SET final_diagnosis = 'NORMAL' WHERE id = 3", (), 3),
        ("UPDATE reads SET patient_name = 'X' WHERE id = 1", (), 1),
        ("UPDATE reads SET ai_probability = 0.8125000001 WHERE id = 2", (), 2),
        ("UPDATE reads SET created_at = '2020-01-01T00:00:00.000000+00:00' WHERE id = 4", (), 4),
        ("UPDATE reads SET other_finding = 'x' WHERE id = 2", (), 2),
        ("DELETE FROM reads WHERE id = 2", (), 3),
        ("DELETE FROM reads WHERE id = 1", (), 2),
        ("UPDATE reads SET prev_hash = ? WHERE id = 5", ("0" * 64,), 5),
    ],
)
def test_verify_detects_tampering(db_path: Path, sql: str, params: tuple[object, ...], broken: int) -> None:
    with Store.open(db_path) as s:
        s.add_reads(make_input(study_key=f"k{i}") for i in range(5))
        assert s.verify().ok
    _tamper(db_path, sql, params)
    with Store.open(db_path) as s:
        result = s.verify()
    assert not result.ok
    assert result.first_broken_id == broken
    assert str(broken) in result.message


def test_verify_detects_rehashed_row(db_path: Path) -> None:
    """An attacker who recomputes the edited row's own hash still breaks the next link."""
    from xray_desktop.records.chain import row_hash

    with Store.open(db_path) as s:
        s.add_reads(make_input(study_key=f"k{i}") for i in range(3))
    raw = sqlite3.connect(db_path)
    raw.row_factory = sqlite3.Row
    raw.execute("DROP TRIGGER reads_no_update")
    row = dict(raw.execute("SELECT * FROM reads WHERE id = 2").fetchone())
    row["final_diagnosis"] = "NORMAL"
    raw.execute(
        "UPDATE reads SET final_diagnosis = 'NORMAL', row_hash = ? WHERE id = 2", (row_hash(row["prev_hash"], row),)
    )
    raw.commit()
    raw.close()
    with Store.open(db_path) as s:
        result = s.verify()
    assert (result.ok, result.first_broken_id) == (False, 3)


def test_verify_reads_the_chain_page_by_page(db_location, db_path: Path, monkeypatch) -> None:
    """verify holds one page of rows at a time (psycopg fetches a whole result), across page ends."""
    monkeypatch.setattr(Store, "VERIFY_PAGE", 3)
    with Store.open(db_location) as s:
        s.add_reads(make_input(study_key=f"k{i}") for i in range(10))
        whole = s.verify()
        assert (whole.ok, whole.checked, whole.head_id) == (True, 10, 10)
    if db_location != db_path:
        return  # tampering needs the triggers dropped: done on the SQLite file
    _tamper(db_path, "UPDATE reads SET other_finding = 'x' WHERE id = 8")  # in the third page
    with Store.open(db_path) as s:
        result = s.verify()
    assert (result.ok, result.first_broken_id, result.checked) == (False, 8, 8)


def test_verify_empty(store: Store) -> None:
    result = store.verify()
    assert (result.ok, result.checked, result.first_broken_id) == (True, 0, None)


# -- damaged or foreign files -------------------------------------------------------


def _filled(db_path: Path, n: int = 300) -> None:
    with Store.open(db_path) as s:
        s.add_reads(make_input(study_key=f"k{i}", note="x" * 200) for i in range(n))
    assert not Path(f"{db_path}-wal").exists()  # checkpointed on close: all in the main file


def test_corrupt_page_is_reported_and_file_untouched(db_path: Path) -> None:
    _filled(db_path)
    data = bytearray(db_path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[3 * page + 100 : 5 * page] = os.urandom(2 * page - 100)  # inside the table b-tree
    db_path.write_bytes(bytes(data))
    before = _sha(db_path)
    with pytest.raises(StoreError, match="untouched"):
        Store.open(db_path)
    assert _sha(db_path) == before


def test_corrupt_header_is_reported_and_file_untouched(db_path: Path) -> None:
    _filled(db_path, 5)
    data = bytearray(db_path.read_bytes())
    data[0:16] = b"garbage garbage!"
    db_path.write_bytes(bytes(data))
    before = _sha(db_path)
    with pytest.raises(StoreError, match="not a usable reads database"):
        Store.open(db_path)
    assert _sha(db_path) == before


def test_foreign_sqlite_file_refused(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE other (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not an xray_desktop reads database"):
        Store.open(db_path)


def test_newer_schema_refused(db_path: Path) -> None:
    Store.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(db_path)


def test_folder_path_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder"):
        Store.open(tmp_path)


def test_busy_database_gives_store_error(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xray_desktop.records.store as store_mod

    with Store.open(db_path) as s:
        locker = sqlite3.connect(db_path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            s.conn.execute("PRAGMA busy_timeout = 100")
            with pytest.raises(StoreError, match="busy"):
                s.add_read(make_input())
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert s.add_read(make_input()).id == 1  # and it recovers
    assert store_mod.BUSY_TIMEOUT_S >= 5


class _RacingConn:
    """Answers ``PRAGMA journal_mode = WAL`` with given errors first, as a racing process makes SQLite do."""

    def __init__(self, errors: list[sqlite3.OperationalError]) -> None:
        self.errors, self.calls = list(errors), 0

    def execute(self, sql: str):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self

    def fetchone(self):
        return ("wal",)


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    return exc


def test_switching_to_wal_retries_while_another_process_holds_the_lock(monkeypatch):
    from xray_desktop.records import store as store_module

    busy = [_sqlite_error("database is locked", sqlite3.SQLITE_BUSY) for _ in range(3)]
    conn = _RacingConn(busy)
    assert store_module._enable_wal(conn) == "wal" and conn.calls == 4

    # Anything but BUSY is not retried.
    conn = _RacingConn([_sqlite_error("disk I/O error", sqlite3.SQLITE_IOERR)])
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store_module._enable_wal(conn)
    assert conn.calls == 1

    # BUSY for longer than the busy timeout: the error comes through (Store.open turns it into
    # its "database is busy" StoreError).
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    conn = _RacingConn([_sqlite_error("database is locked", sqlite3.SQLITE_BUSY) for _ in range(1000)])
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store_module._enable_wal(conn)
    assert 2 <= conn.calls < 20


def test_reads_after_shows_what_another_writer_confirmed(store: Store) -> None:
    """The polling primitive for several workstations, on both backends."""
    first = store.add_read(make_input(study_key="A"))
    assert store.reads_after(0) == [first] and store.reads_after(first.id) == []
    with Store.open(store.path) as other:  # another workstation
        theirs = other.add_read(make_input(study_key="B", reviewer="dr_b"))
    assert store.reads_after(first.id) == [theirs]
