from pathlib import Path

import numpy as np

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.model.gate import OodModel, rule_check


def study(pixels=None, notes=(), **meta):
    px = pixels if pixels is not None else np.random.default_rng(0).random((200, 180)).astype(np.float32)
    return Study(Path("x"), px, StudyMetadata(rows=px.shape[0], cols=px.shape[1], **meta), "0", notes=list(notes))


def test_plain_chest_film_passes_rules():
    assert rule_check(study(modality="CR", body_part="CHEST", view_position="PA")).accepted


def test_rules_reject_with_specific_reasons():
    cases = {
        "modality CT": study(modality="CT"),
        "body part HAND": study(modality="DX", body_part="HAND"),
        "frontal": study(view_position="LL"),
        "colour": study(notes=["colour image converted to grayscale"]),
        "aspect ratio": study(np.random.default_rng(1).random((100, 400)).astype(np.float32)),
        "blank": study(np.full((100, 100), 0.5, np.float32)),
        "saturated": study((np.random.default_rng(2).random((100, 100)) > 0.5).astype(np.float32)),
    }
    for words, s in cases.items():
        g = rule_check(s)
        assert not g.accepted and words in g.reason, (words, g.reason)


def test_ood_model_scores_far_points_higher(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(0, 1, (500, 16))
    m = OodModel.fit(feats, threshold=6.0)
    assert m.check(np.zeros((1, 16))).accepted
    far = m.check(np.full((1, 16), 5.0))
    assert not far.accepted and "out-of-distribution" in far.reason
    m.save(str(tmp_path / "g.npz"))
    m2 = OodModel.load(str(tmp_path / "g.npz"))
    assert np.allclose(m2.score(feats[:5]), m.score(feats[:5])) and m2.threshold == 6.0


def test_gate_reason_prints_enough_digits_to_tell_score_and_limit_apart():
    """Issue 18.9: "score 8.2 > 8.2" read as a contradiction."""
    from xray_desktop.model.gate import distinct

    assert distinct(8.2341, 8.1977) == "8.23 > 8.20"
    assert distinct(8.2041, 8.1977) == "8.204 > 8.198"
    assert distinct(9.0, 8.0) == "9.0 > 8.0"


def test_inverted_film_is_refused_and_the_upright_one_accepted(tmp_path):
    from PIL import Image

    from xray_desktop.training.probes import reference_image

    reference_image(tmp_path / "ref.png")
    film = np.asarray(Image.open(tmp_path / "ref.png"), dtype=np.float32) / 255
    assert rule_check(study(film)).accepted
    for shifted in (film**0.5, film**2.0):  # a LUT never makes a film look inverted
        assert rule_check(study(shifted)).accepted
    g = rule_check(study(1.0 - film))
    assert not g.accepted and "inverted" in g.reason


def test_ood_score_is_the_mahalanobis_distance_and_fast_at_768_features():
    import time

    from xray_desktop.model.gate import OodModel

    rng = np.random.default_rng(3)
    feats = rng.normal(size=(2000, 768))
    ood = OodModel.fit(feats)
    x = rng.normal(size=(5, 768))
    d = x - ood.mean
    want = np.sqrt(np.einsum("ij,jk,ik->i", d, ood.precision, d))
    np.testing.assert_allclose(ood.score(x), want, rtol=1e-9)
    rounds = []
    for _ in range(3):  # the best of 3 rounds: the machine is shared, other jobs take the cache
        t0 = time.process_time()
        for _ in range(50):
            ood.score(x[:1])
        rounds.append((time.process_time() - t0) / 50)
    assert min(rounds) < 1e-3  # the 3-operand einsum loop took ~2 ms per study; now ~0.5 ms
