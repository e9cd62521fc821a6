"""Records: the append-only, hash-chained store of confirmed reads, and its CSV export.

    from xray_desktop.records import Store, ReadInput
    with Store.open() as store:
        read = store.add_read(ReadInput(...))

Nothing here imports Qt or TensorFlow, and nothing here logs PHI.
"""

from xray_desktop.records.export import escape_cell, export_csv, unescape_cell
from xray_desktop.records.reads import (
    PHI_FIELDS,
    InvalidReadError,
    Read,
    ReadInput,
    StoreError,
    VerifyResult,
)
from xray_desktop.records.store import Store

__all__ = [
    "PHI_FIELDS",
    "InvalidReadError",
    "Read",
    "ReadInput",
    "Store",
    "StoreError",
    "VerifyResult",
    "escape_cell",
    "export_csv",
    "unescape_cell",
]
