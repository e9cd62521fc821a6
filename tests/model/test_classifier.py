"""Classifier runtime against a tiny model built here (imports TensorFlow: kept few)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.model.tiny_model import build_tiny_model_dir
from xray_desktop.io import load_study
from xray_desktop.model.classifier import Classifier, ModelError


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("keras")
    return build_tiny_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def clf(tiny_dir):
    return Classifier.load(tiny_dir, require_trust=False)  # the trust step has its own tests


@pytest.fixture
def copy_dir(tiny_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_dir, d)
    return d


def chest_png(path, lung_level=0.2, size=(240, 200)):
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / np.array(size).reshape(2, 1, 1)
    img = np.full(size, 0.6)
    for cx in (0.3, 0.7):
        img[((xx - cx) / 0.15) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1] = lung_level
    img += np.random.default_rng(0).normal(0, 0.02, size)
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def test_predict_returns_a_complete_prediction(clf, tmp_path):
    study = load_study(chest_png(tmp_path / "a.png"))
    p = clf.predict(study)
    assert 0.0 <= p.probability <= 1.0
    assert p.probability == pytest.approx(float(clf.card.calibrate(p.logit)))
    assert p.heatmap.shape == study.pixels.shape and p.heatmap.dtype == np.float32
    assert 0.0 <= p.heatmap.min() and p.heatmap.max() <= 1.0
    assert p.heatmap.std() > 0  # not constant
    assert p.model_version.startswith("0.0.1-test (custom model, card sha256 ") and p.model_sha256 == clf.sha256
    assert clf.custom and p.model_version == clf.version and clf.identity[:16] in p.model_version
    assert p.model_input.shape == (192, 192, 1)
    assert p.gate.accepted and p.elapsed_ms > 0


def test_heatmap_changes_when_the_lung_field_changes(clf, tmp_path):
    a = clf.predict(load_study(chest_png(tmp_path / "a.png", lung_level=0.2)))
    b = clf.predict(load_study(chest_png(tmp_path / "b.png", lung_level=0.45)))
    assert np.abs(a.heatmap - b.heatmap).mean() > 1e-3


def test_predict_many_matches_predict_and_is_lazy(clf, tmp_path):
    studies = [load_study(chest_png(tmp_path / f"{i}.png", lung_level=0.1 + 0.05 * i)) for i in range(5)]
    many = list(clf.predict_many(studies, batch_size=2, heatmap=False))
    assert [m.heatmap for m in many] == [None] * 5
    for s, m in zip(studies, many, strict=True):
        assert m.probability == pytest.approx(clf.predict(s).probability, abs=1e-5)
    consumed = []

    def source():
        for s in studies:
            consumed.append(s)
            yield s

    it = clf.predict_many(source(), batch_size=2)
    next(it)
    assert len(consumed) == 2  # only one batch held in memory


def test_inference_traces_once_for_every_batch_size_and_equals_the_eager_call(clf):
    # An eager Keras call dispatched each layer from Python: model 2 spent ~90 % of its
    # latency there. The runtime now runs one traced graph whatever the batch size.
    rng = np.random.default_rng(1)
    for n in (1, 3, 16, 2):
        x = rng.uniform(-1, 1, (n, 192, 192, 1)).astype(np.float32)
        feats, logits = clf._run(x)
        eager = np.asarray(clf._model(x, training=False)).reshape(-1)
        assert logits.shape == (n,) and feats.shape[0] == n
        np.testing.assert_allclose(logits, eager, atol=1e-5)
        np.testing.assert_allclose(clf.raw_logits(x), eager, atol=1e-5)
    assert clf._call.experimental_get_tracing_count() == 1  # the warm-up's trace, no retrace


def test_one_flipped_byte_is_refused_before_loading(copy_dir):
    path = copy_dir / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="fails its integrity check"):
        Classifier.load(copy_dir)


def test_missing_model_and_folder(copy_dir, tmp_path):
    (copy_dir / "model.keras").unlink()
    with pytest.raises(ModelError, match="missing"):
        Classifier.load(copy_dir)
    with pytest.raises(ModelError, match="no model folder"):
        Classifier.load(tmp_path / "nowhere")


def test_h5_file_in_model_folder_is_refused(copy_dir):
    (copy_dir / "weights.h5").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ModelError, match="unexpected file weights.h5"):
        Classifier.load(copy_dir)


def test_card_pointing_at_h5_is_refused(copy_dir):
    card = json.loads((copy_dir / "model_card.json").read_text())
    card["file"] = "model.h5"
    (copy_dir / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="only a .keras file"):
        Classifier.load(copy_dir)


def test_untrusted_custom_model_is_refused_and_loads_once_trusted(copy_dir):
    with pytest.raises(ModelError, match="not the bundled model"):
        Classifier.load(copy_dir)
    from xray_desktop.cli import main

    assert main(["model", "trust", str(copy_dir)]) == 0
    assert Classifier.load(copy_dir).custom


def test_lambda_layer_is_refused_before_deserialising(tmp_path):
    d = build_tiny_model_dir(tmp_path / "lam", lambda_layer=True)
    with pytest.raises(ModelError, match="Lambda layer"):
        Classifier.load(d)


def test_altered_gate_file_is_refused(copy_dir):
    with open(copy_dir / "gate.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelError, match="input-gate file"):
        Classifier.load(copy_dir)


def test_thresholds_come_from_the_card(clf):
    assert clf.operating_point().name == "balanced"
    assert clf.operating_point("high-sensitivity").threshold == 0.2
    r = clf.card.rates_at(0.5, prevalence=0.3)
    assert r.sensitivity == pytest.approx(0.875, abs=1e-3) and 0 < r.ppv < 1 and 0 < r.npv < 1


def test_heatmap_colour_is_absolute_not_scaled_to_each_study():
    """Issue 17.10: the same logit contribution gets the same colour on every study."""
    from xray_desktop.model.heatmap import absolute, heatmap

    weak = np.full((4, 4, 1), 0.1, np.float32)
    weak[0, 0, 0] = 0.2
    strong = weak * 50
    w = np.ones(1, np.float32)
    a, b = heatmap(weak, w, 8, 8, scale=10.0), heatmap(strong, w, 8, 8, scale=10.0)
    assert a.max() < 0.05 and b.max() == 1.0  # the old per-study scaling gave both a max of 1
    assert absolute(np.array([-3.0, 0.0, 5.0, 20.0]), 10.0).tolist() == [0.0, 0.0, 0.5, 1.0]


def test_heat_shape_keeps_small_films_and_caps_large_ones_with_their_aspect():
    from xray_desktop.model.heatmap import MAX_SIDE, heat_shape

    assert heat_shape(240, 200) == (240, 200)
    assert heat_shape(MAX_SIDE, 300) == (MAX_SIDE, 300)
    assert heat_shape(2500, 2048) == (512, 419)
    assert heat_shape(2048, 2500) == (419, 512)
    assert heat_shape(40000, 10) == (512, 1)  # never a zero-size map


def test_a_large_film_gets_a_heat_map_capped_at_512_px_with_its_aspect(clf, tmp_path):
    """A 2,500 x 2,048 film's map at its own size took 26 ms to draw and 210 ms to colour in the GUI."""
    study = load_study(chest_png(tmp_path / "big.png", size=(1500, 1230)))
    p = clf.predict(study)
    assert p.heatmap.shape == (512, 420) and p.heatmap.dtype == np.float32
    assert p.heatmap.std() > 0 and 0.0 <= p.heatmap.min() and p.heatmap.max() <= 1.0
    small = clf.predict(load_study(chest_png(tmp_path / "small.png", size=(375, 308))))
    # the same film at a quarter of the size: the same map, up to resampling
    assert abs(float(p.heatmap.mean()) - float(small.heatmap.mean())) < 0.05
