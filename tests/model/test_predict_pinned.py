"""End to end, the faster runtime predicts what the plain reference pipeline predicts.

The reference decodes through float32 RGB, equalises with np.histogram + np.interp, scores
the gate with a BLAS product and draws the CAM with tensordot (the code before the speed-up).
The tiny model runs in the default suite, the bundled one with ``-m slow``.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.io.test_raster_fast import reference as reference_decode
from tests.model.test_gate_fast import _reference_verdict
from tests.model.test_preprocess_fast import preprocess_reference
from tests.model.tiny_model import build_tiny_model_dir
from xray_desktop.io import load_study
from xray_desktop.model.heatmap import absolute, upsample


@pytest.fixture(scope="module", params=["tiny", pytest.param("bundled", marks=pytest.mark.slow)])
def clf(request, tmp_path_factory):
    pytest.importorskip("keras")
    from xray_desktop.model.classifier import Classifier

    if request.param == "tiny":
        return Classifier.load(build_tiny_model_dir(tmp_path_factory.mktemp("model")), require_trust=False)
    return Classifier.load()


def _films(folder) -> list:
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:240, 0:210]
    paths = []
    for i in range(6):
        img = 0.3 + 0.4 * (np.abs(xx / 210 - 0.5) < 0.08) + 0.1 * np.sin(yy / (7.0 + i))
        img = np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1)
        if i == 1:
            img = 1.0 - img  # inverted: the rules refuse it
        g8 = (img * 255).astype(np.uint8)
        p = folder / f"f{i}.{'jpeg' if i % 2 == 0 else 'png'}"
        if i == 4:
            Image.fromarray((img * 4095).astype(np.uint16)).save(folder / "f4.png")
            p = folder / "f4.png"
        elif i % 2 == 0:
            Image.fromarray(g8).convert("RGB").save(p, quality=92)
        else:
            Image.fromarray(g8).save(p)
        paths.append(p)
    return paths


def test_predictions_equal_the_reference_pipeline(clf, tmp_path):
    paths = _films(tmp_path)
    studies = [load_study(p) for p in paths]
    many = list(clf.predict_many(studies, batch_size=4))
    for path, study, pm in zip(paths, studies, many, strict=True):
        pixels, _, _ = reference_decode(path)
        np.testing.assert_array_equal(study.pixels, pixels)
        x = preprocess_reference(pixels)
        one = clf.predict(study)
        for p in (one, pm):
            np.testing.assert_array_equal(p.model_input, x)
        feats, logits = clf._run(x[None])
        assert one.logit == pytest.approx(float(logits[0]), rel=1e-6, abs=1e-6)
        assert one.probability == pytest.approx(float(clf.card.calibrate(logits)[0]), rel=1e-6, abs=1e-9)
        assert pm.logit == pytest.approx(one.logit, rel=1e-5, abs=1e-5)  # batch of 4 vs 1 in TF
        ok, words = _reference_verdict(study.pixels)
        if ok:
            d = feats.mean(axis=(1, 2)).astype(np.float64) - clf._ood.mean
            score = float(np.sqrt(((d @ clf._ood.precision) * d).sum()))
            ok = score <= clf._ood.threshold
            assert one.gate.ood_score == pytest.approx(score, rel=1e-5)  # pooled and product in the graph
        assert one.gate.accepted == ok and pm.gate.accepted == ok and words in one.gate.reason
        cam = np.tensordot(feats[0], clf._weights, axes=([2], [0]))
        ref_heat = np.clip(upsample(absolute(cam, clf._heat_scale), *study.pixels.shape), 0.0, 1.0)
        np.testing.assert_allclose(one.heatmap, ref_heat, atol=1e-5)


def test_prepared_inputs_give_the_same_predictions(clf, tmp_path):
    studies = [load_study(p) for p in _films(tmp_path)]
    prepared = [clf.prepare(s) if i % 2 else None for i, s in enumerate(studies)]  # some known, some not
    a = list(clf.predict_many(studies, batch_size=3))
    b = list(clf.predict_many(studies, batch_size=3, prepared=prepared))
    c = list(clf.predict_many(studies, batch_size=3, prepared=[clf.prepare(s) for s in studies]))
    for p, q, r in zip(a, b, c, strict=True):
        for other in (q, r):
            assert (other.probability, other.logit, other.gate) == (p.probability, p.logit, p.gate)
            np.testing.assert_array_equal(other.model_input, p.model_input)
            np.testing.assert_array_equal(other.heatmap, p.heatmap)
