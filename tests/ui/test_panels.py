"""The AI panel, the diagnosis panel, the work list model and the settings wrapper."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import make_card
from helpers import make_folder, open_and_wait, row_by_name, select
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem

from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis, StudyMetadata
from xray_desktop.ui.diagnosis_panel import DiagnosisPanel, agreement
from xray_desktop.ui.dialogs import TagsDialog
from xray_desktop.ui.prediction_panel import PREVALENCE_TEXT, PredictionPanel
from xray_desktop.ui.settings_store import SettingsStore
from xray_desktop.ui.study_list import Status, StudyListModel
from xray_desktop.ui.study_list_panel import StudyFilterProxy, StudyListPanel
from xray_desktop.ui.threshold_control import to_slider


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def test_threshold_moves_update_rates_and_label(qtbot):
    card = make_card()
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_card(card)
    assert panel.operating_point_name() == "balanced" and panel.threshold() == 0.5
    panel.set_prediction(0.6)
    assert panel.ai_label_text() == "AI: Pneumonia"
    r = card.rates_at(0.5, 0.3)
    assert panel.sensitivity_label.text() == _pct(r.sensitivity)
    assert panel.ppv_label.text() == _pct(r.ppv)

    with qtbot.waitSignal(panel.threshold_changed) as sig:
        panel.slider.setValue(to_slider(0.8))  # the slider runs on a logit scale
    assert sig.args[0] == pytest.approx(0.8, abs=2e-3) and panel.operating_point_name() == ""
    assert panel.threshold_spin.value() == sig.args[0]  # the threshold is shown as a number
    r = card.rates_at(panel.threshold(), 0.3)
    assert panel.ai_label_text() == "AI: Normal"
    assert panel.sensitivity_label.text() == _pct(r.sensitivity)
    assert panel.specificity_label.text() == _pct(r.specificity)
    assert panel.roc.current == (1 - r.specificity, r.sensitivity)

    panel.preset_buttons["high-sensitivity"].click()
    assert panel.threshold() == 0.25 and panel.preset_buttons["high-sensitivity"].isChecked()
    assert panel.ai_label_text() == "AI: Pneumonia"

    panel.prevalence_spin.setValue(10.0)
    r = card.rates_at(0.25, 0.10)
    assert panel.ppv_label.text() == _pct(r.ppv) and panel.npv_label.text() == _pct(r.npv)
    panel.set_prediction(0.9, gate_accepted=False, gate_reason="lateral view")
    assert panel.ai_label_text() == "Not assessed (input gate)"
    assert panel.gate_label.isVisibleTo(panel) and "lateral view" in panel.gate_label.text()
    assert not panel.roc.grab().isNull()


def test_prevalence_is_explained_and_unavailable_is_stated(qtbot):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    assert panel.prevalence() == 0.30
    texts = [w.text() for w in panel.findChildren(type(panel.status_label))]
    assert PREVALENCE_TEXT in texts and "pediatric ED" in PREVALENCE_TEXT
    panel.set_unavailable("AI model unavailable: no model card at /x")
    assert panel.status_label.text() == "AI model unavailable: no model card at /x"
    assert not panel.controls.isEnabled()


def test_threshold_in_the_window_relabels_rows_and_is_remembered(qtbot, make_window, settings_store, tmp_path):
    folder = make_folder(tmp_path, levels=(0.2, 0.5, 0.8), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    mid = row_by_name(w, "study_001.png")  # p ~ 0.50
    select(qtbot, w, mid)
    panel = w.prediction_panel
    panel.set_threshold(0.3)
    assert w.model.index(mid, 4).data() == "Pneumonia" and panel.ai_label_text() == "AI: Pneumonia"
    sens_low = panel.sensitivity_label.text()
    panel.slider.setValue(to_slider(0.7))
    assert w.model.index(mid, 4).data() == "Normal" and panel.ai_label_text() == "AI: Normal"
    assert panel.sensitivity_label.text() != sens_low
    sha = panel.card.sha256
    saved = settings_store.get_optional_float(keys.model_setting_key(keys.THRESHOLD, sha))
    assert saved == pytest.approx(0.7, abs=2e-3)
    panel.apply_operating_point("high-specificity")
    assert settings_store.get(keys.model_setting_key(keys.OPERATING_POINT, sha)) == "high-specificity"
    assert settings_store.get_optional_float(keys.THRESHOLD) is None  # nothing global to leak
    w.close()
    # A new window starts at the remembered operating point.
    w2 = make_window()
    assert w2.prediction_panel.operating_point_name() == "high-specificity"
    assert w2.prediction_panel.threshold() == 0.75


def test_a_threshold_saved_for_one_model_does_not_apply_to_another(qtbot, make_window, settings_store, monkeypatch):
    w = make_window()
    w.prediction_panel.set_threshold(0.3)
    w.close()
    import fakes

    other = fakes.card_data()
    other["sha256"] = "e" * 64  # another model file
    monkeypatch.setattr(fakes, "make_card", lambda: fakes.ModelCard(other))
    w2 = make_window()
    assert w2.prediction_panel.card.sha256 == "e" * 64
    default = w2.prediction_panel.card.operating_point().threshold
    assert abs(default - 0.3) > 0.01
    assert w2.prediction_panel.threshold() == pytest.approx(default)


def test_diagnosis_panel_requires_complete_input(qtbot):
    p = DiagnosisPanel()
    qtbot.addWidget(p)
    p.setEnabled(True)
    assert not p.confirm_button.isEnabled() and "diagnosis" in p.problem()
    p.set_diagnosis(Diagnosis.OTHER)
    assert "other finding" in p.problem()
    p.other_edit.setText("pneumothorax")
    assert "confidence" in p.problem()
    p.set_confidence(2)
    assert p.problem() == "" and p.confirm_button.isEnabled()
    assert p.other_finding() == "pneumothorax"
    p.clear()
    assert p.diagnosis() is None and p.confidence() is None
    assert agreement(Diagnosis.PNEUMONIA, "PNEUMONIA") == "agree"
    assert agreement(Diagnosis.NORMAL, "PNEUMONIA") == "disagree"
    assert agreement(Diagnosis.OTHER, "NORMAL") == "n/a"
    assert agreement(Diagnosis.NORMAL, "") == "n/a"


def test_list_sorting_and_filtering(qtbot):
    model = StudyListModel()
    model.add_paths([Path(f"/x/{n}.png") for n in ("b", "a", "c", "d")])
    model.add_paths([Path("/x/a.png")])  # duplicates are ignored
    assert len(model.rows) == 4
    for row, (p, status) in enumerate(((0.4, Status.AI_READY), (0.9, Status.CONFIRMED), (None, Status.ERROR),
                                       (0.7, Status.AI_READY))):
        model.rows[row].probability, model.rows[row].status = p, status
        if status == Status.CONFIRMED:
            model.rows[row].read = SimpleNamespace(final_diagnosis=Diagnosis.PNEUMONIA)
        model.touch(row)
    model.flush()
    proxy = StudyFilterProxy()
    proxy.setSourceModel(model)

    def names() -> list[str]:
        return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]

    proxy.set_sort_mode("probability")
    assert names() == ["a.png", "d.png", "b.png", "c.png"]
    proxy.set_sort_mode("name")
    assert names() == ["a.png", "b.png", "c.png", "d.png"]
    proxy.set_sort_mode("status")
    assert names()[-1] == "a.png" and names()[-2] == "c.png"
    proxy.set_unconfirmed_only(True)
    assert "a.png" not in names() and len(names()) == 3
    model.rows[0].metadata = StudyMetadata(patient_name="DOE^JANE", study_date="20240131")
    model.touch(0)
    assert model.has_pending_changes()
    model.flush()
    assert model.index(0, 0).data() == "DOE JANE" and model.index(0, 1).data() == "2024-01-31"
    assert model.index(2, 2).data(Qt.ItemDataRole.DisplayRole) == "error"


def test_rows_added_under_a_sorted_proxy_land_in_order_and_stay_lean(qtbot):
    model = StudyListModel()
    proxy = StudyFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_sort_mode("name")
    model.add_paths([Path(f"/x/{n}.png") for n in ("m", "z", "b")])
    model.add_paths([Path(f"/x/{n}.png") for n in ("a", "y")])  # a second chunk, as a folder scan sends
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == ["a.png", "b.png", "m.png", "y.png", "z.png"]
    assert not model.index(0, 0).flags() & Qt.ItemFlag.ItemIsEditable
    # The cells are the model's own C++ items: no Python wrapper kept per cell (~2 KB a row).
    model.add_paths([Path(f"/many/{i}.png") for i in range(300)])
    gc.collect()
    assert sum(isinstance(o, QStandardItem) for o in gc.get_objects()) < 10


def test_next_row_follows_the_view_order_and_wraps(qtbot):
    model = StudyListModel()
    panel = StudyListPanel(model)
    qtbot.addWidget(panel)
    model.add_paths([Path(f"/x/{n}.png") for n in ("d", "b", "e", "a", "c")])  # source rows 0..4
    panel.set_sort_mode("name")  # view: a(3) b(1) c(4) d(0) e(2)
    assert panel.row_below(3) == 1 and panel.row_below(0) == 2 and panel.row_below(2) == -1
    anything = lambda r: True  # noqa: E731
    assert panel.next_row_where(4, anything) == 0  # c -> d
    assert panel.next_row_where(2, anything) == 3  # e wraps round to a
    assert panel.next_row_where(1, lambda r: r in (3, 2)) == 2  # skips c and d; a is found only after e
    assert panel.next_row_where(1, lambda r: r == 1) == -1  # never itself
    model.rows[4].status = Status.CONFIRMED
    model.touch(4)
    model.flush()
    panel.unconfirmed_check.setChecked(True)  # c is filtered out: search from the top
    assert panel.row_below(4) == -1 and panel.next_row_where(4, anything) == 3


def test_settings_store_types_round_trip(tmp_path):
    s = SettingsStore(tmp_path / "s.ini")
    assert s.get(keys.PREVALENCE) == 0.30 and s.get(keys.HEATMAP_VISIBLE) is True
    assert s.get(keys.RECENT_FOLDERS) == [] and s.get_optional_float(keys.THRESHOLD) is None
    s.set(keys.PREVALENCE, 0.12)
    s.set(keys.HEATMAP_VISIBLE, False)
    s.set(keys.RECENT_FOLDERS, ["/one"])
    s.set(keys.THRESHOLD, 0.42)
    s.sync()
    t = SettingsStore(tmp_path / "s.ini")
    assert t.get(keys.PREVALENCE) == 0.12 and t.get(keys.HEATMAP_VISIBLE) is False
    assert t.get(keys.RECENT_FOLDERS) == ["/one"] and t.get_optional_float(keys.THRESHOLD) == 0.42
    t.set(keys.THRESHOLD, None)
    assert t.get_optional_float(keys.THRESHOLD) is None
    # The fixture-free default points at the env override, never the real user folder.
    assert SettingsStore().path.name == "settings.ini" and "cfg" in str(SettingsStore().path)


def test_tags_dialog_search_filters_rows(qtbot):
    tags = [("(0010,0010)", "Patient's Name", "DOE^JANE"), ("(0008,0060)", "Modality", "DX"),
            ("(0018,5101)", "View Position", "PA")]
    d = TagsDialog(tags)
    qtbot.addWidget(d)
    assert d.visible_rows() == 3
    d.search.setText("modal")
    assert d.visible_rows() == 1
    d.search.setText("pa")
    assert d.visible_rows() == 2  # "Patient's Name" and the value "PA"
    d.search.clear()
    assert d.visible_rows() == 3
