"""The app runs without AI when the model is tampered with: end to end through the real window.

The refusals themselves (flipped byte, Lambda layer, stray .h5, all before deserialisation)
are unit-tested in tests/model/test_classifier.py; here the real ``Classifier.load`` is the
window's factory, and the window must say why the AI is unavailable and still work as a
viewer on which reads can be confirmed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xray_desktop.domain import Diagnosis, FailureKind


def _flip_byte(folder: Path) -> None:
    model = folder / "model.keras"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))


def _stray_h5(folder: Path) -> None:
    (folder / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)


TAMPERS = {
    "flipped_byte": (_flip_byte, "AI model refused: model.keras fails its integrity check (SHA-256 "),
    "stray_h5": (_stray_h5, "AI model refused: unexpected file weights.h5 in the model folder"),
    "lambda_layer": (None, "AI model refused: model.keras contains a Lambda layer (arbitrary code)"),
}


@pytest.fixture(scope="module")
def lambda_model_dir(tmp_path_factory) -> Path:
    pytest.importorskip("keras")
    from tests.model.tiny_model import build_tiny_model_dir

    return build_tiny_model_dir(tmp_path_factory.mktemp("lambda_model"), lambda_layer=True)


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_tampered_model_leaves_a_working_viewer(qtbot, open_window, tiny_model_dir, lambda_model_dir, tmp_path,
                                                monkeypatch, tamper):
    import keras
    from fakes import write_png
    from helpers import settled

    from xray_desktop.model.classifier import Classifier
    from xray_desktop.ui.study_list import Status

    change, reason = TAMPERS[tamper]
    model_dir = tmp_path / "model"
    shutil.copytree(lambda_model_dir if change is None else tiny_model_dir, model_dir)
    if change is not None:
        change(model_dir)
    deserialised: list[object] = []
    real_load = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: deserialised.append(a) or real_load(*a, **k))

    w = open_window(lambda: Classifier.load(model_dir))
    assert w.inference.state == "failed"
    assert w.inference.error.startswith(reason)
    assert deserialised == [], "the tampered model was deserialised before being refused"
    assert w.model_status.text() == "AI unavailable"
    assert w.inference.failure.kind == FailureKind.MODEL_REFUSED
    assert w.model_status.toolTip() == w.inference.error  # shown once, never re-prefixed
    assert w.prediction_panel.status_label.text() == w.inference.error

    folder = tmp_path / "studies"
    write_png(folder / "a.png", 0.3)
    write_png(folder / "b.png", 0.6)
    w.open_paths([folder])
    qtbot.waitUntil(lambda: len(w.model.rows) == 2 and settled(w), timeout=10_000)
    assert [r.status for r in w.model.rows] == [Status.LOADED, Status.LOADED]
    w.list_panel.select_source_row(0)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None, timeout=10_000)
    assert w.viewer.view.study().path == folder / "a.png"
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(4)
    assert w.confirm()
    read = w.store.latest_for(w.model.rows[0].key)
    assert read is not None and read.final_diagnosis == Diagnosis.PNEUMONIA
    assert read.ai_probability is None and read.ai_label == "" and read.model_version == ""
    assert w.store.verify().ok
