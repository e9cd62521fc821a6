"""The reads database: an append-only, hash-chained SQLite table.

Durability and concurrency choices, and why:

* WAL journal + ``synchronous=FULL``: a confirmed read survives a crash or power cut
  the moment ``add_read`` returns, and readers never block the writer.
* every write is ``BEGIN IMMEDIATE``: the write lock is taken before the chain tip is
  read, so two processes appending at once still form a single, unbroken chain, and
  nobody hits the "cannot upgrade read lock" deadlock that plain BEGIN can give.
* ``busy_timeout`` of 10 s: a concurrent writer waits instead of failing.
* ``PRAGMA integrity_check`` before anything else at open: a damaged file is reported
  (StoreError) and left exactly as it was, for a backup restore or forensics; this code
  never "repairs" a database.
* UPDATE, DELETE and any INSERT that is not the next link (REPLACE, INSERT OR REPLACE,
  UPSERT) are refused by triggers, and there is no API for them. Triggers stop accidents
  and other programs' mistakes, not someone who can write the file: see ``verify``.

A Store is used from the thread that opened it (sqlite3's default check), which for the
GUI is the main thread; other processes may write to the same file at the same time.

Department mode: ``Store.open("postgresql://...")`` gives the same API over a PostgreSQL
server (``pgconn.py``); every SQL difference between the two lives in ``dialect.py``.

This module opens and appends; the lookups and the chain audit are ``store_queries.py``.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic, sleep
from types import TracebackType

from xray_desktop import settings
from xray_desktop.logging_setup import key_hash
from xray_desktop.records import dialect, migrations
from xray_desktop.records.chain import GENESIS, row_hash
from xray_desktop.records.fstype import network_fs
from xray_desktop.records.identity import content_key, study_content_key
from xray_desktop.records.reads import (
    ADJUDICATOR,
    InvalidReadError,
    Read,
    ReadInput,
    StoreError,
    normalized,
)
from xray_desktop.records.store_queries import (  # _ALL_COLUMNS: the stored column order, which tests import from here
    _ALL_COLUMNS,
    _INPUT_FIELDS,
    StoreQueries,
    _sqlite_errors,
    _to_read,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0
_INSERT = f"INSERT INTO reads ({', '.join(_ALL_COLUMNS)}) VALUES ({', '.join('?' * len(_ALL_COLUMNS))})"


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL (a no-op once the file is WAL) and return the journal mode now in force.

    Switching a new file needs an exclusive lock. When two processes race for it (two app
    instances, or the GUI and the CLI, started on a fresh database), SQLite answers BUSY at
    once instead of calling the busy handler, to avoid a deadlock: so wait and retry here,
    up to the same busy timeout as everything else.
    """
    deadline = monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or monotonic() + delay > deadline:
                raise
        sleep(delay * (1 + random.random()))  # jitter, so the racers don't retry in step
        delay = min(delay * 2, 0.2)


class Store(StoreQueries):
    """Append-only store of confirmed reads. Open with ``Store.open()``."""

    def __init__(self, conn: sqlite3.Connection, path: dialect.Location,
                 sql: dialect.Dialect = dialect.SQLITE) -> None:
        """Use ``Store.open``; this only wraps an already prepared connection."""
        self._conn: sqlite3.Connection | None = conn
        self.path = path  # an SQLite file, or a PostgreSQL URL (str)
        self.dialect = sql

    # -- opening and closing -------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str | None = None, *, create: bool = True) -> Store:
        """Open (creating it when ``create``) the database at ``path`` or settings.db_location().

        ``path`` is an SQLite file or a ``postgresql://`` URL. Checks integrity first and
        migrates the schema; raises StoreError on any problem.
        """
        location = dialect.parse_location(path if path is not None else settings.db_location())
        if isinstance(location, str):
            return cls._open_pg(location, create=create)
        path = location
        if path.is_dir():
            raise StoreError(f"{path} is a folder, not a reads database")
        shared = network_fs(path)
        if shared:
            raise StoreError(
                f"the reads database {path} is on a network file system ({shared}): SQLite's locking and "
                "write-ahead log do not work there and the audit trail could be corrupted. Keep it on a "
                "local disk, or share reads between workstations through department mode (a postgresql:// "
                "URL, see the README)")
        if not path.exists():
            if not create:
                raise StoreError(f"no reads database at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Create it owner-only: it holds PHI. SQLite gives -wal/-shm the same mode.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create the reads database at {path}: {exc.strerror}") from exc
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the reads database at {path}: {exc}") from exc
        try:
            cls._prepare(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, path: Path) -> None:
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # Read-only check before anything writes, so a damaged file stays untouched.
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} is not a usable reads database ({exc}); it was left untouched — restore it from a backup"
            ) from exc
        if problems != ["ok"]:
            raise StoreError(
                f"the reads database at {path} failed its integrity check "
                f"({problems[0]}{' ...' if len(problems) > 1 else ''}); it was left untouched — "
                "restore it from a backup"
            )
        with _sqlite_errors():
            # One statement, so one snapshot: read apart, another process's first migration
            # could commit in between, and its tables would look like a foreign database.
            version, tables = conn.execute(
                "SELECT (SELECT user_version FROM pragma_user_version),"
                " (SELECT count(*) FROM sqlite_master WHERE type = 'table')").fetchone()
            if version == 0 and tables:
                raise StoreError(f"{path} is an SQLite database but not an xray_desktop reads database")
            mode = _enable_wal(conn)
            if mode.lower() != "wal":
                # E.g. some network file systems; still correct, just less concurrent.
                log.warning("reads database could not use WAL (journal_mode=%s)", mode)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            try:
                found = migrations.migrate(conn)
            except ValueError as exc:
                raise StoreError(str(exc)) from exc
        log.debug("reads database open (schema v%d, was v%d)", migrations.LATEST_VERSION, found)

    @classmethod
    def _open_pg(cls, url: str, *, create: bool, migrate: bool = True) -> Store:
        from xray_desktop.records import pgconn

        conn = pgconn.open_connection(url, create=create, migrate=migrate)
        log.debug("reads database open (PostgreSQL %s)", dialect.redact(url))
        return cls(conn, url, dialect.POSTGRES)  # type: ignore[arg-type]

    def reader(self) -> Store:
        """A read-only second connection to the same database, for lookups on another thread.

        The GUI's loader threads resolve each image's reads with one, so the GUI thread does
        not wait on SQLite (and on the GIL that every SQLite call gives up and takes back).
        """
        if isinstance(self.path, str):
            return self._open_pg(self.path, create=False, migrate=False)
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the reads database at {self.path} for reading: {exc}") from exc
        return type(self)(conn, self.path)

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (StoreError once closed)."""
        if self._conn is None:
            raise StoreError("the reads database is closed")
        return self._conn

    @property
    def schema_version(self) -> int:
        """The schema version (``PRAGMA user_version``; PostgreSQL: its ``schema_version`` table)."""
        if isinstance(self.path, str):
            from xray_desktop.records import pgconn

            return pgconn.schema_version(self.conn)  # type: ignore[arg-type]
        with _sqlite_errors():
            return migrations.user_version(self.conn)

    # -- writing --------------------------------------------------------------------

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        with _sqlite_errors():
            try:
                for statement in self.dialect.begin_write:  # the one writer lock (see dialect.py)
                    conn.execute(statement)
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def add_read(self, read: ReadInput) -> Read:
        """Validate and append one read in its own transaction; returns it as stored."""
        return self.add_reads([read])[0]

    def add_reads(self, reads: Iterable[ReadInput]) -> list[Read]:
        """Append several reads in one transaction (all or none), in order.

        A read may supersede one earlier in the same batch. A new read (no ``supersedes``)
        whose study key already has reads of other content only (a UID collision) is stored
        under ``identity.collision_key``: the returned Read says which key it got.
        """
        inputs = [normalized(r) for r in reads]
        stored: list[Read] = []
        with self._immediate() as conn:
            # The chain tip is read under the write lock, so concurrent writers chain.
            tip = conn.execute("SELECT id, row_hash FROM reads ORDER BY id DESC LIMIT 1").fetchone()
            last_id, prev = (tip[0], tip[1]) if tip else (0, GENESIS)
            for r in inputs:
                # A first read of other content under a taken UID is a new image. An amendment
                # names the read it corrects, so it keeps that read's key (checked below).
                key = r.study_key
                if r.supersedes is None:  # a study read's content is its images (identity.study_content_key)
                    hashes = r.image_sha256s.split()
                    key = study_content_key(conn, key, hashes) if hashes else content_key(conn, key, r.file_sha256)
                if key != r.study_key:
                    r = replace(r, study_key=key)
                if r.supersedes is not None:
                    self._check_supersedes(conn, r)
                last_id += 1
                # Taken under the lock, so created_at follows id order (PostgreSQL: the server's
                # clock, so it does across workstations too).
                now = conn.execute(self.dialect.now_sql).fetchone()[0] if self.dialect.now_sql else datetime.now(UTC)
                created = now.astimezone(UTC).isoformat(timespec="microseconds")
                values: dict[str, object] = {"id": last_id, "created_at": created}
                values.update({name: getattr(r, name) for name in _INPUT_FIELDS})
                values["final_diagnosis"] = r.final_diagnosis.value
                values["prev_hash"] = prev
                values["row_hash"] = prev = row_hash(prev, values)
                conn.execute(_INSERT, [values[c] for c in _ALL_COLUMNS])
                stored.append(_to_read(values))
        for read in stored:
            log.info("saved read %d (study %s, %s)", read.id, key_hash(read.study_key), read.final_diagnosis.value)
        return stored

    @staticmethod
    def _check_supersedes(conn: sqlite3.Connection, r: ReadInput) -> None:
        row = conn.execute("SELECT study_key FROM reads WHERE id = ?", (r.supersedes,)).fetchone()
        if row is None:
            raise InvalidReadError(f"cannot amend read {r.supersedes}: there is no such read")
        if row[0] != r.study_key:
            raise InvalidReadError(f"cannot amend read {r.supersedes}: it belongs to a different study")
        if r.role == ADJUDICATOR and conn.execute(
                "SELECT 1 FROM reads WHERE study_key = ? AND reviewer = ? AND role <> ? LIMIT 1",
                (r.study_key, r.reviewer, ADJUDICATOR)).fetchone() is not None:
            raise InvalidReadError("an adjudication needs another reviewer: this reviewer read the study")
