"""Department mode's connection: psycopg 3 behind the small sqlite3-like surface ``Store`` uses.

``PgConnection.execute(sql, params)`` takes ``Store``'s portable SQL (``?`` placeholders),
returns rows that index by position and by name (like ``sqlite3.Row``), and turns every
psycopg error into a one-line ``StoreError`` a person can act on (server down, login
refused, privileges, append-only refusal), with the password never in it. A connection the
server dropped is re-opened on the next statement that does not continue a transaction, so
a workstation that lost the server recovers by itself once it is back.

Durability is the server's: a read is stored when ``COMMIT`` returns, as durable as the
server's ``synchronous_commit`` (on by default; keep it on) and its disks make it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from xray_desktop.records import dialect
from xray_desktop.records.migrations import LATEST_VERSION
from xray_desktop.records.reads import StoreError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_MS = 10_000  # as SQLite's busy timeout: a writer waits this long for the lock


class Row:
    """A result row: ``row[0]`` and ``row["name"]``, ``keys()``, iteration (as ``sqlite3.Row``)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values, self._index = tuple(values), index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _row_factory(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]
    index = {n: i for i, n in enumerate(names)}
    return lambda values: Row(values, index)


def friendly(exc: Exception, url: str) -> str:
    """One line for a psycopg error, naming the server without the password."""
    import psycopg
    from psycopg import errors

    where = dialect.redact(url)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    low = first.lower()
    if isinstance(exc, errors.InsufficientPrivilege):
        return f"the reads database {where} refused this: {first} (the role lacks that privilege)"
    if isinstance(exc, errors.RestrictViolation | errors.RaiseException):
        return f"the reads database refused the change: {first}"
    if isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled):
        return "the reads database is busy (another workstation is writing to it); please try again"
    if "password authentication failed" in low or "no password supplied" in low:
        return f"the reads database server refused the login ({where}): wrong user or password"
    if "does not exist" in low and "database" in low:
        return f"no such database on the reads database server: {where}"
    if isinstance(exc, psycopg.OperationalError):
        return f"cannot reach the reads database server {where}: {first}"
    return f"reads database error ({where}): {first}"


class PgConnection:
    """A psycopg connection in autocommit mode; transactions are explicit (``BEGIN``), as with sqlite3."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._raw: Any = None
        self._connect()

    def _connect(self) -> None:
        import psycopg

        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                  application_name="xray-desktop")
            raw.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
        except psycopg.Error as exc:
            raise StoreError(friendly(exc, self.url)) from None
        except Exception as exc:  # noqa: BLE001 -- a malformed URL raises ProgrammingError/ValueError kinds
            raise StoreError(f"the database URL {dialect.redact(self.url)!r} is not usable: {exc}") from None
        raw.row_factory = _row_factory
        self._raw = raw

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        if self._raw is None or self._raw.closed:
            return False
        return self._raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Any:
        """Run one statement (``?`` placeholders); StoreError with one line on any database error."""
        import psycopg

        if self._raw is None:
            raise StoreError("the reads database is closed")
        if self._raw.closed and sql.lstrip().upper().startswith(("BEGIN", "SELECT")):
            log.info("reconnecting to the reads database server")
            self._connect()  # nothing of a transaction was lost: none was open
        try:
            if params:
                return self._raw.execute(dialect.pg_sql(sql), list(params))
            return self._raw.execute(sql)
        except psycopg.Error as exc:
            raise StoreError(friendly(exc, self.url)) from exc

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def schema_version(conn: PgConnection) -> int:
    """The schema version of the database (0: no reads schema yet)."""
    has_reads, has_version = conn.execute(dialect.PG_HAS_TABLE_SQL).fetchone()
    if not has_version:
        if has_reads:
            raise StoreError(f"{dialect.redact(conn.url)} has a 'reads' table but is not an xray_desktop "
                             "reads database (no schema_version table)")
        return 0
    return int(conn.execute(dialect.PG_VERSION_SQL).fetchone()[0] or 0)


def open_connection(url: str, *, create: bool, migrate: bool = True) -> PgConnection:
    """Connect, check the schema version, and (with ``create``/``migrate``) bring it up to date."""
    conn = PgConnection(url)
    try:
        found = schema_version(conn)
        if found > LATEST_VERSION:
            raise StoreError(f"the reads database {dialect.redact(url)} has schema version {found}, newer than "
                             f"this program understands ({LATEST_VERSION}); please update xray_desktop")
        if found == 0 and not create:
            raise StoreError(f"no reads schema in {dialect.redact(url)} yet: create it with "
                             "`xray-desktop db init --db URL` (as the database owner)")
        if found < LATEST_VERSION and migrate:
            try:
                _migrate(conn)
            except StoreError as exc:
                if "privilege" not in str(exc):
                    raise
                raise StoreError(f"the reads database {dialect.redact(url)} has schema v{found}, this program "
                                 f"needs v{LATEST_VERSION}: run `xray-desktop db init --db URL` as the database's "
                                 "owner (this role may not change the schema)") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: PgConnection) -> None:
    """Run the missing migrations in ONE transaction under the writers' lock (DDL is transactional)."""
    for statement in dialect.POSTGRES.begin_write:
        conn.execute(statement)
    try:
        found = schema_version(conn)  # again, under the lock: another workstation may have done it
        for version in range(found + 1, LATEST_VERSION + 1):
            for statement in dialect.pg_migration(version):
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if found < LATEST_VERSION:
        log.info("reads database (PostgreSQL) migrated from schema v%d to v%d", found, LATEST_VERSION)
