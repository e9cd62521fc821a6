"""The columns of a read, declared once: type, PHI, hash chain, export, de-identification, schema.

Everything that lists read columns is derived from ``COLUMNS``: ``ReadInput`` validation's
text fields (``reads.py``), the chain's hashed fields (``chain.CORE_FIELDS``/``LATE_FIELDS``),
the export's columns and de-identification (``export.READS_COLUMNS``/``DEID_DROPPED``,
``deid.deid_values``). ``tests/records/test_records_columns.py`` checks the rest against it:
the table the migrations build, ``ReadInput``'s fields and types, the store's column list.

Adding a column: a new migration (``ALTER TABLE reads ADD COLUMN ... DEFAULT <default>``),
its ``Column`` here with ``since`` = the new schema version and the same ``default`` (rows
written before it are hashed without it, so they keep verifying), and the ``ReadInput``
field. Never change ``since``, ``default`` or ``hashed`` of a released column: the hashes of
stored reads depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from xray_desktop.domain import Diagnosis


class Origin(Enum):
    """Who sets a column's value."""

    INPUT = "input"  # a ReadInput field: the GUI or a caller supplies it
    STORE = "store"  # Store.add_reads sets it (id, time, chain links)
    DERIVED = "derived"  # computed from other columns when exported; never stored


class Phi(Enum):
    """Whether a column can identify the patient."""

    NO = "no"
    IDENTIFIER = "identifier"  # the patient's own identifiers and dates (DICOM header fields)
    INDIRECT = "indirect"  # leads back to the patient: UIDs, paths, file hashes, free text, times


class Deid(Enum):
    """What the de-identified export does with a column (see ``records.deid``)."""

    KEEP = "keep"
    DROP = "drop"
    YEAR = "year"  # coarsened to its year (HIPAA Safe Harbor keeps years)
    CATEGORY = "category"  # reduced to a fixed word list (``deid.CATEGORISERS``)
    PSEUDONYMISE = "pseudonymise"  # stable salted pseudonym (``deid.Pseudonymizer``)


@dataclass(frozen=True)
class Column:
    """One column of a read."""

    name: str
    type: type  # the value's Python type in a Read (``None`` also allowed when ``nullable``)
    sql: str  # declared SQLite type; "" for a derived column
    origin: Origin
    phi: Phi
    hashed: bool  # covered by the row hash of the chain
    exported: bool  # a column of the plain CSV export
    deid: Deid
    since: int | None  # schema version that added it; None: never stored
    nullable: bool = False
    default: object = None  # the value rows written before ``since`` read back as

    @property
    def stored(self) -> bool:
        """Whether the reads table has this column."""
        return self.origin is not Origin.DERIVED


def _c(name: str, type_: type, sql: str, phi: Phi = Phi.NO, deid: Deid = Deid.KEEP, *, origin: Origin = Origin.INPUT,
       hashed: bool = True, since: int | None = 1, nullable: bool = False, default: object = None) -> Column:
    return Column(name, type_, sql, origin, phi, hashed, True, deid, since, nullable, default)


_ID, _LINK = Phi.IDENTIFIER, Phi.INDIRECT
_STORE = Origin.STORE

# In the order the export writes them. Why each de-identification: direct identifiers, the
# file path (often the patient's name), the file hash (a key back to the PHI-bearing file),
# free text (people type names into it) and the chain hashes (computed over PHI) are dropped;
# dates to the year; gate reasons quote file headers, so only their category stays.
COLUMNS: tuple[Column, ...] = (
    _c("id", int, "INTEGER", origin=_STORE),
    _c("created_at", datetime, "TEXT", _LINK, Deid.YEAR, origin=_STORE),  # ISO-8601 UTC in the table
    _c("reviewer", str, "TEXT"),
    _c("study_key", str, "TEXT", _LINK, Deid.PSEUDONYMISE),
    _c("patient_id", str, "TEXT", _ID, Deid.DROP),
    _c("patient_name", str, "TEXT", _ID, Deid.DROP),
    _c("birth_date", str, "TEXT", _ID, Deid.DROP),
    _c("study_date", str, "TEXT", _ID, Deid.YEAR),
    _c("accession", str, "TEXT", _ID, Deid.DROP),
    _c("file_path", str, "TEXT", _LINK, Deid.DROP),
    _c("file_sha256", str, "TEXT", _LINK, Deid.DROP),
    _c("final_diagnosis", Diagnosis, "TEXT"),
    _c("other_finding", str, "TEXT", _LINK, Deid.DROP, since=2, default=""),
    _c("confidence", int, "INTEGER"),
    _c("ai_probability", float, "REAL", nullable=True),
    _c("threshold", float, "REAL", nullable=True),
    _c("operating_point", str, "TEXT"),
    _c("ai_label", str, "TEXT"),
    _c("agreement", str, "", origin=Origin.DERIVED, hashed=False, since=None),
    _c("model_version", str, "TEXT"),
    _c("model_sha256", str, "TEXT"),
    _c("gate_result", str, "TEXT", _LINK, Deid.CATEGORY),
    _c("note", str, "TEXT", _LINK, Deid.DROP),
    _c("time_spent_ms", int, "INTEGER"),
    _c("supersedes", int, "INTEGER", nullable=True),
    # A read of a study (issue 14): its images' keys (SOP Instance UID, else SHA-256) and file
    # SHA-256s, space-separated in study order; "" for a read of one file (every read before v4).
    _c("image_keys", str, "TEXT", _LINK, Deid.DROP, since=4, default=""),
    _c("image_sha256s", str, "TEXT", _LINK, Deid.DROP, since=4, default=""),
    # Read-first mode (issue #12): "first-impression" (recorded before the AI was shown) or
    # "read-first-final" (the final call after it, superseding the first impression); "" otherwise.
    # "adjudicator" (issue #12 item 4, no schema change: roles are checked in reads.py): another
    # reviewer's call superseding a confirmed read.
    _c("role", str, "TEXT", since=5, default=""),
    _c("prev_hash", str, "TEXT", _LINK, Deid.DROP, origin=_STORE, hashed=False),
    _c("row_hash", str, "TEXT", _LINK, Deid.DROP, origin=_STORE, hashed=False),
)  # fmt: skip

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
STORED: tuple[Column, ...] = tuple(c for c in COLUMNS if c.stored)
INPUT: tuple[Column, ...] = tuple(c for c in COLUMNS if c.origin is Origin.INPUT)


def names(columns: tuple[Column, ...] | list[Column]) -> tuple[str, ...]:
    """The names of ``columns``, in order."""
    return tuple(c.name for c in columns)


def at_version(version: int) -> tuple[Column, ...]:
    """The stored columns a database at schema ``version`` has."""
    return tuple(c for c in STORED if c.since is not None and c.since <= version)
