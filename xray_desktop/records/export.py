"""CSV export of confirmed reads: plain, de-identified, or in an MRMC reader-study layout.

Format: UTF-8 (no BOM), RFC 4180 (csv module, every cell quoted, CRLF rows), one header
row, times in ISO-8601 UTC, empty cell for "no value".

CSV injection (OWASP): spreadsheets run a cell that starts with ``= + - @`` tab, CR or LF
as a formula. Every cell, numbers included (one rule is easier to trust than two; real
numbers here are never negative anyway), is passed through ``escape_cell``, which puts a
``'`` in front of such cells. A cell that already starts with quote marks followed by a
trigger gets one more, so ``unescape_cell(escape_cell(s)) == s`` for every string.

The file is written atomically: temp file in the target folder, fsync, rename over the
target, fsync the folder. A failure or a kill leaves the old file (or none), never a
half-written one; a temp file orphaned by a kill is removed by a later export once it is
an hour old.
"""

from __future__ import annotations

import csv
import glob
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Literal, TextIO

from xray_desktop.domain import Diagnosis
from xray_desktop.records.deid import Pseudonymizer
from xray_desktop.records.reads import Read
from xray_desktop.records.store import Store

log = logging.getLogger(__name__)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

READS_COLUMNS = (
    "id", "created_at", "reviewer", "study_key",
    "patient_id", "patient_name", "birth_date", "study_date", "accession", "file_path",
    "file_sha256", "final_diagnosis", "other_finding", "confidence",
    "ai_probability", "threshold", "operating_point", "ai_label", "agreement",
    "model_version", "model_sha256", "gate_result", "note", "time_spent_ms",
    "supersedes", "prev_hash", "row_hash",
)  # fmt: skip
# Dropped by the de-identified export: direct identifiers, the file path (it often holds
# the patient's name), the file hash (a unique key back to the PHI-bearing file), the free
# text note (people type names into notes) and the chain hashes (computed over PHI).
# study_date is kept as its year only (HIPAA Safe Harbor keeps years).
DEID_DROPPED = (
    "patient_id", "patient_name", "birth_date", "accession", "file_path", "file_sha256",
    "note", "prev_hash", "row_hash",
)  # fmt: skip
MRMC_COLUMNS = ("reader", "case", "truth", "rating")

Layout = Literal["reads", "mrmc"]


def escape_cell(value: str) -> str:
    """Neutralize a cell a spreadsheet would run as a formula (see module docstring)."""
    # A tuple, not a string: "" (an empty cell) must not count as a trigger.
    return "'" + value if value.lstrip("'")[:1] in FORMULA_TRIGGERS else value


def unescape_cell(value: str) -> str:
    """Inverse of ``escape_cell``."""
    if value.startswith("'"):
        rest = value[1:]
        if rest.lstrip("'")[:1] in FORMULA_TRIGGERS:
            return rest
    return value


def _cell(value: object) -> str:
    if value is None:
        text = ""
    elif isinstance(value, datetime):
        text = value.isoformat(timespec="microseconds")
    elif isinstance(value, Diagnosis):
        text = value.value
    else:
        text = str(value)
    return escape_cell(text)


def mrmc_rating(read: Read) -> int:
    """Ordinal pneumonia score 1..11 for ROC/MRMC analysis (higher = more pneumonia).

    NORMAL and OTHER (a non-pneumonia finding: negative for the pneumonia task) give
    6 - confidence (1..5, 1 = certainly no pneumonia); INDETERMINATE gives 6;
    PNEUMONIA gives 6 + confidence (7..11).
    """
    if read.final_diagnosis is Diagnosis.PNEUMONIA:
        return 6 + read.confidence
    if read.final_diagnosis is Diagnosis.INDETERMINATE:
        return 6
    return 6 - read.confidence


def _reads_rows(reads: Iterable[Read], pseudo: Pseudonymizer | None) -> Iterator[list[str]]:
    columns = [c for c in READS_COLUMNS if pseudo is None or c not in DEID_DROPPED]
    yield list(columns)
    for r in reads:
        values: dict[str, object] = {c: getattr(r, c) for c in columns}
        if pseudo is not None:
            values["study_key"] = pseudo(r.study_key)
            values["study_date"] = r.study_date[:4] if r.study_date[:4].isdigit() else ""
        yield [_cell(values[c]) for c in columns]


def _mrmc_rows(
    reads: Iterable[Read], pseudo: Pseudonymizer | None, truth: Mapping[str, object] | None
) -> Iterator[list[str]]:
    yield list(MRMC_COLUMNS)
    for r in reads:
        case = pseudo(r.study_key) if pseudo is not None else r.study_key
        t = truth.get(r.study_key, "") if truth is not None else ""
        yield [_cell(r.reviewer), _cell(case), _cell(t), _cell(mrmc_rating(r))]


def _latest_per_reader(reads: Iterable[Read]) -> list[Read]:
    latest: dict[tuple[str, str], Read] = {}
    for r in reads:  # id order: later reads replace earlier ones
        latest[(r.reviewer, r.study_key)] = r
    return sorted(latest.values(), key=lambda r: r.id)


def export_csv(
    store: Store,
    out_path: Path | str,
    *,
    all_history: bool = False,
    deidentify: bool = False,
    reviewer: str | None = None,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    salt_path: Path | str | None = None,
    layout: Layout = "reads",
    truth: Mapping[str, object] | None = None,
) -> int:
    """Write reads to ``out_path`` as CSV atomically; return the number of data rows.

    ``reads`` layout: the latest read per study (``all_history``: every read, the audit
    trail). ``mrmc`` layout: one row per reader and case, that reader's latest read, with
    ``rating`` from ``mrmc_rating`` and ``truth`` from the optional ``truth`` mapping
    (study_key -> reference label; blank otherwise, for the study coordinator to fill).
    ``deidentify`` replaces study keys with stable salted pseudonyms (see deid.py) and
    drops the identifying columns (``DEID_DROPPED``).
    """
    if layout not in ("reads", "mrmc"):
        raise ValueError(f"unknown layout {layout!r} (use 'reads' or 'mrmc')")
    if layout == "mrmc" and all_history:
        raise ValueError("--all does not apply to the mrmc layout (it uses each reader's latest read)")
    pseudo = Pseudonymizer.load(salt_path) if deidentify else None
    if layout == "mrmc":
        reads = _latest_per_reader(store.reads(reviewer=reviewer, since=since, until=until, latest_only=False))
        rows = _mrmc_rows(reads, pseudo, truth)
    else:
        reads = store.reads(reviewer=reviewer, since=since, until=until, latest_only=not all_history)
        rows = _reads_rows(reads, pseudo)
    written = atomic_write_csv(Path(out_path), rows) - 1
    log.info("exported %d reads (layout %s, deidentified %s)", written, layout, deidentify)
    return written


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable. Directories cannot be opened on Windows; there
    # NTFS journals the rename.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_rows(fh: TextIO, rows: Iterable[list[str]]) -> int:
    writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n


STALE_TEMP_S = 3600.0


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete temp files a killed export left behind (they may hold PHI).

    Only our own pattern, and only old ones, so an export running elsewhere right now
    keeps its temp file.
    """
    cutoff = time.time() - STALE_TEMP_S
    for stale in folder.glob(f".{glob.escape(name)}.*.tmp"):
        try:
            if stale.is_file() and stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # best effort: never fail an export over litter


def atomic_write_csv(out_path: Path, rows: Iterable[list[str]]) -> int:
    """Write ``rows`` (header included) to ``out_path`` atomically; return rows written.

    The new file is owner-only (0600), since exports usually hold PHI.
    """
    folder = out_path.parent if str(out_path.parent) else Path(".")
    _remove_stale_temps(folder, out_path.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            n = _write_rows(fh, rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return n
