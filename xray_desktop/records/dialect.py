"""Where the reads live, and every SQL difference between the two backends, in one place.

The database setting (``XRAY_DESKTOP_DB``, ``--db``) is either a path (SQLite, the embedded
default) or a ``postgresql://`` URL (department mode: several workstations share one
server). ``Store`` writes portable SQL with ``?`` placeholders; what differs is here:

* placeholders: ``?`` for sqlite3, ``%s`` for psycopg (``pg_sql``);
* the serial write: SQLite's ``BEGIN IMMEDIATE`` takes the file's write lock; PostgreSQL
  takes a transaction-scoped advisory lock, in READ COMMITTED so the chain tip read after
  the lock sees the previous writer's commit (``Dialect.begin_write``);
* the schema: SQLite's numbered scripts live in ``migrations.py``; PostgreSQL's tables are
  derived from ``columns.COLUMNS`` (types mapped here), so a column added to the registry
  with its ``since`` version is added here too, with triggers in PL/pgSQL
  (``pg_migration``);
* the schema version: SQLite's ``user_version``; PostgreSQL's ``schema_version`` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from xray_desktop.domain import Diagnosis
from xray_desktop.records.columns import STORED, Column
from xray_desktop.records.reads import StoreError

URL_SCHEMES = ("postgresql", "postgres")
# A scheme followed by "//": a URL. (One letter then ":" is a Windows drive, not a scheme.)
_URL_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")

Location = Path | str  # an SQLite file, or a PostgreSQL URL (always kept as a str: Path mangles "//")


def is_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL server rather than an SQLite file."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in URL_SCHEMES and "://" in location


def parse_location(value: str | Path) -> Location:
    """A database setting -> a URL (str) or a Path; StoreError for any other URL.

    Refuses ``Path("postgresql://...")`` (which has already lost a slash) and unknown
    schemes, so a URL can never become a local SQLite file under a folder named after it.
    """
    text = str(value)
    if isinstance(value, str) and is_url(value):
        return value
    match = _URL_LIKE.match(text)
    if match:
        scheme = match.group(1).lower()
        if scheme in URL_SCHEMES:
            raise StoreError(f"the database URL {redact(text)!r} is malformed: write postgresql://USER@HOST/DB")
        raise StoreError(f"unsupported database URL scheme {scheme!r}: use a file path (SQLite) "
                         "or a postgresql:// URL")
    return Path(value)


def db_argument(text: str) -> Location:
    """argparse ``type`` for ``--db``: a path or a ``postgresql://`` URL (one-line error otherwise)."""
    import argparse

    try:
        return parse_location(text)
    except StoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def setting_problem(text: str) -> str:
    """Why ``text`` cannot be the saved database setting ("" when it can; "" itself means the default)."""
    if not text:
        return ""
    try:
        location = parse_location(text)
    except StoreError as exc:
        return str(exc)
    if isinstance(location, str) and urlsplit(location).password is not None:
        return ("leave the password out of the saved URL (settings are a plain file): put it in the "
                "user's ~/.pgpass, or set XRAY_DESKTOP_DB for this machine")
    return ""


def redact(url: str) -> str:
    """The URL without its password: for messages, logs and anchor names."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<unparsable database URL>"


def describe(location: Location) -> str:
    """How to name a database to a person (never with a password)."""
    return redact(location) if isinstance(location, str) else str(location)


# -- the serial write ----------------------------------------------------------------------

# Any fixed 64-bit number: the one lock every xray_desktop writer (and migration) takes.
PG_LOCK_KEY = 0x78726179_72656164  # "xrayread"


@dataclass(frozen=True)
class Dialect:
    """The statements that differ between the backends."""

    name: str
    begin_write: tuple[str, ...]  # open a write transaction holding the one writer lock
    now_sql: str = ""  # the clock of created_at: "" = this machine's; else a query for the server's


SQLITE = Dialect("sqlite", ("BEGIN IMMEDIATE",))
POSTGRES = Dialect("postgresql", ("BEGIN ISOLATION LEVEL READ COMMITTED",
                                  f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})"), "SELECT clock_timestamp()")


def pg_sql(sql: str) -> str:
    """Store's portable SQL (``?`` placeholders) for psycopg (``%s``; a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


# -- the PostgreSQL schema, derived from the column registry -------------------------------

GENESIS = "0" * 64
PG_VERSION_SQL = "SELECT max(version) FROM schema_version"
PG_HAS_TABLE_SQL = "SELECT to_regclass('reads') IS NOT NULL, to_regclass('schema_version') IS NOT NULL"

# Constraints the SQLite v1 script has inline; kept the same here.
_CHECKS = {
    "final_diagnosis": "final_diagnosis IN ({})".format(", ".join(f"'{d.value}'" for d in Diagnosis)),
    "confidence": "confidence BETWEEN 1 AND 5",
    "ai_label": "ai_label IN ('PNEUMONIA', 'NORMAL', '')",
}


def pg_type(column: Column) -> str:
    """The PostgreSQL type for a registry column (by SQLite affinity of its declared type)."""
    sql = column.sql.upper()
    if "INT" in sql:
        return "BIGINT"
    if any(word in sql for word in ("REAL", "FLOA", "DOUB")):
        return "DOUBLE PRECISION"  # float8: Python floats round-trip exactly, as the chain needs
    return "TEXT"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(getattr(value, "value", value)).replace("'", "''") + "'"


def pg_column(column: Column) -> str:
    """One column's definition (``ADD COLUMN``/``CREATE TABLE``), from the registry."""
    parts = [column.name, pg_type(column)]
    if column.name == "id":
        parts.append("PRIMARY KEY")
    elif not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {_literal(column.default)}")
    if column.name in _CHECKS:
        parts.append(f"CHECK ({_CHECKS[column.name]})")
    if column.name == "row_hash":
        parts.append("UNIQUE")
    if column.name == "supersedes":
        parts.append("REFERENCES reads(id)")
    return " ".join(parts)


_PG_APPEND_ONLY = f"""
CREATE FUNCTION reads_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reads are append-only: add an amending read instead' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER reads_no_update BEFORE UPDATE OR DELETE ON reads FOR EACH ROW EXECUTE FUNCTION reads_refuse_change();
CREATE TRIGGER reads_no_truncate BEFORE TRUNCATE ON reads FOR EACH STATEMENT EXECUTE FUNCTION reads_refuse_change();
CREATE FUNCTION reads_next_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM (SELECT coalesce(max(id), 0) + 1 FROM reads)
       OR NEW.prev_hash IS DISTINCT FROM coalesce((SELECT row_hash FROM reads ORDER BY id DESC LIMIT 1), '{GENESIS}')
    THEN
        RAISE EXCEPTION 'reads are append-only: a new read must follow the newest one'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER reads_append_only BEFORE INSERT ON reads FOR EACH ROW EXECUTE FUNCTION reads_next_link()
"""

# Statements beyond the registry's columns, per version (the same indexes/guards as SQLite's).
_PG_EXTRA: dict[int, list[str]] = {
    1: ["CREATE TABLE schema_version (version INTEGER NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        "CREATE INDEX reads_by_study ON reads(study_key, id)",
        *[s.strip() for s in re.split(r";\n(?=CREATE)", _PG_APPEND_ONLY) if s.strip()]],
    2: ["CREATE INDEX reads_by_reviewer_time ON reads(reviewer, created_at)"],
}


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def pg_grants(role: str, database: str) -> list[str]:
    """Least privilege for the workstations' role: read and append reads, nothing else.

    No UPDATE, DELETE or TRUNCATE, and not the owner (only an owner may drop or disable the
    append-only triggers or run migrations: ``xray-desktop db init`` runs as the owner).
    """
    r = quote_ident(role)
    return [f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {r}",
            f"GRANT USAGE ON SCHEMA public TO {r}",
            f"GRANT SELECT, INSERT ON reads TO {r}",
            f"GRANT SELECT ON schema_version TO {r}"]


def pg_migration(version: int) -> list[str]:
    """The statements that take a PostgreSQL reads schema to ``version`` (from ``version - 1``)."""
    added = [c for c in STORED if c.since == version]
    if version == 1:
        steps = [f"CREATE TABLE reads (\n    {(',' + chr(10) + '    ').join(pg_column(c) for c in added)}\n)"]
    else:
        steps = [f"ALTER TABLE reads ADD COLUMN {pg_column(c)}" for c in added]
    return [*steps, *_PG_EXTRA.get(version, []), f"INSERT INTO schema_version (version) VALUES ({version})"]
