"""predict's rows follow decision.verdict: refused or out-of-scope studies carry no AI answer (#17.3, #17.9)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.model.test_classifier import chest_png
from xray_desktop import decision
from xray_desktop.cli import main
from xray_desktop.domain import GateResult, Prediction, Study, StudyMetadata
from xray_desktop.model.commands import COLUMNS, prediction_row


def _study(age: float | None = None) -> Study:
    meta = StudyMetadata(patient_id="P1", age_years=age)
    return Study(Path("x.png"), np.zeros((4, 4), np.float32), meta, "ab" * 32)


def _pred(p: float, accepted: bool = True, reason: str = "", ood: float | None = 1.5, scope: str = "") -> Prediction:
    return Prediction(probability=p, logit=-2.5, heatmap=None, gate=GateResult(accepted, reason, ood),
                      model_version="9", model_sha256="s", elapsed_ms=3.0, out_of_scope=scope)


def test_gate_rejected_row_has_no_probability_label_or_logit_but_keeps_ood_score():
    row = prediction_row("x.png", _study(), _pred(0.0, False, "unlike the training films", ood=42.0), 0.5, "balanced")
    assert row["status"] == "rejected" and row["error"] == "unlike the training films"
    assert row["probability"] == "" and row["ai_label"] == "" and row["logit"] == ""
    assert row["ood_score"] == "42.000" and row["threshold"] == "0.500000" and row["file_sha256"] == "ab" * 32


def test_out_of_scope_row_is_rejected_with_the_reason():
    why = "outside intended use (age 62 y)"
    row = prediction_row("x.dcm", _study(62.0), _pred(0.997, scope=why), 0.5, "balanced")
    assert (row["status"], row["error"], row["probability"], row["ai_label"]) == ("rejected", why, "", "")


def test_accepted_row_is_unchanged():
    row = prediction_row("x.png", _study(), _pred(0.75), 0.5, "balanced")
    assert (row["status"], row["error"], row["probability"], row["ai_label"]) == ("ok", "", "0.750000", "PNEUMONIA")
    assert row["logit"] == "-2.500000" and set(row) == set(COLUMNS)


@pytest.mark.parametrize(
    ("p", "t", "accepted", "scope"),
    list(itertools.product([0.0, 0.1, 0.5, 0.9999, 1.0, float("nan")], [0.0, 0.5, 1.0], [True, False],
                           ["", "outside intended use (age 62 y)"])),
)
def test_cli_rows_agree_with_the_decision_module(p, t, accepted, scope):
    """The CLI and the GUI share one rule: the row says exactly what decision.verdict says."""
    v = decision.verdict(p, t, accepted, "refused", scope)
    row = prediction_row("x", _study(), _pred(p, accepted, "refused", scope=scope), t, "custom")
    assert row["ai_label"] == v.label == decision.ai_label(p, t, accepted, scope)
    assert (row["status"] == "ok") == v.assessed
    assert (row["probability"] == "") == (v.probability is None)
    if v.assessed:
        assert float(row["probability"]) == pytest.approx(p, abs=1e-6)
    else:
        assert row["error"] and row["logit"] == ""


@pytest.fixture(scope="module")
def aged_model(tmp_path_factory):
    """The tiny test model with the bundled card's intended ages."""
    pytest.importorskip("keras")
    from tests.model.tiny_model import build_tiny_model_dir

    d = build_tiny_model_dir(tmp_path_factory.mktemp("model"))
    card = json.loads((d / "model_card.json").read_text())
    card["intended_age_years"] = [1, 6]
    (d / "model_card.json").write_text(json.dumps(card))
    return d


@pytest.fixture
def aged_model_dir(aged_model):
    """The aged tiny model, trusted in this test's per-user data folder (a custom model must be)."""
    assert main(["model", "trust", str(aged_model)]) == 0
    return aged_model


def _dicom(path: Path, **attrs: str) -> Path:
    from tests.io.io_helpers import build_dataset, write

    arr = np.asarray(Image.open(chest_png(path.with_suffix(".png"))), dtype=np.uint16) * 16
    path.with_suffix(".png").unlink()
    return write(build_dataset(arr, BitsStored=12, **attrs), path)


def test_predict_end_to_end_rejects_refused_and_adult_studies(aged_model_dir, tmp_path, capsys):
    root = tmp_path / "in"
    root.mkdir()
    chest_png(root / "child.png")
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (100, 1))).save(root / "wide.png")
    _dicom(root / "adult.dcm", PatientAge="062Y")
    _dicom(root / "born1940.dcm", PatientBirthDate="19400101", StudyDate="20040101")
    _dicom(root / "toddler.dcm", PatientAge="003Y")
    assert main(["predict", str(root), "--threshold", "0", "--model-dir", str(aged_model_dir)]) == 0
    rows = {Path(r["path"]).name: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    for name in ("child.png", "toddler.dcm"):
        assert rows[name]["status"] == "ok" and rows[name]["ai_label"] == "PNEUMONIA" and rows[name]["probability"]
    assert rows["adult.dcm"]["error"] == "outside intended use (age 62 y)"
    assert rows["born1940.dcm"]["error"] == "outside intended use (age 64 y)"
    assert "aspect ratio" in rows["wide.png"]["error"]
    for name in ("adult.dcm", "born1940.dcm", "wide.png"):
        r = rows[name]
        assert (r["status"], r["probability"], r["ai_label"], r["logit"]) == ("rejected", "", "", ""), name


def test_legacy_card_without_ages_scores_adults(aged_model_dir, tmp_path, capsys):
    d = tmp_path / "legacy"
    shutil.copytree(aged_model_dir, d)
    card = json.loads((d / "model_card.json").read_text())
    del card["intended_age_years"]
    (d / "model_card.json").write_text(json.dumps(card))
    f = _dicom(tmp_path / "adult.dcm", PatientAge="062Y")
    assert main(["model", "trust", str(d)]) == 0  # an edited card is another custom model
    capsys.readouterr()
    assert main(["predict", str(f), "--model-dir", str(d)]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["status"] == "ok" and row["probability"]
