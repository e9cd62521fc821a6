"""Regression tests for findings: each is a committed tiny file under seeds/ with its expected outcome.

* ``png_crc_chunk_name_newline.png`` (long fuzz run): a bad CRC in a chunk whose mutated type
  holds a newline; the reason quoted the chunk name and spanned two lines (a broken CSV row,
  a two-line GUI detail). Fixed in io/loader.py: reasons are made one printable line.
* ``dicom_sop_class_newline.dcm`` (found while checking the scan path the same way): a file
  meta SOP class UID of the structured-report family with a newline inside; the folder
  scan's "not an image (...)" reason quoted it verbatim. Fixed in io/scan.py.
* ``dicom_sequence_item_huge_length.dcm`` (long fuzz run, 35,000 inputs): a 1.4 KB file whose
  sequence item declares ~3.7 GB; pydicom reads sequence values eagerly with one
  ``read(length)``, and Python allocates the whole buffer first (3.76 GB traced; under an
  address-space cap the refusal became "not enough memory"). Fixed in io/dicom.py: reads are
  clamped to the bytes left in the file.

New fuzz findings go here too: copy the input from the fuzz run's ``findings/`` folder and
add its expected message below.
"""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest

from xray_desktop.io import StudyLoadError, load_study, scan

SEEDS = Path(__file__).with_name("seeds")
# file -> (load_study outcome: the refusal message, or "" for a successful load; the scan's reason)
EXPECTED = {
    "png_crc_chunk_name_newline.png": ("PNG data is corrupt (bad CRC in ID?\ufffd chunk)", ""),
    "dicom_sop_class_newline.dcm": ("", "not an image (1.2.840.10008.5.1.4.1.1.88.?1)"),
    "dicom_sequence_item_huge_length.dcm": ("not a readable DICOM file (No tag to read at file position 5A6)", ""),
}
PEAK_BYTES = 50_000_000


def test_every_seed_has_an_expectation():
    assert sorted(p.name for p in SEEDS.iterdir()) == sorted(EXPECTED)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_gives_its_expected_one_line_outcome(name):
    path = SEEDS / name
    message, reason = EXPECTED[name]
    tracemalloc.start()
    try:
        if message:
            with pytest.raises(StudyLoadError) as exc:
                load_study(path)
            assert str(exc.value) == message and str(exc.value).isprintable()
        else:
            assert load_study(path).pixels.ndim == 2
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{name}: allocated {peak / 1e6:.0f} MB"
    (item,) = scan([path])
    assert item.skip_reason == reason and item.skip_reason.isprintable()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_seed_reasons_stay_one_csv_row_each(tmp_path):
    """What the user sees: one row per file, each reason on one line (predict's error path)."""
    from xray_desktop.model.commands import COLUMNS, _rows

    class NoModel:
        version = "none"

        def predict_many(self, studies, batch_size, heatmap):  # pragma: no cover - nothing loads here
            raise AssertionError("only error rows expected")

    broken = [SEEDS / n for n, (msg, reason) in EXPECTED.items() if msg or reason]
    rows = list(_rows(NoModel(), [str(p) for p in broken], 0.5, "custom", heatmap=False))
    out = tmp_path / "rows.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + len(broken)
    assert {r["error"] for r in rows} == {m or r for m, r in (EXPECTED[p.name] for p in broken)}
