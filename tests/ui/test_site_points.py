"""The AI panel takes its operating points from a source: the card's validation or the site profile."""

from __future__ import annotations

import pytest
from fakes import make_card
from helpers import make_folder, open_and_wait, row_by_name, select

from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis
from xray_desktop.model import site_profile
from xray_desktop.model.operating_points import CARD, SITE
from xray_desktop.model.site_profile import SiteProfile
from xray_desktop.ui.prediction_panel import PredictionPanel

FAKE_SHA = "f" * 64  # the fake classifier's model
SITE_T = 0.35


def profile_data(model_sha: str = FAKE_SHA) -> dict:
    """A site profile for the fake model: one point at 0.35, sensitivity 95 % (86–98), n = 120."""
    return site_profile.new_profile_data(
        model={"name": "fake-pneumonia", "version": "0.0-test", "sha256": model_sha},
        source={"kind": "labelled archive"}, n={"studies": 120, "positive": 60, "negative": 60},
        operating_points={"site": {"threshold": SITE_T, "label": "Site: sensitivity ≥ 95 %", "sensitivity": 0.95,
                                   "specificity": 0.6, "sensitivity_ci": [0.86, 0.98],
                                   "specificity_ci": [0.47, 0.71]}},
        default_operating_point="site",
        roc=[{"threshold": 0.0, "sensitivity": 1.0, "specificity": 0.0},
             {"threshold": SITE_T, "sensitivity": 0.95, "specificity": 0.6},
             {"threshold": 1.0, "sensitivity": 0.0, "specificity": 1.0}])


def test_panel_says_where_figures_come_from_and_offers_the_site_point(qtbot):
    card = make_card()
    prof = SiteProfile(profile_data())
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_card(card, site_profile=prof)
    # Card first: validation figures, labelled as such, three card presets.
    assert panel.source_kind() == CARD and panel.threshold() == 0.5
    assert panel.origin_label.text() == "Figures: validation (training source)"
    assert [panel.source_combo.itemText(i) for i in range(panel.source_combo.count())] == [
        "Model card (validation)", f"Site: {prof.profile_id[:8]} (n = 120)"]
    assert list(panel.preset_buttons) == ["high-sensitivity", "balanced", "high-specificity"]
    assert [c.name for c in panel.roc.curves] == ["validation"]

    with qtbot.waitSignal(panel.point_source_changed) as src_sig, \
            qtbot.waitSignal(panel.operating_point_changed) as op_sig:
        panel.source_combo.setCurrentIndex(1)
        panel.source_combo.activated.emit(1)  # as a click on the item does
    site_id = f"site:site@{prof.profile_id}"
    assert src_sig.args == [SITE] and op_sig.args == [site_id]
    assert panel.threshold() == SITE_T and panel.operating_point_name() == site_id
    assert panel.origin_label.text() == "Figures: site (n = 120)"
    assert panel.sensitivity_label.text() == "95.0 % (86.0–98.0 %)"  # at the site point: with its CI
    assert panel.specificity_label.text() == "60.0 % (47.0–71.0 %)"
    assert panel.sensitivity_label.toolTip() == "From site (n = 120)"
    assert [b.text() for b in panel.preset_buttons.values()] == ["Site: sensitivity ≥ 95 %"]
    assert panel.preset_buttons[site_id].isChecked()
    assert [c.name for c in panel.roc.curves] == ["validation", "site (n = 120)"]
    assert any(m.diamond for m in panel.roc.markers)
    panel.set_prediction(0.4)
    assert panel.ai_label_text() == "AI: Pneumonia"  # 0.4 >= the site threshold 0.35 (card's 0.5 says Normal)

    panel.set_threshold(0.5)  # a custom threshold keeps the site's figures, without a point's CI
    assert panel.origin_label.text() == "Figures: site (n = 120)" and "(" not in panel.sensitivity_label.text()
    with qtbot.waitSignal(panel.point_source_changed) as back:
        panel.apply_operating_point("balanced")  # a card point takes the card's figures again
    assert back.args == [CARD] and panel.source_kind() == CARD and panel.threshold() == 0.5
    assert panel.origin_label.text() == "Figures: validation (training source)"


def test_a_profile_for_another_model_is_not_offered(qtbot):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_card(make_card(), site_profile=SiteProfile(profile_data("e" * 64)), source=SITE)
    assert not panel.has_site_profile() and panel.source_kind() == CARD
    assert panel.source_combo.count() == 1 and not panel.source_combo.isEnabled()
    assert panel.operating_point_name() == "balanced"


def test_window_site_point_is_recorded_in_reads_and_remembered_per_model(qtbot, make_window, store, settings_store,
                                                                         tmp_path):
    data = profile_data()
    site_profile.save(data)  # the profiles folder of this test's data dir
    site_id = f"site:site@{data['profile_id']}"
    folder = make_folder(tmp_path, levels=(0.2, 0.4, 0.8), broken=0)
    w = make_window()
    panel = w.prediction_panel
    assert panel.has_site_profile() and panel.source_kind() == CARD  # the card until the reader chooses
    open_and_wait(qtbot, w, [folder], 3)
    panel.set_source(SITE)
    assert settings_store.get(keys.model_setting_key(keys.POINT_SOURCE, FAKE_SHA)) == SITE
    assert settings_store.get(keys.model_setting_key(keys.OPERATING_POINT, FAKE_SHA)) == site_id
    row = row_by_name(w, "study_001.png")  # p ~ 0.40: Pneumonia at the site point, Normal at the card's
    select(qtbot, w, row)
    qtbot.waitUntil(lambda: panel.ai_label_text() != "", timeout=5000)
    assert w.model.index(row, 4).data() == "Pneumonia"
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(4)
    assert w.confirm()
    read = store.latest_for(w.model.rows[row].key)
    assert read.operating_point == site_id and read.threshold == pytest.approx(SITE_T)
    w.close()
    w2 = make_window()  # the site choice is remembered for this model
    assert w2.prediction_panel.source_kind() == SITE and w2.prediction_panel.operating_point_name() == site_id
    assert w2.prediction_panel.threshold() == SITE_T
