"""The column registry (records/columns.py) against everything that lists read columns (#16.3)."""

from __future__ import annotations

import sqlite3
import typing
from dataclasses import fields
from pathlib import Path

from records_helpers import make_input, v3_database

from xray_desktop.records import Store, chain, deid, export, migrations
from xray_desktop.records import columns as cols
from xray_desktop.records.reads import _TEXT_FIELDS, PHI_FIELDS, ReadInput
from xray_desktop.records.store import _ALL_COLUMNS


def _table(conn: sqlite3.Connection) -> dict[str, tuple[str, int, str | None]]:
    """name -> (declared type, not null, default SQL) of the reads table."""
    return {r[1]: (r[2], r[3], r[4]) for r in conn.execute("PRAGMA table_info(reads)")}


def test_each_migration_builds_exactly_the_registry_columns_of_its_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "r.sqlite3", isolation_level=None)
    for version, step in enumerate(migrations.MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        step(conn)
        conn.execute("COMMIT")
        table = _table(conn)
        expected = cols.at_version(version)
        assert set(table) == set(cols.names(expected)), f"schema v{version}"
        for c in expected:
            declared, notnull, default = table[c.name]
            assert declared == c.sql, c.name
            assert bool(notnull) == (not c.nullable and c.name != "id"), c.name  # id: INTEGER PRIMARY KEY
            if c.since and c.since > 1:  # older rows read back the SQL default: the chain's default
                assert default == repr(c.default), c.name
    assert set(cols.names(cols.at_version(migrations.LATEST_VERSION))) == set(cols.names(cols.STORED))
    conn.close()


def test_read_input_fields_and_types_are_the_registry_input_columns() -> None:
    hints = typing.get_type_hints(ReadInput)
    assert {f.name for f in fields(ReadInput)} == set(cols.names(cols.INPUT))
    for c in cols.INPUT:
        assert hints[c.name] == (c.type | None if c.nullable else c.type), c.name
    assert set(_ALL_COLUMNS) == set(cols.names(cols.STORED)) and len(_ALL_COLUMNS) == len(cols.STORED)


def test_derived_lists_match_the_registry() -> None:
    assert set(_TEXT_FIELDS) == {c.name for c in cols.INPUT if c.type is str}
    assert "final_diagnosis" not in _TEXT_FIELDS and "other_finding" in _TEXT_FIELDS
    assert PHI_FIELDS == ("patient_id", "patient_name", "birth_date", "study_date", "accession")
    hashed = {c.name for c in cols.STORED} - {"prev_hash", "row_hash"}
    assert set(chain.CORE_FIELDS) | set(chain.LATE_FIELDS) == hashed
    assert chain.LATE_FIELDS == {"other_finding": "", "image_keys": "", "image_sha256s": "", "role": ""}
    assert export.READS_COLUMNS[-2:] == ("prev_hash", "row_hash") and "agreement" in export.READS_COLUMNS
    assert set(export.DEID_DROPPED) == {"patient_id", "patient_name", "birth_date", "accession", "file_path",
                                        "file_sha256", "note", "other_finding", "prev_hash", "row_hash",
                                        "image_keys", "image_sha256s"}


def test_every_column_that_can_identify_the_patient_is_changed_by_deidentification() -> None:
    for c in cols.COLUMNS:
        if c.phi is not cols.Phi.NO and c.exported:
            assert c.deid is not cols.Deid.KEEP, c.name
        if c.deid is cols.Deid.CATEGORY:
            assert c.name in deid.CATEGORISERS, c.name


def test_hashes_of_reads_written_by_the_old_code_still_verify(db_path: Path) -> None:
    """Rows written by main 7efa367 (before the registry) verify, and hash alike row by row."""
    v3_database(db_path)
    raw = sqlite3.connect(db_path)
    raw.row_factory = sqlite3.Row
    prev = chain.GENESIS
    for row in raw.execute("SELECT * FROM reads ORDER BY id"):
        assert chain.row_hash(prev, row) == row["row_hash"], row["id"]
        prev = row["row_hash"]
    raw.close()
    with Store.open(db_path) as s:  # migrated to the latest schema on the way
        assert s.schema_version == migrations.LATEST_VERSION
        result = s.verify()
        assert result.ok and result.checked == 4 and s.get(1).role == ""
        assert s.get(2).other_finding == "pleural effusion ½" and s.get(2).ai_probability is None


def test_deid_values_changes_exactly_the_registry_columns(store: Store) -> None:
    read = store.add_read(make_input(gate_result="rejected: body part 'SKULL' DOE"))
    values = deid.deid_values(read, deid.Pseudonymizer(b"s" * deid.SALT_BYTES))
    assert set(values) == {c.name for c in cols.COLUMNS if c.deid not in (cols.Deid.KEEP, cols.Deid.DROP)}
    assert values["created_at"] == str(read.created_at.year) and values["study_date"] == "2024"
    assert values["gate_result"] == "rejected: body part" and values["study_key"].startswith("S-")
