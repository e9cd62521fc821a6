"""Issue 17.2: every CSV export keeps its numeric columns numbers (a spreadsheet must see floats)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from records_helpers import make_input

from xray_desktop.records import Store
from xray_desktop.records.export import export_csv

# Columns that hold numbers in each layout; an empty cell means "no value".
NUMERIC = {"id", "confidence", "ai_probability", "threshold", "time_spent_ms", "supersedes", "rating"}


def assert_numeric_columns_parse(path: Path, numeric: set[str]) -> int:
    """Read ``path`` with the csv module; every non-empty numeric cell must parse as a finite float."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    checked = 0
    for row in rows:
        for name in numeric & set(row):
            cell = row[name]
            if cell:
                assert math.isfinite(float(cell)), (name, cell)  # "'-2.07" raises ValueError
                checked += 1
    return checked


@pytest.mark.parametrize(("layout", "deidentify"), [("reads", False), ("reads", True), ("mrmc", False)])
def test_export_numbers_stay_numbers(store: Store, tmp_path: Path, layout: str, deidentify: bool) -> None:
    first = store.add_read(make_input(ai_probability=0.0004, threshold=0.98, time_spent_ms=0))
    store.add_read(make_input(supersedes=first.id, ai_probability=1e-7, confidence=2))
    store.add_read(make_input(study_key="1.2.840.2", file_sha256="cd" * 32, ai_probability=None, threshold=None))
    out = tmp_path / f"{layout}.csv"
    export_csv(store, out, layout=layout, deidentify=deidentify, all_history=layout == "reads")
    assert assert_numeric_columns_parse(out, NUMERIC) >= (2 if layout == "mrmc" else 3)
