"""Model 2: several members merged into one Keras model that the runtime loads unchanged."""

import json
import shutil

import numpy as np
import pytest

from tests.model.tiny_model import synthetic_card
from xray_desktop.io.loader import file_sha256
from xray_desktop.model.preprocess import INPUT_SIZE
from xray_desktop.training.probes import reference_image

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def members():
    from xray_desktop.training.arch import build_model

    out = []
    for seed, width in ((1, 4), (2, 8)):
        keras.utils.set_random_seed(seed)
        m = build_model(INPUT_SIZE, width=width, pool=2)  # the shipped members' layout
        # non-trivial batch-norm statistics, so a mis-copied layer shows
        for layer in m.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                g, b, mu, var = layer.get_weights()
                rng = np.random.default_rng(seed)
                layer.set_weights([g * rng.uniform(0.5, 1.5, g.shape), b + rng.normal(0, 0.1, b.shape),
                                   mu + rng.normal(0, 0.1, mu.shape), var * rng.uniform(0.5, 2, var.shape)])
        out.append((m, width))
    return out


def _x(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, INPUT_SIZE, INPUT_SIZE, 1)).astype(np.float32)


def test_merged_model_is_the_scaled_sum_of_its_members(members):
    from xray_desktop.training.arch import build_ensemble
    from xray_desktop.training.robust import predict_logits

    scales, offsets = [0.4, 0.25], [0.3, -1.0]
    ens = build_ensemble([m for m, _ in members], [w for _, w in members], scales, offsets, INPUT_SIZE, [2, 2])
    x = _x()
    want = sum(s * (predict_logits(m, x) + o) for s, o, (m, _) in zip(scales, offsets, members, strict=True))
    assert np.allclose(predict_logits(ens, x), want, atol=1e-4)
    assert ens.get_layer("features").output.shape[-1] == 512
    assert '"Lambda"' not in json.dumps(ens.get_config())


@pytest.fixture(scope="module")
def ensemble_dir(members, tmp_path_factory):
    from xray_desktop.model.classifier import Classifier
    from xray_desktop.model.gate import OodModel
    from xray_desktop.training.arch import build_ensemble

    folder = tmp_path_factory.mktemp("ens")
    ens = build_ensemble([m for m, _ in members], [w for _, w in members], [-0.5, -0.5], [0.0, 0.0], INPUT_SIZE, [2, 2])
    # negative scales: these random members push the logit down, so the (absolute, positive-only)
    # heat map would be empty; flipped, it shows evidence, which selftest requires
    ens.save(folder / "model.keras")
    OodModel.fit(np.random.default_rng(0).random((600, 512)), threshold=1e6).save(str(folder / "gate.npz"))
    reference_image(folder / "reference.png")
    card = synthetic_card(file_sha256(folder / "model.keras"),
                          gate={"file": "gate.npz", "sha256": file_sha256(folder / "gate.npz")},
                          heatmap={"scale_logit": 0.05})  # random members: cells add little to the logit
    (folder / "model_card.json").write_text(json.dumps(card))
    clf = Classifier.load(folder, require_trust=False)
    from xray_desktop.io import load_study

    pred = clf.predict(load_study(folder / "reference.png"))
    card["reference"] = {"image": "reference.png", "probability": pred.probability, "logit": pred.logit,
                         "member_logits": [float(v) for v in clf.member_logits(pred.model_input[None])[0]]}
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


def test_runtime_loads_the_ensemble_with_heat_map_and_member_split(ensemble_dir):
    from xray_desktop.io import load_study
    from xray_desktop.model.classifier import Classifier

    clf = Classifier.load(ensemble_dir, require_trust=False)
    study = load_study(ensemble_dir / "reference.png")
    pred = clf.predict(study)
    assert pred.heatmap.shape == study.pixels.shape
    parts = clf.member_logits(pred.model_input[None])[0]
    bias = float(clf._model.get_layer("logit").get_weights()[1][0])
    assert len(parts) == 2 and abs(parts.sum() + bias - pred.logit) < 1e-4


def test_selftest_checks_every_member(ensemble_dir, tmp_path, capsys):
    from xray_desktop.cli import main

    assert main(["model", "trust", str(ensemble_dir)]) == 0  # a custom model must be trusted first
    capsys.readouterr()
    assert main(["selftest", "--model-dir", str(ensemble_dir)]) == 0
    assert "2 members" in capsys.readouterr().out
    bad = tmp_path / "bad"
    shutil.copytree(ensemble_dir, bad)
    card = json.loads((bad / "model_card.json").read_text())
    # members that drift in opposite directions leave the ensemble logit unchanged
    card["reference"]["member_logits"][0] += 0.5
    card["reference"]["member_logits"][1] -= 0.5
    (bad / "model_card.json").write_text(json.dumps(card))
    assert main(["model", "trust", str(bad)]) == 0  # trusted, so the member check is what refuses it
    capsys.readouterr()
    assert main(["selftest", "--model-dir", str(bad)]) == 1
    assert "ensemble member logits" in capsys.readouterr().err
