"""Issue 17.2: predict's CSV keeps negative logits (and every numeric column) as plain numbers."""

import csv
import sys
from pathlib import Path

import pytest

from tests.model.test_classifier import chest_png
from tests.model.test_predict_output import _Clf
from xray_desktop.cli import main
from xray_desktop.model import classifier as classifier_mod

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))
from test_csv_numbers import assert_numeric_columns_parse

NUMERIC = {"probability", "threshold", "logit", "ood_score", "elapsed_ms"}


def test_predict_csv_numbers_parse_as_floats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_mod.Classifier, "load", classmethod(lambda cls, *a, **k: _Clf()))  # logit -0.5
    root = tmp_path / "in"
    root.mkdir()
    for i in range(4):
        chest_png(root / f"c{i}.png", lung_level=0.05 + 0.15 * i)
    out = tmp_path / "out.csv"
    assert main(["predict", str(root), "--csv", str(out), "--threshold", "0.5"]) == 0
    with open(out, encoding="utf-8", newline="") as fh:
        logits = [r["logit"] for r in csv.DictReader(fh)]
    assert logits == ["-0.500000"] * 4  # old guard: "'-0.500000", text in a spreadsheet
    assert assert_numeric_columns_parse(out, NUMERIC) >= 4 * 4
