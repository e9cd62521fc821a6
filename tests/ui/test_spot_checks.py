"""Issue #16's spot checks in the GUI: one log line per save, defaults only from settings.py."""

from __future__ import annotations

import logging

from helpers import make_folder, open_and_wait, select

from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis
from xray_desktop.ui.image_view import ImageView
from xray_desktop.ui.prediction_panel import PredictionPanel
from xray_desktop.ui.viewer_panel import ViewerPanel


def test_a_confirmed_read_is_logged_once(qtbot, make_window, tmp_path, caplog):
    w = make_window()
    open_and_wait(qtbot, w, [make_folder(tmp_path, levels=(0.3,), broken=0)], 1)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    with caplog.at_level(logging.DEBUG, logger="xray_desktop"):
        assert w.confirm()
    saves = [r.getMessage() for r in caplog.records if "saved" in r.getMessage()]
    assert len(saves) == 1, saves


def test_view_and_prevalence_defaults_come_from_settings(qtbot):
    view, viewer, panel = ImageView(), ViewerPanel(), PredictionPanel()
    for widget in (view, viewer, panel):
        qtbot.addWidget(widget)
    assert view._heat_item.opacity() == keys.HEATMAP_OPACITY[1]
    assert viewer.view.heatmap_opacity() == keys.HEATMAP_OPACITY[1]
    assert panel.prevalence() == keys.PREVALENCE[1]
