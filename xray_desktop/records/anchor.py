"""Anchors: copies of the chain head kept outside the database.

The hash chain (chain.py) has no secret, so whoever can write the database file can
rewrite a read and re-hash every later one, or delete the newest reads; ``Store.verify``
alone then still passes. An anchor records the head as it was (last id, its row hash,
the number of reads, when): ``verify_anchor`` fails when the chain no longer contains
that head unchanged, i.e. when anything up to it was rewritten (re-hashed or not),
removed (the newest reads, or all of them) or inserted. Reads added after the anchor are
covered by the next anchor.

Anchors are written next to every export (``<name>.anchor.json``) and by the GUI at
start-up and at each session end (per-user data folder, one file per database), after
checking the previous one: a failed check never overwrites the anchor that caught it. An
anchor is only as safe as the place it is kept: one on the same disk, writable by the same
attacker, can be replaced too; copy export anchors somewhere else (e-mail, a ticket, a
write-once share). PostgreSQL department mode adds database permissions on top.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from xray_desktop import settings
from xray_desktop.records import dialect
from xray_desktop.records.atomic import atomic_write
from xray_desktop.records.reads import StoreError, VerifyResult
from xray_desktop.records.store import Store

log = logging.getLogger(__name__)

FORMAT = "xray-desktop-anchor/1"
SESSION_DIR = "anchors"


@dataclass(frozen=True)
class Anchor:
    """The head of the reads chain at one moment, and whether the chain verified then."""

    last_id: int
    row_hash: str
    count: int
    written_at: str  # ISO-8601 UTC
    chain_intact: bool = True
    chain_message: str = ""


def anchor_of(result: VerifyResult) -> Anchor:
    """The anchor for a ``Store.verify`` result (its head; a failed one records the failure)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return Anchor(result.head_id, result.head_hash, result.checked if result.ok else 0, now, result.ok,
                  "" if result.ok else result.message)


def anchor_path_for(csv_path: Path) -> Path:
    """``out.csv`` -> ``out.anchor.json`` in the same folder."""
    return csv_path.with_name(f"{csv_path.stem}.anchor.json")


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Write ``anchor`` atomically as JSON (owner-only)."""
    text = json.dumps({"format": FORMAT, **asdict(anchor)}, indent=1)
    atomic_write(path, lambda fh: fh.write(text + "\n"))


def read_anchor(path: Path) -> Anchor:
    """Read an anchor file; StoreError with one line when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"no anchor file at {path}") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"the anchor {path} is unreadable: {exc}") from None
    try:
        if data.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        anchor = Anchor(int(data["last_id"]), str(data["row_hash"]), int(data["count"]), str(data["written_at"]),
                        bool(data.get("chain_intact", True)), str(data.get("chain_message", "")))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"the anchor {path} is malformed ({exc})") from None
    if not anchor.chain_intact:
        raise StoreError(f"the anchor {path} was written from a chain that already failed verification "
                         f"({anchor.chain_message}); it cannot vouch for anything")
    return anchor


def verify_anchor(store: Store, anchor: Anchor) -> VerifyResult:
    """``store.verify()``, and then: does the chain still hold the anchor's head unchanged?"""
    result = store.verify()
    if not result.ok or anchor.last_id == 0:
        return result
    try:
        row = store.conn.execute("SELECT row_hash, (SELECT count(*) FROM reads WHERE id <= ?) FROM reads WHERE id = ?",
                                 (anchor.last_id, anchor.last_id)).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"reads database error: {exc}") from exc
    when = f"the anchor of {anchor.written_at}"
    if row is None:
        return VerifyResult(False, result.checked, anchor.last_id,
                            f"read {anchor.last_id}, the newest read recorded by {when}, is gone: reads were "
                            f"removed (the database now holds {result.checked})",
                            result.head_id, result.head_hash)  # fmt: skip
    if row[0] != anchor.row_hash:
        return VerifyResult(False, result.checked, anchor.last_id,
                            f"read {anchor.last_id} is not the one recorded by {when}: the reads up to it were "
                            "rewritten and the chain re-hashed", result.head_id, result.head_hash)  # fmt: skip
    if row[1] != anchor.count:
        return VerifyResult(False, result.checked, anchor.last_id,
                            f"{row[1]} reads up to read {anchor.last_id}, {when} recorded {anchor.count}: "
                            "reads were removed or inserted", result.head_id, result.head_hash)  # fmt: skip
    return VerifyResult(True, result.checked, None,
                        f"{result.message}, and it still holds read {anchor.last_id} exactly as {when} recorded it",
                        result.head_id, result.head_hash)  # fmt: skip


# -- the GUI's own anchors ------------------------------------------------------------------


def session_anchor_path(db_path: Path | str) -> Path:
    """Where the GUI keeps its anchor for the database at ``db_path`` (per-user data folder).

    A PostgreSQL database is named by its URL without the password (a new password keeps the anchor).
    """
    name = dialect.redact(db_path) if dialect.is_url(db_path) else str(Path(db_path).resolve())
    tag = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return settings.data_dir() / SESSION_DIR / f"reads-{tag}.anchor.json"


def check_and_advance(store: Store) -> VerifyResult:
    """Verify against this database's session anchor (if any); when that passes, move it to the head.

    Run at GUI start-up and at session end. A failure leaves the old anchor in place, so the
    warning repeats until someone looks into it.
    """
    path = session_anchor_path(store.path)
    try:
        result = verify_anchor(store, read_anchor(path)) if path.exists() else store.verify()
    except StoreError as exc:  # an unreadable anchor is itself a finding
        return VerifyResult(False, 0, None, str(exc))
    if result.ok:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_anchor(path, anchor_of(result))
        except OSError as exc:
            log.warning("could not write the session anchor: %s", exc.strerror or exc)
    else:
        log.warning("the reads audit trail failed verification: %s", result.message)
    return result


def session_check(db_path: Path | str) -> str:
    """:func:`check_and_advance` on a connection of its own; "" when the trail holds, else the reader's warning.

    Opens its own connection so it can run on any thread (the GUI runs it on ``trail-check``).
    """
    try:
        store = Store.open(db_path, create=False)
    except StoreError as exc:
        return f"The audit trail could not be checked: {exc}"
    with store:
        try:
            result = check_and_advance(store)
        except StoreError as exc:
            result = VerifyResult(False, 0, None, str(exc))
    if result.ok:
        return ""
    return ("The audit trail of confirmed reads failed verification: "
            f"{result.message}. Reads can still be made; report this to whoever looks after the records.")
