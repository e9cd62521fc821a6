"""Read-first mode, the second-look queue and adjudication in the window (issue #12 items 3 and 4).

The guarantee tested first: the AI's answer reaches neither the AI panel, nor the heat map, nor
the work list (cells, tooltips, sort order, detail line), before a first impression is stored.
"""

from __future__ import annotations

from fakes import write_png
from helpers import open_and_wait, row_by_name, select, view_order
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
from xray_desktop.ui.prediction_panel import HIDDEN_TEXT
from xray_desktop.ui.study_list import AI_HIDDEN, COLUMNS, Status

TIP = Qt.ItemDataRole.ToolTipRole


def _folder(tmp_path, levels: dict[str, float]):
    folder = tmp_path / "studies"
    for name, level in levels.items():
        write_png(folder / name, level)
    return folder


def _form(w, d: Diagnosis, conf: int) -> None:
    w.diagnosis_panel.set_diagnosis(d)
    w.diagnosis_panel.set_confidence(conf)


def _list_texts(w, row: int) -> str:
    """Every text the work list holds for ``row``: cells and tooltips, and the detail line."""
    m = w.model
    cells = [str(m.index(row, c).data() or "") + "\n" + str(m.index(row, c).data(TIP) or "")
             for c in range(len(COLUMNS))]
    return "\n".join(cells)


def test_the_ai_stays_hidden_until_the_first_impression_is_stored(qtbot, make_window, settings_store, store,
                                                                    tmp_path):
    settings_store.set(keys.READ_FIRST, True)  # the setting, restored at start
    folder = _folder(tmp_path, {"a_low.png": 0.2, "b_high.png": 0.9, "c_ood_ct.png": 0.7})
    w = make_window(delay=0.05)
    assert w.session.read_first and w.action_read_first.isChecked()
    open_and_wait(qtbot, w, [folder], 3)
    # Every prediction has arrived; none of it is in the list: cells, tooltips, status, sort.
    assert all(r.probability is not None for r in w.model.rows)
    for row in range(3):
        texts = _list_texts(w, row)
        assert "%" not in texts and "Pneumonia" not in texts and "Normal" not in texts
        assert "Not assessed" not in texts and "refused" not in texts and "frontal" not in texts
        assert w.model.index(row, 2).data() == AI_HIDDEN
    w.list_panel.set_sort_mode("probability")
    assert view_order(w.list_panel) == [0, 1, 2]  # most suspicious first would put b_high first
    w.list_panel.set_sort_mode("added")
    select(qtbot, w, row_by_name(w, "c_ood_ct.png"))  # the input gate's refusal is part of the answer too
    assert w.list_panel.detail.text() == f"c_ood_ct.png — {AI_HIDDEN}"
    assert w.prediction_panel.gate_label.text() == "" and w.prediction_panel.probability_label.text() == HIDDEN_TEXT

    high = row_by_name(w, "b_high.png")
    select(qtbot, w, high)  # the study and its answer (with heat map) arrive; the first impression is not saved
    panel, r = w.prediction_panel, w.model.rows[high]
    assert w._cache[r.path].prediction is not None and w._cache[r.path].prediction.heatmap is not None
    assert panel.probability_label.text() == HIDDEN_TEXT and panel.ai_label.text() == ""
    assert not panel.gate_label.isVisibleTo(panel) and panel.sensitivity_label.text() == "—"
    assert not w.viewer.view.has_heatmap() and not w.viewer.heatmap_shown()
    w.viewer.heatmap_action.trigger()  # H: nothing to show
    assert not w.viewer.view.has_heatmap()
    assert "AI" in w.diagnosis_panel.agreement_label.text() and "Pneumonia" not in \
        w.diagnosis_panel.agreement_label.text()
    assert w.diagnosis_panel.confirm_button.text().startswith("Save first impression")
    assert w.list_panel.detail.text() == f"b_high.png — {AI_HIDDEN}"

    _form(w, Diagnosis.NORMAL, 3)
    assert w.confirm()
    first = store.latest_for(r.key)
    assert first.role == FIRST_IMPRESSION and first.ai_probability is None and first.ai_label == ""
    assert first.threshold is None and first.gate_result == "" and first.model_sha256 == ""
    # Revealed now, on the same study: panel, heat map, list; the final call is next.
    assert w.session.row == high and r.status != Status.CONFIRMED
    assert panel.probability_label.text().endswith("%") and panel.ai_label.text() == "AI: Pneumonia"
    assert w.viewer.view.has_heatmap()
    assert w.model.index(high, 3).data() not in ("", None, "—")
    assert w.model.index(high, 4).data() == "Pneumonia" and w.model.index(high, 5).data() == ""
    assert w.diagnosis_panel.confirm_button.text().startswith("Confirm final diagnosis")
    assert w.diagnosis_panel.diagnosis() == Diagnosis.NORMAL  # prefilled with the first impression
    # The other studies stay hidden.
    assert w.model.index(row_by_name(w, "a_low.png"), 4).data() == ""

    _form(w, Diagnosis.PNEUMONIA, 4)
    assert w.confirm()
    final = store.latest_for(r.key)
    assert final.role == READ_FIRST_FINAL and final.supersedes == first.id
    assert final.ai_label == "PNEUMONIA" and final.ai_probability is not None
    assert r.status == Status.CONFIRMED and w.session.row != high  # on to the next study
    assert r.key in w.model.changed_keys  # NORMAL -> PNEUMONIA after the AI


def test_switching_read_first_hides_and_shows_the_study_on_screen(qtbot, make_window, settings_store, tmp_path):
    folder = _folder(tmp_path, {"a_high.png": 0.9})
    w = make_window()
    assert not w.session.read_first  # off by default
    open_and_wait(qtbot, w, [folder], 1)
    select(qtbot, w, 0)
    assert w.prediction_panel.ai_label.text() == "AI: Pneumonia" and w.viewer.view.has_heatmap()
    w.action_read_first.trigger()
    assert w.session.read_first and settings_store.get(keys.READ_FIRST) is True
    assert w.prediction_panel.probability_label.text() == HIDDEN_TEXT and not w.viewer.view.has_heatmap()
    assert w.model.index(0, 4).data() == ""
    w.action_read_first.trigger()
    assert w.prediction_panel.ai_label.text() == "AI: Pneumonia" and w.model.index(0, 4).data() == "Pneumonia"


def test_second_look_filters_and_adjudication(qtbot, make_window, settings_store, store, tmp_path):
    folder = _folder(tmp_path, {"a.png": 0.9, "b.png": 0.9, "c.png": 0.2})
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    a, b, c = (row_by_name(w, n) for n in ("a.png", "b.png", "c.png"))
    w.set_read_first(True)
    select(qtbot, w, a)  # read first: NORMAL, then PNEUMONIA after the AI (changed, now agrees)
    _form(w, Diagnosis.NORMAL, 3)
    assert w.confirm()
    _form(w, Diagnosis.PNEUMONIA, 4)
    assert w.confirm()
    w.set_read_first(False)
    select(qtbot, w, b)  # disagrees with the AI (PNEUMONIA)
    _form(w, Diagnosis.NORMAL, 4)
    assert w.confirm()
    select(qtbot, w, c)  # agrees (NORMAL)
    _form(w, Diagnosis.NORMAL, 5)
    assert w.confirm()

    combo = w.list_panel.second_look_combo
    combo.setCurrentIndex(combo.findData("disagree"))
    assert view_order(w.list_panel) == [b]
    w.model.changed_keys.clear()  # the worker's one query must find the pair in the database
    combo.setCurrentIndex(combo.findData("changed"))
    qtbot.waitUntil(lambda: view_order(w.list_panel) == [a], timeout=5000)
    combo.setCurrentIndex(combo.findData("all"))
    assert sorted(view_order(w.list_panel)) == [a, b, c]

    # Adjudication: the reader is refused; another reviewer supersedes with role adjudicator.
    select(qtbot, w, b)
    seen: list = []
    w.adjudication_provider = lambda calls: seen.append(calls) or (Diagnosis.PNEUMONIA, 5, "", "")
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_A,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # Ctrl+Shift+A
    assert not seen  # the reader themselves: refused before any dialog
    assert "needs another reviewer" in w.statusBar().currentMessage()
    settings_store.set(keys.REVIEWER, "Dr Second")
    before = store.latest_for(w.model.rows[b].key)
    assert w.adjudicate()
    assert seen and seen[0][0] == "Dr Test — confirmed read: Normal (confidence 4)" and seen[0][-1].startswith("AI —")
    adj = store.latest_for(w.model.rows[b].key)
    assert (adj.role, adj.reviewer, adj.supersedes) == (ADJUDICATOR, "Dr Second", before.id)
    assert adj.final_diagnosis == Diagnosis.PNEUMONIA and adj.ai_label == before.ai_label
    assert w.model.rows[b].read.id == adj.id and w.model.index(b, 5).data() == "Pneumonia"
    combo.setCurrentIndex(combo.findData("disagree"))
    assert view_order(w.list_panel) == []  # settled: the adjudicated call agrees with the AI


def test_a_first_impression_from_an_earlier_session_waits_for_its_final(qtbot, make_window, settings_store, store,
                                                                       tmp_path):
    folder = _folder(tmp_path, {"a_high.png": 0.9})
    w = make_window()
    w.set_read_first(True)
    open_and_wait(qtbot, w, [folder], 1)
    select(qtbot, w, 0)
    _form(w, Diagnosis.NORMAL, 2)
    assert w.confirm()
    w.shutdown()
    again = make_window()  # a new session (read first is still on: the setting was saved)
    assert again.session.read_first
    open_and_wait(qtbot, again, [folder], 1)
    r = again.model.rows[0]
    assert r.read.role == FIRST_IMPRESSION and r.status != Status.CONFIRMED and r.probability is not None
    assert again.model.index(0, 4).data() == "Pneumonia"  # its first impression is stored: the AI shows
    select(qtbot, again, 0)
    assert again.diagnosis_panel.confirm_button.text().startswith("Confirm final diagnosis")
    first_id = r.read.id
    _form(again, Diagnosis.PNEUMONIA, 4)
    assert again.confirm()
    final = store.latest_for(r.key)
    assert final.role == READ_FIRST_FINAL and final.supersedes == first_id and r.status == Status.CONFIRMED
