"""Schema migrations, and the hash-chain format pinned by an independent implementation."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.domain import Diagnosis
from xray_desktop.records import Store, StoreError
from xray_desktop.records import migrations as mig

# The v1 schema as released, written out by hand (not taken from migrations.py), so a
# careless edit of the v1 migration cannot make this test pass by accident.
V1_BY_HAND = """
CREATE TABLE reads (
    id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, reviewer TEXT NOT NULL,
    study_key TEXT NOT NULL, file_sha256 TEXT NOT NULL,
    final_diagnosis TEXT NOT NULL
        CHECK (final_diagnosis IN ('PNEUMONIA', 'NORMAL', 'INDETERMINATE', 'OTHER')),
    confidence INTEGER NOT NULL CHECK (confidence BETWEEN 1 AND 5),
    file_path TEXT NOT NULL, patient_id TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '', birth_date TEXT NOT NULL DEFAULT '',
    study_date TEXT NOT NULL DEFAULT '', accession TEXT NOT NULL DEFAULT '',
    ai_probability REAL, threshold REAL, operating_point TEXT NOT NULL DEFAULT '',
    ai_label TEXT NOT NULL DEFAULT '' CHECK (ai_label IN ('PNEUMONIA', 'NORMAL', '')),
    model_version TEXT NOT NULL DEFAULT '', model_sha256 TEXT NOT NULL DEFAULT '',
    gate_result TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
    time_spent_ms INTEGER NOT NULL DEFAULT 0, supersedes INTEGER REFERENCES reads(id),
    prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL UNIQUE
);
CREATE INDEX reads_by_study ON reads(study_key, id);
CREATE TRIGGER reads_no_update BEFORE UPDATE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only: add an amending read instead'); END;
CREATE TRIGGER reads_no_delete BEFORE DELETE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only: they cannot be deleted'); END;
PRAGMA user_version = 1;
"""


def _v1_hash(prev: str, row: dict[str, object]) -> str:
    """The documented v1 chain rule: sha256(prev + sorted compact UTF-8 JSON of content)."""
    body = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def _v1_rows() -> list[dict[str, object]]:
    base = {
        "reviewer": "dr_old", "file_path": "/old/p.dcm", "file_sha256": "ef" * 32,
        "confidence": 3, "patient_id": "P9", "patient_name": "OLD^PATIENT", "birth_date": "19700101",
        "study_date": "20230101", "accession": "A9", "ai_probability": 0.25, "threshold": 0.5,
        "operating_point": "default", "ai_label": "NORMAL", "model_version": "v0", "model_sha256": "aa" * 32,
        "gate_result": "accepted", "note": "é note", "time_spent_ms": 1000,
    }  # fmt: skip
    return [
        {**base, "id": 1, "created_at": "2023-01-02T03:04:05.000006+00:00", "study_key": "S1",
         "final_diagnosis": "NORMAL", "supersedes": None},
        {**base, "id": 2, "created_at": "2023-01-02T03:05:00.000000+00:00", "study_key": "S1",
         "final_diagnosis": "PNEUMONIA", "supersedes": 1},
        {**base, "id": 3, "created_at": "2023-01-03T00:00:00.000000+00:00", "study_key": "S2",
         "final_diagnosis": "INDETERMINATE", "supersedes": None, "ai_probability": None},
    ]  # fmt: skip


def build_v1(path: Path) -> list[dict[str, object]]:
    """A v1 database with three chained reads, made without any project code."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_BY_HAND)
    prev = "0" * 64
    rows = _v1_rows()
    for row in rows:
        h = _v1_hash(prev, row)
        cols = [*row, "prev_hash", "row_hash"]
        conn.execute(
            f"INSERT INTO reads ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [*row.values(), prev, h],
        )
        prev = h
    conn.commit()
    conn.close()
    return rows


def test_migrates_hand_built_v1(db_path: Path) -> None:
    rows = build_v1(db_path)
    with Store.open(db_path) as s:
        assert s.schema_version == 5 == mig.LATEST_VERSION
        assert s.verify().ok and s.verify().checked == 3  # old hashes still valid
        hist = s.history("S1")
        assert [r.id for r in hist] == [1, 2]
        assert hist[1].supersedes == 1 and hist[1].final_diagnosis is Diagnosis.PNEUMONIA
        assert hist[0].patient_name == rows[0]["patient_name"] and hist[0].note == "é note"
        assert all(r.other_finding == "" and r.role == "" for r in hist)
        assert s.latest_for("S2").ai_probability is None
        # v2 features work on the migrated file
        new = s.add_read(make_input(study_key="S2", final_diagnosis=Diagnosis.OTHER, other_finding="effusion",
                                    supersedes=3))  # fmt: skip
        assert new.id == 4 and s.latest_for("S2").other_finding == "effusion"
        assert s.verify().ok
        indexes = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "reads_by_reviewer_time" in indexes
        triggers = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert triggers == {"reads_no_update", "reads_no_delete", "reads_append_only"}
    with Store.open(db_path) as s:  # re-opening is a no-op
        assert s.schema_version == mig.LATEST_VERSION and s.count() == 4


def test_fresh_database_matches_migrated_schema(tmp_path: Path) -> None:
    build_v1(tmp_path / "old.db")
    Store.open(tmp_path / "old.db").close()
    Store.open(tmp_path / "new.db").close()

    def columns(p: Path) -> list[tuple[str, str, int]]:
        conn = sqlite3.connect(p)
        try:
            return [(r[1], r[2], r[3]) for r in conn.execute("PRAGMA table_info(reads)")]
        finally:
            conn.close()

    assert columns(tmp_path / "old.db") == columns(tmp_path / "new.db")


def test_chain_format_is_pinned(store: Store) -> None:
    """A read written today hashes exactly as documented (and as v1 hashed)."""
    read = store.add_read(make_input())
    row = {
        "id": read.id, "created_at": read.created_at.isoformat(timespec="microseconds"),
        **{f: getattr(read, f) for f in (
            "reviewer", "study_key", "file_path", "file_sha256", "confidence", "patient_id", "patient_name",
            "birth_date", "study_date", "accession", "ai_probability", "threshold", "operating_point",
            "ai_label", "model_version", "model_sha256", "gate_result", "note", "time_spent_ms", "supersedes")},
        "final_diagnosis": read.final_diagnosis.value,
    }  # fmt: skip
    assert read.row_hash == _v1_hash(read.prev_hash, row)
    other = store.add_read(make_input(final_diagnosis=Diagnosis.OTHER, other_finding="nodule"))
    assert other.row_hash != _v1_hash(other.prev_hash, {**row, "id": other.id})  # late field is covered


def test_failed_migration_rolls_back(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_v1(db_path)

    def broken_v2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE reads ADD COLUMN other_finding TEXT NOT NULL DEFAULT ''")
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(mig, "MIGRATIONS", [mig.MIGRATIONS[0], broken_v2])
    with pytest.raises(StoreError, match="simulated"):
        Store.open(db_path)
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "other_finding" not in {r[1] for r in conn.execute("PRAGMA table_info(reads)")}
    finally:
        conn.close()
    monkeypatch.undo()
    with Store.open(db_path) as s:
        assert s.schema_version == mig.LATEST_VERSION and s.verify().ok


def test_migration_list_is_numbered() -> None:
    assert mig.LATEST_VERSION == len(mig.MIGRATIONS) >= 2
