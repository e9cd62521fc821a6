"""Reading the reads table: lookups, filters and the chain audit (a mixin of ``Store``).

Kept apart from ``store.py`` so that module stays about opening the database and
appending to it; every method here only reads, through ``self.conn``. The column
order and the sqlite3-error translation live here because both halves use them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from xray_desktop.domain import Diagnosis
from xray_desktop.records.chain import GENESIS, row_hash
from xray_desktop.records.reads import Read, ReadInput, StoreError, VerifyResult

log = logging.getLogger("xray_desktop.records.store")  # the store's log, as before the split

_INPUT_FIELDS = tuple(f.name for f in fields(ReadInput))
_ALL_COLUMNS = ("id", "created_at", *_INPUT_FIELDS, "prev_hash", "row_hash")
_SELECT = f"SELECT {', '.join(_ALL_COLUMNS)} FROM reads"


def _friendly(exc: sqlite3.Error) -> str:
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return "the reads database is busy (another program is writing to it); please try again"
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return f"the reads database is damaged ({text}); restore it from a backup"
    return f"reads database error: {text}"


@contextmanager
def _sqlite_errors() -> Iterator[None]:
    """Turn sqlite3 errors into StoreError, whose message a person can act on.

    ProgrammingError (e.g. using the store from another thread) is a bug, not a
    database condition, and passes through unchanged.
    """
    try:
        yield
    except sqlite3.ProgrammingError:
        raise
    except sqlite3.Error as exc:
        raise StoreError(_friendly(exc)) from exc


def _utc_bound(value: datetime | date, *, end: bool) -> tuple[str, str]:
    """(operator, ISO bound) for a since/until filter.

    A date means that whole local calendar day; a naive datetime is local time (Python's
    convention); aware datetimes are converted to UTC, the stored zone.
    """
    if isinstance(value, datetime):
        moment, op = value, ("<=" if end else ">=")
    else:
        moment = datetime.combine(value + timedelta(days=1) if end else value, time())
        op = "<" if end else ">="
    return op, moment.astimezone(UTC).isoformat(timespec="microseconds")


class StoreQueries:
    """Mixin: the read-only half of :class:`~xray_desktop.records.store.Store` (see the module docstring)."""

    # Provided by Store (declared for readers and type checkers).
    conn: sqlite3.Connection

    # -- reading --------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Read]:
        with _sqlite_errors():
            return [_to_read(row) for row in self.conn.execute(sql, params)]

    def get(self, read_id: int) -> Read | None:
        """The read with this id, or None."""
        found = self._query(f"{_SELECT} WHERE id = ?", (read_id,))
        return found[0] if found else None

    def latest_for(self, study_key: str) -> Read | None:
        """The newest read of a study (its current confirmed diagnosis), or None."""
        found = self._query(f"{_SELECT} WHERE study_key = ? ORDER BY id DESC LIMIT 1", (study_key,))
        return found[0] if found else None

    def history(self, study_key: str) -> list[Read]:
        """Every read of a study, oldest first (the original, then its amendments)."""
        return self._query(f"{_SELECT} WHERE study_key = ? ORDER BY id", (study_key,))

    def reads(
        self,
        reviewer: str | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        latest_only: bool = True,
        roles: Sequence[str] | None = None,
    ) -> list[Read]:
        """Reads in id order, filtered; with ``latest_only`` the newest per study.

        ``roles`` keeps only reads of those roles (``reads.ROLES``; "" for ordinary reads).

        Filters apply first, then "latest": ``until`` therefore gives each study's state
        as of that moment, ``reviewer`` that reviewer's own last word per study.
        ``since``/``until`` dates cover whole local days (``until`` inclusive); naive
        datetimes are local time.
        """
        where: list[str] = []
        params: list[object] = []
        if reviewer is not None:
            where.append("reviewer = ?")
            params.append(reviewer)
        for bound, end in ((since, False), (until, True)):
            if bound is not None:
                op, iso = _utc_bound(bound, end=end)
                where.append(f"created_at {op} ?")
                params.append(iso)
        if roles is not None:
            where.append(f"role IN ({', '.join('?' * len(roles))})" if roles else "1 = 0")
            params.extend(roles)
        cond = " AND ".join(where) or "1 = 1"
        if latest_only:
            sql = f"{_SELECT} WHERE id IN (SELECT max(id) FROM reads WHERE {cond} GROUP BY study_key) ORDER BY id"
        else:
            sql = f"{_SELECT} WHERE {cond} ORDER BY id"
        return self._query(sql, params)

    def reads_after(self, read_id: int) -> list[Read]:
        """Reads with an id above ``read_id``, oldest first: what other workstations confirmed since.

        Polling this with the last id seen is how a workstation learns of others' reads
        (ids are the chain order, so nothing is skipped).
        """
        return self._query(f"{_SELECT} WHERE id > ? ORDER BY id", (read_id,))

    def count(self) -> int:
        """Number of stored reads (all history)."""
        with _sqlite_errors():
            return int(self.conn.execute("SELECT count(*) FROM reads").fetchone()[0])

    # -- audit ----------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Recompute the hash chain from the first read; report the first broken link.

        What this proves, and what not: the chain is keyed by nothing secret, so it catches
        an edit, insertion or removal made by someone who did not re-hash the later rows
        (an accidental or careless change, a restored backup mixed with new rows), even with
        the triggers dropped. Someone who can write the file can also re-hash every later
        row, or delete the newest reads, and this check alone still passes. Against that,
        keep an anchor (the head this returns, written next to every export and by the GUI
        at each session end) and check it with ``records.anchor.verify_anchor``.
        """
        prev, checked, rid = GENESIS, 0, 0
        with _sqlite_errors():
            for row in self._pages("SELECT * FROM reads WHERE id > ? ORDER BY id LIMIT ?"):
                checked += 1
                rid = row["id"]
                if row["prev_hash"] != prev:
                    return VerifyResult(
                        False, checked, rid,
                        f"read {rid} does not link to the read before it: a read was changed, "
                        "removed or inserted at or before this point",
                    )  # fmt: skip
                try:
                    expected = row_hash(prev, row)
                except (TypeError, ValueError):
                    expected = ""
                if row["row_hash"] != expected:
                    return VerifyResult(
                        False, checked, rid, f"read {rid} was changed after it was saved (hash mismatch)"
                    )
                prev = row["row_hash"]
        log.info("reads chain verified: %d reads intact", checked)
        return VerifyResult(True, checked, None, f"{checked} reads checked; the chain is intact", rid, prev)

    VERIFY_PAGE = 5000  # rows held at once: psycopg fetches a whole result into memory

    def _pages(self, sql: str) -> Iterator[Any]:
        """Rows of ``sql`` (``id > ? ... LIMIT ?``) page by page, in id order."""
        after = -1
        while True:
            page = self.conn.execute(sql, (after, self.VERIFY_PAGE)).fetchall()
            yield from page
            if len(page) < self.VERIFY_PAGE:
                return
            after = page[-1]["id"]


def _to_read(row: sqlite3.Row | dict[str, object]) -> Read:
    values = {name: row[name] for name in _ALL_COLUMNS}
    values["final_diagnosis"] = Diagnosis(values["final_diagnosis"])
    values["created_at"] = datetime.fromisoformat(str(values["created_at"]))
    return Read(**values)  # type: ignore[arg-type]
