"""The real bundled model (slow: loads TensorFlow and the shipped weights)."""

import csv

import numpy as np
import pytest

from xray_desktop.cli import main
from xray_desktop.io.loader import file_sha256
from xray_desktop.model.card import ModelCard
from xray_desktop.resources import model_dir

pytestmark = pytest.mark.slow


def test_committed_model_matches_its_card_and_is_small():
    card = ModelCard.load(model_dir())
    path = model_dir() / card.model_file
    assert file_sha256(path) == card.sha256
    assert path.stat().st_size < 25e6


def test_selftest_passes(capsys):
    assert main(["selftest"]) == 0
    assert "selftest passed" in capsys.readouterr().out


def test_predict_every_file_gets_a_row(tmp_path):
    from PIL import Image

    from xray_desktop.training.probes import reference_image

    tmp_path = tmp_path / "in"  # not the test's root: predict's log folder lives there
    tmp_path.mkdir()
    reference_image(tmp_path / "ref.png")
    Image.open(tmp_path / "ref.png").convert("RGB").save(tmp_path / "ref.jpeg")
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 10)
    out = tmp_path / "out.csv"
    assert main(["predict", str(tmp_path), "--csv", str(out)]) == 0
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"ref.png", "ref.jpeg", "junk.dcm"}
    assert rows["junk.dcm"]["status"] == "error"
    png, jpg = rows["ref.png"], rows["ref.jpeg"]
    assert png["status"] == jpg["status"]  # same film, lossy re-encode
    if png["status"] == "ok":
        assert abs(float(png["probability"]) - float(jpg["probability"])) < 0.05
    else:  # the synthetic reference film is refused by the gate: no probability to compare (#17.3)
        assert png["probability"] == jpg["probability"] == "" and png["ai_label"] == jpg["ai_label"] == ""
        assert abs(float(png["ood_score"]) - float(jpg["ood_score"])) < 0.5


def test_heatmap_and_gate_on_a_transformed_film():
    from xray_desktop.io import load_study
    from xray_desktop.model.classifier import Classifier

    clf = Classifier.load()
    study = load_study(model_dir() / "reference.png")
    pred = clf.predict(study)
    assert pred.heatmap.shape == study.pixels.shape and pred.heatmap.std() > 0
    noise = study.__class__(study.path, np.random.default_rng(0).random((256, 256)).astype(np.float32),
                            study.metadata, study.sha256)
    assert not clf.predict(noise, heatmap=False).gate.accepted


def test_card_operating_point_holds_through_the_serving_path():
    """The card's default-point sensitivity/specificity are what the app computes on the
    validation files (float32 decode + preprocess + runtime), not a training-cache artefact."""
    from pathlib import Path

    from xray_desktop.io import load_study
    from xray_desktop.model import metrics
    from xray_desktop.model.classifier import Classifier

    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kermany-224"
    if not data.is_dir():
        pytest.skip("training data not beside the checkout")
    clf = Classifier.load()
    rels = (model_dir() / "validation_files.txt").read_text().split()
    y = np.array([1 if "/PNEUMONIA/" in r else 0 for r in rels])
    probs = np.array([p.probability for p in clf.predict_many((load_study(data / r) for r in rels),
                                                              batch_size=32, heatmap=False)])
    op = clf.operating_point()
    got = metrics.confusion_at(y, probs, op.threshold)
    assert got["sensitivity"] == pytest.approx(op.sensitivity, abs=1e-9)
    assert got["specificity"] == pytest.approx(op.specificity, abs=1e-9)
    assert metrics.roc_auc(y, probs) == pytest.approx(clf.card.data["validation"]["auc"]["value"], abs=1e-6)
