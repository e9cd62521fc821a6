"""The window as a view of the review session; the trail check's thread; one notification path."""

from __future__ import annotations

import threading
from pathlib import Path

from helpers import make_folder, open_and_wait, row_by_name, select
from PySide6.QtWidgets import QMessageBox

from xray_desktop.domain import Diagnosis
from xray_desktop.records import StoreError
from xray_desktop.ui.notify import Notifier
from xray_desktop.ui.prediction_panel import HIDDEN_TEXT
from xray_desktop.ui.workers import TrailChecker

UI = Path(__file__).resolve().parents[2] / "xray_desktop" / "ui"


def test_the_window_follows_the_session(qtbot, make_window, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, [make_folder(tmp_path, levels=(0.2, 0.8), broken=0)], 2)
    row = row_by_name(w, "study_001.png")
    select(qtbot, w, row)
    s = w.session
    assert s.row == row and s.item is w.model.rows[row] and s.model is not None
    assert (s.threshold, s.operating_point) == (w.prediction_panel.threshold(), "balanced")
    w.prediction_panel.set_threshold(0.9)  # a custom threshold: the AI call changes, no preset is in force
    assert (s.threshold, s.operating_point, s.verdict().label) == (0.9, "", "NORMAL")
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    built = s.read_input("Dr Test", w.diagnosis_panel.state())
    assert (built.threshold, built.operating_point, built.ai_label) == (0.9, "", "NORMAL")
    assert w.confirm()
    read = w.store.latest_for(w.model.rows[row].key)
    assert (read.threshold, read.operating_point, read.ai_label) == (0.9, "", "NORMAL")


def test_a_failed_save_is_told_through_the_notifier(qtbot, make_window, tmp_path, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, [make_folder(tmp_path, levels=(0.2,), broken=0)], 1)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)

    def refuse(_read):
        raise StoreError("disk full")

    monkeypatch.setattr(w.saver, "save", refuse)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: (_ for _ in ()).throw(AssertionError("modal box")))
    assert not w.confirm()
    box = w.notifier.last_box
    assert box is not None and box.isVisible() and not box.isModal()
    assert box.windowTitle() == "Diagnosis not saved" and "disk full" in box.text()
    assert "disk full" in w.statusBar().currentMessage()
    assert w.diagnosis_panel.diagnosis() == Diagnosis.NORMAL  # the form is kept for another try


def test_quitting_with_drafts_asks_through_the_notifier(qtbot, make_window, tmp_path, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, [make_folder(tmp_path, levels=(0.2, 0.5), broken=0)], 2)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.discard_drafts_provider = None
    asked = []
    monkeypatch.setattr(Notifier, "ask", lambda _self, title, text: asked.append((title, text)) or False)
    w.close()
    assert asked and asked[0][0] == "Unsaved drafts" and "1 study has" in asked[0][1] and w.isVisible()
    w.discard_drafts_provider = lambda _n: True


def test_only_the_notifier_opens_message_boxes():
    users = sorted(p.name for p in UI.glob("*.py") if "QMessageBox" in p.read_text(encoding="utf-8"))
    assert users == ["notify.py"]


def test_trail_checks_run_in_order_on_their_own_thread(qtbot):
    seen: list[tuple[str, Path]] = []
    gate = threading.Event()

    def check(path: Path) -> str:
        gate.wait(5)
        seen.append((threading.current_thread().name, path))
        return "broken trail"

    checker = TrailChecker(Path("/x/reads.sqlite3"), check=check)
    warnings: list[tuple[str, str]] = []
    checker.broken.connect(lambda text: warnings.append((text, threading.current_thread().name)))
    checker.check()  # start-up: reported
    checker.check(report=False)  # session end: logged only
    assert checker.busy()  # the GUI thread did not run them
    gate.set()
    qtbot.waitUntil(lambda: not checker.busy() and bool(warnings), timeout=5000)
    assert checker.close(timeout_s=5)
    assert seen == [("trail-check", Path("/x/reads.sqlite3"))] * 2
    assert warnings == [("broken trail", threading.main_thread().name)]  # shown on the GUI thread, once


def test_a_trail_check_that_raises_does_not_stop_the_session_end_check(qtbot):
    calls = []

    def check(_path: Path) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return ""

    checker = TrailChecker(Path("/x/reads.sqlite3"), check=check)
    warnings: list[str] = []
    checker.broken.connect(warnings.append)
    checker.check()
    checker.check(report=False)
    assert checker.close(timeout_s=5) and len(calls) == 2
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "could not be checked" in warnings[0] and "RuntimeError" in warnings[0]


def test_read_first_hides_the_ai_answer_until_a_first_impression_is_saved(qtbot, make_window, tmp_path):
    w = make_window()
    w.session.read_first = True  # no GUI for it yet: the session's flag, ruled by review.ai_display
    open_and_wait(qtbot, w, [make_folder(tmp_path, levels=(0.8,), broken=0)], 1)
    select(qtbot, w, 0)
    p = w.prediction_panel
    assert p.probability_label.text() == HIDDEN_TEXT and p.ai_label.text() == ""
    assert p.sensitivity_label.text() == "—" and not w.viewer.view.has_heatmap()
    assert w.diagnosis_panel._ai_label == ""
    w.session.first_impression_saved(w.model.rows[0].path)
    p.set_threshold(0.5)  # any refresh now shows the answer as in normal mode
    assert p.probability_label.text() != HIDDEN_TEXT and p.ai_label.text() == "AI: Pneumonia"
    assert p.sensitivity_label.text() != "—"
