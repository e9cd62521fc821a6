"""CSV export of confirmed reads: plain, de-identified, or in an MRMC reader-study layout.

Format: UTF-8 (no BOM), RFC 4180 (csv module, every cell quoted, CRLF rows), one header
row, times in ISO-8601 UTC, empty cell for "no value".

CSV injection (OWASP): spreadsheets run a cell that starts with ``= + - @`` tab, CR or LF
as a formula, and some still do when invisible characters (spaces, zero-width and bidi
marks, a BOM) come first, or with the full-width forms ``＝＋－＠``. ``escape_cell`` puts a
``'`` in front of such cells. The one exception is a plain number (``_NUMBER``: ASCII
digits, optional sign, point and exponent, finite): it stays a number in the spreadsheet
(``-0.4`` is a logit, not a formula). A cell that already starts with quote marks followed by
a trigger gets one more, so ``unescape_cell(escape_cell(s)) == s`` for every string.

The file is written atomically by ``records.atomic.atomic_write`` (temp file in the target
folder, never through a symbolic link, stale temp files of killed exports removed). Next to
it goes ``<name>.anchor.json``: the chain head at export time (see ``records.anchor``), and
whether the trail verified then.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, TextIO

from xray_desktop.domain import Diagnosis
from xray_desktop.records import anchor as anchors
from xray_desktop.records.atomic import STALE_TEMP_S, atomic_write
from xray_desktop.records.columns import COLUMNS, Deid
from xray_desktop.records.deid import Pseudonymizer, deid_values
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, Read, VerifyResult
from xray_desktop.records.store import Store

__all__ = ["STALE_TEMP_S", "ExportResult", "atomic_write_csv", "escape_cell", "export_csv", "export_reads",
           "unescape_cell"]
log = logging.getLogger(__name__)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20",
                    "\ufe66", "\ufe62", "\ufe63", "\ufe6b", "\u2212")  # full-width, small and minus-sign forms
# Skipped when looking for the first visible character: whitespace, zero-width characters,
# the BOM, bidi controls, soft hyphen.
_INVISIBLE = "".join(chr(c) for c in range(0x21) if chr(c).isspace()) + (
    "\u00a0\u00ad\u061c\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u202f\u205f"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3000\ufeff"
)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")

# The plain export's columns and those the de-identified export drops; the reasons, and the
# coarsened ones (deid.deid_values), are declared with each column in records/columns.py.
READS_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.exported)
DEID_DROPPED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.exported and c.deid is Deid.DROP)
# The first four are the classic reader x case layout; ``role`` names the condition of a
# read-first study (``first-impression``: unaided, ``read-first-final``: aided by the AI,
# ``adjudicator``: the second look; "" an ordinary read), then what the reader said and the AI.
MRMC_COLUMNS = ("reader", "case", "truth", "rating", "role", "diagnosis", "confidence", "ai_probability")

Layout = Literal["reads", "mrmc"]


def is_number(value: str) -> bool:
    """True for a plain finite number (see ``_NUMBER``), which is written as is."""
    return _NUMBER.match(value) is not None and math.isfinite(float(value))


def needs_guard(value: str) -> bool:
    """Whether a spreadsheet could run ``value`` (after any leading quote marks) as a formula."""
    if is_number(value):
        return False
    # A tuple, not a string: "" (an empty cell) must not count as a trigger.
    head = value.lstrip("'")
    return head[:1] in FORMULA_TRIGGERS or head.lstrip(_INVISIBLE)[:1] in FORMULA_TRIGGERS


def escape_cell(value: str) -> str:
    """Neutralize a cell a spreadsheet would run as a formula (see module docstring)."""
    return "'" + value if needs_guard(value) else value


def unescape_cell(value: str) -> str:
    """Inverse of ``escape_cell``."""
    if value.startswith("'") and needs_guard(value[1:]):
        return value[1:]
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
            values.update(deid_values(r, pseudo))
        yield [_cell(values[c]) for c in columns]


def _mrmc_rows(
    reads: Iterable[Read], pseudo: Pseudonymizer | None, truth: Mapping[str, object] | None
) -> Iterator[list[str]]:
    yield list(MRMC_COLUMNS)
    for r in reads:
        case = pseudo(r.study_key) if pseudo is not None else r.study_key
        t = truth.get(r.study_key, "") if truth is not None else ""
        yield [_cell(r.reviewer), _cell(case), _cell(t), _cell(mrmc_rating(r)), _cell(r.role),
               _cell(r.final_diagnosis), _cell(r.confidence), _cell(r.ai_probability)]


def _phase(role: str) -> str:
    """The MRMC condition a read belongs to: a first impression and an adjudication stand apart;
    a read-first final and an ordinary read (or its amendment) are the reader's final call."""
    return role if role in (FIRST_IMPRESSION, ADJUDICATOR) else "final"


def _latest_per_reader(reads: Iterable[Read]) -> list[Read]:
    """Each reader's latest read per case and condition: a final never hides its first impression."""
    latest: dict[tuple[str, str, str], Read] = {}
    for r in reads:  # id order: later reads replace earlier ones
        latest[(r.reviewer, r.study_key, _phase(r.role))] = r
    return sorted(latest.values(), key=lambda r: r.id)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: data rows, the anchor file, and the trail's verification."""

    rows: int
    anchor_path: Path
    chain: VerifyResult


def export_csv(store: Store, out_path: Path | str, **options: object) -> int:
    """``export_reads`` returning only the number of data rows (see there)."""
    return export_reads(store, out_path, **options).rows  # type: ignore[arg-type]


def export_reads(
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
) -> ExportResult:
    """Write reads to ``out_path`` as CSV atomically, and its anchor next to it.

    ``reads`` layout: the latest read per study (``all_history``: every read, the audit
    trail). ``mrmc`` layout: one row per reader, case and condition (first impression, final,
    adjudication: see ``_phase``), that reader's latest read of it, with ``rating`` from
    ``mrmc_rating``, the read's ``role``, diagnosis, confidence and AI probability, and ``truth``
    from the optional ``truth`` mapping (study_key -> reference label; blank otherwise, for the
    study coordinator to fill).
    ``deidentify`` replaces study keys with stable salted pseudonyms and drops or coarsens
    identifying, free-text and file-derived columns (see deid.py and ``DEID_DROPPED``).

    The chain is verified first; a broken trail does not stop the export (the reads may be
    needed for exactly that investigation) but is logged, recorded in the anchor
    (``chain_intact: false``) and returned in ``ExportResult.chain`` for the caller to say.
    """
    if layout not in ("reads", "mrmc"):
        raise ValueError(f"unknown layout {layout!r} (use 'reads' or 'mrmc')")
    if layout == "mrmc" and all_history:
        raise ValueError("--all does not apply to the mrmc layout (it uses each reader's latest read)")
    pseudo = Pseudonymizer.load(salt_path) if deidentify else None
    chain = store.verify()
    if layout == "mrmc":
        reads = _latest_per_reader(store.reads(reviewer=reviewer, since=since, until=until, latest_only=False))
        rows = _mrmc_rows(reads, pseudo, truth)
    else:
        reads = store.reads(reviewer=reviewer, since=since, until=until, latest_only=not all_history)
        rows = _reads_rows(reads, pseudo)
    out = Path(out_path)
    written = atomic_write_csv(out, rows) - 1
    anchor_path = anchors.anchor_path_for(out)
    anchors.write_anchor(anchor_path, anchors.anchor_of(chain))
    log.info("exported %d reads (layout %s, deidentified %s)", written, layout, deidentify)
    if not chain.ok:
        log.warning("exported from a reads database whose chain is broken: %s", chain.message)
    return ExportResult(written, anchor_path, chain)


def _write_rows(fh: TextIO, rows: Iterable[list[str]]) -> int:
    writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n


def atomic_write_csv(out_path: Path, rows: Iterable[list[str]]) -> int:
    """Write ``rows`` (header included) to ``out_path`` atomically (0600); return rows written."""
    return atomic_write(out_path, lambda fh: _write_rows(fh, rows))
