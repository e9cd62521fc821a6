"""The tamper-evident hash chain over the reads table.

``row_hash = sha256(prev_hash + canonical_json(content))`` where ``prev_hash`` is the
previous row's ``row_hash`` (64 zeros for the first row) and *content* is every stored
column except the two hashes, including ``id`` and ``created_at`` (as the stored ISO
string). Canonical JSON: keys sorted, no whitespace, UTF-8 (not ASCII-escaped), NaN
refused; floats use Python's shortest round-trip repr, which SQLite REAL preserves.

Columns added by later migrations are hashed only when they differ from their default
(see ``LATE_FIELDS``), so rows written before a column existed still verify afterwards,
and any later non-default value is still covered by the hash. Both field lists come from
``columns.COLUMNS`` (``hashed``, ``since``, ``default``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from xray_desktop.records.columns import COLUMNS

GENESIS = "0" * 64

# Columns hashed for every row (schema v1), in no particular order: JSON sorts keys.
CORE_FIELDS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.hashed and c.since == 1)

# Columns added after v1 -> their default; hashed only when not the default.
LATE_FIELDS: dict[str, object] = {c.name: c.default for c in COLUMNS if c.hashed and (c.since or 0) > 1}


def canonical_content(row: Mapping[str, object]) -> bytes:
    """The canonical JSON bytes of a row's content (see the module docstring)."""
    content = {name: row[name] for name in CORE_FIELDS}
    for name, default in LATE_FIELDS.items():
        value = row[name] if name in row.keys() else default  # keys(): sqlite3.Row has no __contains__ for names
        if value != default:
            content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def row_hash(prev_hash: str, row: Mapping[str, object]) -> str:
    """The hex SHA-256 that links ``row`` to the row before it."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_content(row)).hexdigest()
