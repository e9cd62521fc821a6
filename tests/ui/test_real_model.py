"""End to end with the real bundled model (slow)."""

import json

import pytest

from xray_desktop.resources import model_dir

pytestmark = pytest.mark.slow


def test_real_model_through_the_window(qtbot, settings_store, store, tmp_path):
    from helpers import open_and_wait, select

    from xray_desktop.model.classifier import Classifier
    from xray_desktop.ui.main_window import MainWindow

    w = MainWindow(settings_store, store, lambda: Classifier.load())
    qtbot.addWidget(w)
    ref = json.loads((model_dir() / "model_card.json").read_text())["reference"]
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "ref.png").write_bytes((model_dir() / "reference.png").read_bytes())
    w.show()
    # opened while the model is still loading, as `xray-desktop FOLDER` does: this once
    # deadlocked when the worker was a QThread
    open_and_wait(qtbot, w, [folder], n_rows=1, timeout=60_000)
    assert w.inference.state == "ready"
    row = w.model.rows[0]
    assert row.probability == pytest.approx(ref["probability"], abs=ref["tolerance"])
    select(qtbot, w, 0)
    w.shutdown()
