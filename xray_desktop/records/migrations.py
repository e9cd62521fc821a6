"""Numbered schema migrations; the schema version lives in ``PRAGMA user_version``.

``MIGRATIONS[i]`` takes a database at version ``i`` to version ``i + 1``. Each runs in its
own ``BEGIN IMMEDIATE`` transaction together with the ``user_version`` bump (SQLite DDL
is transactional), so a crash mid-migration leaves the previous version intact, and two
processes opening an old database at once migrate it exactly once.

Never edit a released migration: add a new one. A column a migration adds must also be
declared in ``columns.COLUMNS`` with ``since`` = the new version and the SQL default as its
``default`` (the chain then hashes it only when not the default, so rows written before it
keep verifying); ``tests/records/test_records_columns.py`` checks the table against it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger(__name__)

# v1: the reads table, append-only triggers, the per-study index.
V1_SQL = """
CREATE TABLE reads (
    id              INTEGER PRIMARY KEY,
    created_at      TEXT    NOT NULL,              -- ISO-8601 UTC, microseconds
    reviewer        TEXT    NOT NULL,
    study_key       TEXT    NOT NULL,              -- SOP Instance UID, else file SHA-256
    file_sha256     TEXT    NOT NULL,
    final_diagnosis TEXT    NOT NULL
        CHECK (final_diagnosis IN ('PNEUMONIA', 'NORMAL', 'INDETERMINATE', 'OTHER')),
    confidence      INTEGER NOT NULL CHECK (confidence BETWEEN 1 AND 5),
    -- PHI: kept together; never logged; dropped by the de-identified export.
    file_path       TEXT    NOT NULL,              -- paths often contain patient names
    patient_id      TEXT    NOT NULL DEFAULT '',
    patient_name    TEXT    NOT NULL DEFAULT '',
    birth_date      TEXT    NOT NULL DEFAULT '',
    study_date      TEXT    NOT NULL DEFAULT '',
    accession       TEXT    NOT NULL DEFAULT '',
    -- What the AI said when the reader confirmed.
    ai_probability  REAL,
    threshold       REAL,
    operating_point TEXT    NOT NULL DEFAULT '',
    ai_label        TEXT    NOT NULL DEFAULT '' CHECK (ai_label IN ('PNEUMONIA', 'NORMAL', '')),
    model_version   TEXT    NOT NULL DEFAULT '',
    model_sha256    TEXT    NOT NULL DEFAULT '',
    gate_result     TEXT    NOT NULL DEFAULT '',
    note            TEXT    NOT NULL DEFAULT '',
    time_spent_ms   INTEGER NOT NULL DEFAULT 0,
    supersedes      INTEGER REFERENCES reads(id),
    -- Tamper evidence: sha256(prev_hash + canonical content), see chain.py.
    prev_hash       TEXT    NOT NULL,
    row_hash        TEXT    NOT NULL UNIQUE
);
CREATE INDEX reads_by_study ON reads(study_key, id);
CREATE TRIGGER reads_no_update BEFORE UPDATE ON reads
BEGIN
    SELECT RAISE(ABORT, 'reads are append-only: add an amending read instead');
END;
CREATE TRIGGER reads_no_delete BEFORE DELETE ON reads
BEGIN
    SELECT RAISE(ABORT, 'reads are append-only: they cannot be deleted');
END;
"""

# v2: free text for OTHER findings; an index for "my reads since..." and exports.
V2_SQL = """
ALTER TABLE reads ADD COLUMN other_finding TEXT NOT NULL DEFAULT '';
CREATE INDEX reads_by_reviewer_time ON reads(reviewer, created_at);
"""


# v3: INSERT is append-only too. REPLACE, INSERT OR REPLACE and UPSERT resolve a conflict
# by deleting the old row without firing the delete trigger, so a new row must carry the
# next id, link to the newest row's hash, and have a hash not already in the table.
V3_SQL = f"""
CREATE TRIGGER reads_append_only BEFORE INSERT ON reads
WHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM reads)
  OR NEW.prev_hash IS NOT coalesce((SELECT row_hash FROM reads ORDER BY id DESC LIMIT 1), '{"0" * 64}')
  OR EXISTS (SELECT 1 FROM reads WHERE row_hash = NEW.row_hash)
BEGIN
    SELECT RAISE(ABORT, 'reads are append-only: a new read must follow the newest one');
END;
"""


# v4: a read may be of a study (issue 14): the keys and file SHA-256s of all its images.
# Its study_key is then the StudyInstanceUID (or the single file's SHA-256); reads of one
# file keep both columns empty and their old keys, so they still resolve.
V4_SQL = """
ALTER TABLE reads ADD COLUMN image_keys TEXT NOT NULL DEFAULT '';
ALTER TABLE reads ADD COLUMN image_sha256s TEXT NOT NULL DEFAULT '';
"""


def _v1(conn: sqlite3.Connection) -> None:
    _run_script(conn, V1_SQL)


def _v2(conn: sqlite3.Connection) -> None:
    _run_script(conn, V2_SQL)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction first; run statement by statement.
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError("migration script ends with an incomplete statement")


def _v3(conn: sqlite3.Connection) -> None:
    _run_script(conn, V3_SQL)


def _v4(conn: sqlite3.Connection) -> None:
    _run_script(conn, V4_SQL)


# v5: the role of a read in read-first mode (see columns.py); '' for every older read.
V5_SQL = """
ALTER TABLE reads ADD COLUMN role TEXT NOT NULL DEFAULT '';
"""


def _v5(conn: sqlite3.Connection) -> None:
    _run_script(conn, V5_SQL)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
LATEST_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the database header."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database to ``LATEST_VERSION``; return the version found first.

    ``conn`` must be in autocommit mode (isolation_level=None). Raises ValueError when
    the database is newer than this code (the caller turns it into a StoreError).
    """
    found = user_version(conn)
    if found > LATEST_VERSION:
        raise ValueError(
            f"the reads database has schema version {found}, newer than this program "
            f"understands ({LATEST_VERSION}); please update xray_desktop"
        )
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = user_version(conn)
            if version >= LATEST_VERSION:
                conn.execute("COMMIT")
                return found
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        log.info("reads database migrated from schema v%d to v%d", version, version + 1)
