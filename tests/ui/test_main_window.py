"""The review workstation end to end: start-up, opening, confirming, resuming, exporting."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
import time
from pathlib import Path

from fakes import factory
from helpers import make_folder, open_and_wait, row_by_name, select, settled, view_order
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from xray_desktop.domain import Diagnosis, FailureKind, WorkerFailure
from xray_desktop.ui.dialogs import ExportOptions
from xray_desktop.ui.study_list import Status


def test_importing_the_gui_does_not_import_tensorflow():
    code = ("import sys; import xray_desktop.app, xray_desktop.ui.main_window; "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_window_is_shown_before_the_model_loads_on_the_worker_thread(qtbot, settings_store, store):
    from xray_desktop.ui.main_window import MainWindow

    seen: list[tuple[bool, str]] = []
    make = factory()

    def lazy_factory():
        # A real factory imports TensorFlow here; record that we run late and off the GUI thread.
        seen.append((w.isVisible(), threading.current_thread() is threading.main_thread()))
        return make()

    w = MainWindow(settings_store, store, lazy_factory)
    qtbot.addWidget(w)
    w.show()
    # (that no TensorFlow is imported at start-up is checked in a fresh process elsewhere:
    # other tests in this process may already have imported it)
    assert seen == []
    assert w.model_status.text() == "AI model: not started"
    qtbot.waitUntil(lambda: w.inference.state == "ready", timeout=5000)
    assert seen == [(True, False)]
    w.shutdown()


def test_drop_of_a_folder_lists_good_broken_and_rejected_studies(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path, broken=1, ood=1)
    (folder / "notes.txt").write_text("not an image")
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    enter = QDragEnterEvent(w.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(w.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, drop)
    qtbot.waitUntil(lambda: len(w.model.rows) == 5 and settled(w), timeout=10_000)
    statuses = {r.path.name: r.status for r in w.model.rows}
    assert statuses == {"broken_0.png": Status.ERROR, "ood_0.png": Status.REJECTED,
                        "study_000.png": Status.AI_READY, "study_001.png": Status.AI_READY,
                        "study_002.png": Status.AI_READY}
    broken = row_by_name(w, "broken_0.png")
    reason = w.model.rows[broken].error
    assert reason and "PNG" in reason
    tip = w.model.index(broken, 2).data(Qt.ItemDataRole.ToolTipRole)
    assert reason in tip
    w.list_panel.select_source_row(broken)
    assert reason in w.list_panel.detail.text()
    assert reason in w.viewer.message.text() and w.viewer.message.isVisibleTo(w)
    ood = w.model.rows[row_by_name(w, "ood_0.png")]
    assert ood.gate_reason == "not a frontal chest radiograph"
    assert w.model.index(row_by_name(w, "ood_0.png"), 4).data() == "Not assessed"
    assert w.model.index(row_by_name(w, "ood_0.png"), 3).data() == "—"  # refused: no probability
    assert w.model.index(row_by_name(w, "study_002.png"), 4).data() == "Pneumonia"
    assert not any(r.path.name == "notes.txt" for r in w.model.rows)


def test_confirm_saves_to_the_store_and_moves_to_the_next_unconfirmed(qtbot, make_window, store, tmp_path):
    folder = make_folder(tmp_path, levels=(0.2, 0.5, 0.8), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    first = row_by_name(w, "study_000.png")
    select(qtbot, w, first)
    panel = w.diagnosis_panel
    assert panel.isEnabled() and not panel.confirm_button.isEnabled()
    panel.set_diagnosis(Diagnosis.NORMAL)
    panel.set_confidence(4)
    panel.note_edit.setPlainText("clear lungs")
    assert "Agrees" in panel.agreement_label.text()
    qtbot.wait(20)
    assert w.confirm()
    key = w.model.rows[first].key
    read = store.latest_for(key)
    assert read is not None and read.final_diagnosis == Diagnosis.NORMAL and read.confidence == 4
    assert read.reviewer == "Dr Test" and read.note == "clear lungs" and read.ai_label == "NORMAL"
    assert read.agreement == "agree" and read.time_spent_ms >= 20 and read.operating_point == "balanced"
    assert read.ai_probability is not None and abs(read.ai_probability - 0.2) < 0.05
    assert w.model.rows[first].status == Status.CONFIRMED
    assert w.model.index(first, 5).data() == "Normal"
    assert w.list_panel.current_source_row() == row_by_name(w, "study_001.png")

    # Amend: a new read superseding the first; the history shows both.
    select(qtbot, w, first)
    assert panel.amending and panel.diagnosis() == Diagnosis.NORMAL
    panel.set_diagnosis(Diagnosis.PNEUMONIA)
    assert "Disagrees" in panel.agreement_label.text()
    assert w.confirm()
    history = store.history(key)
    assert [r.final_diagnosis for r in history] == [Diagnosis.NORMAL, Diagnosis.PNEUMONIA]
    assert history[1].supersedes == history[0].id
    select(qtbot, w, first)
    assert "superseded" in panel.history_label.text()


def test_keyboard_drives_the_read(qtbot, make_window, store, tmp_path):
    from PySide6.QtTest import QTest

    folder = make_folder(tmp_path, levels=(0.2, 0.5, 0.8), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    select(qtbot, w, 0)
    w.list_panel.table.setFocus()
    panel = w.diagnosis_panel
    QTest.keyClick(w, Qt.Key.Key_P)
    assert panel.diagnosis() == Diagnosis.PNEUMONIA
    QTest.keyClick(w, Qt.Key.Key_I)
    assert panel.diagnosis() == Diagnosis.INDETERMINATE
    QTest.keyClick(w, Qt.Key.Key_3)
    assert panel.confidence() == 3
    # Typing in the note must not trigger shortcuts.
    panel.note_edit.setFocus()
    QTest.keyClicks(panel.note_edit, "pn 5")
    assert panel.note_edit.toPlainText() == "pn 5"
    assert panel.diagnosis() == Diagnosis.INDETERMINATE and panel.confidence() == 3
    w.list_panel.table.setFocus()
    QTest.keyClick(w, Qt.Key.Key_N)
    QTest.keyClick(w, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    read = store.latest_for(w.model.rows[0].key)
    assert read is not None and read.final_diagnosis == Diagnosis.NORMAL and read.confidence == 3
    assert read.note == "pn 5"
    assert w.list_panel.current_source_row() == 1
    # Navigation
    QTest.keyClick(w, Qt.Key.Key_J)
    assert w.list_panel.current_source_row() == 2
    QTest.keyClick(w, Qt.Key.Key_K)
    assert w.list_panel.current_source_row() == 1
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_Down)
    assert w.list_panel.current_source_row() == 2
    w.viewer.view.setFocus()
    QTest.keyClick(w.viewer.view, Qt.Key.Key_Up)
    assert w.list_panel.current_source_row() == 1
    # ...but arrows still belong to a focused slider.
    w.prediction_panel.slider.setFocus()
    before = w.prediction_panel.slider.value()
    QTest.keyClick(w.prediction_panel.slider, Qt.Key.Key_Up)
    assert w.list_panel.current_source_row() == 1 and w.prediction_panel.slider.value() != before
    # H toggles the heat map, Space held hides overlays.
    select(qtbot, w, 1)
    on = w.viewer.view.heatmap_visible()
    QTest.keyClick(w, Qt.Key.Key_H)
    assert w.viewer.view.heatmap_visible() != on
    calls = []
    w.viewer.view.set_overlays_hidden = calls.append
    w.viewer.view.setFocus()
    QTest.keyPress(w.viewer.view, Qt.Key.Key_Space)
    QTest.keyRelease(w.viewer.view, Qt.Key.Key_Space)
    assert calls == [True, False]
    # O picks "Other" and puts the cursor in its text field.
    QTest.keyClick(w, Qt.Key.Key_O)
    assert panel.diagnosis() == Diagnosis.OTHER and panel.other_edit.hasFocus()


def test_shortcut_help_opens(qtbot, make_window, monkeypatch):
    from PySide6.QtTest import QTest

    from xray_desktop.ui import dialogs

    shown = []
    monkeypatch.setattr(dialogs.TextDialog, "exec", lambda self: shown.append(self.windowTitle()))
    w = make_window()
    QTest.keyClick(w, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert shown == ["Keyboard shortcuts"]
    w.action_about_model.trigger()
    assert shown[-1] == "About the AI model"


def test_reopening_a_folder_resumes_from_the_store(qtbot, make_window, store, tmp_path):
    folder = make_folder(tmp_path, levels=(0.2, 0.5, 0.8), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    select(qtbot, w, 1)
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(5)
    assert w.confirm()
    w.close()

    w2 = make_window(delay=0.0)
    open_and_wait(qtbot, w2, [folder], 3)
    statuses = [r.status for r in w2.model.rows]
    assert statuses == [Status.AI_READY, Status.CONFIRMED, Status.AI_READY]
    assert w2.model.index(1, 5).data() == "Pneumonia"
    # Nothing is re-asked: the confirmed study was not sent to the model by the batch.
    assert w2.fake_holder[0].calls <= 3
    w2.list_panel.unconfirmed_check.setChecked(True)
    assert view_order(w2.list_panel) == [0, 2]


def test_export_from_the_menu_writes_the_csv(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path, levels=(0.2, 0.5, 0.8), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 3)
    for row in (0, 1):
        select(qtbot, w, row)
        w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
        w.diagnosis_panel.set_confidence(3)
        assert w.confirm()
    out = tmp_path / "out" / "reads.csv"
    out.parent.mkdir()
    w.export_options_provider = lambda: ExportOptions(out, all_history=False, deidentify=True)
    w.action_export.trigger()
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 3  # header + two reads
    msg = w.statusBar().currentMessage()
    assert "2 reads" in msg and str(out) in msg
    assert w.last_export_box.isVisible() and not w.last_export_box.isModal()


def test_model_failure_keeps_the_viewer_usable(qtbot, make_window, store, tmp_path):
    folder = make_folder(tmp_path, levels=(0.3, 0.6), broken=0)
    w = make_window(fail="AI model refused: model.keras fails its integrity check")
    assert w.inference.state == "failed"
    assert w.inference.failure == WorkerFailure(FailureKind.MODEL_REFUSED,
                                                "AI model refused: model.keras fails its integrity check")
    text = w.prediction_panel.status_label.text()
    assert text == "AI model refused: model.keras fails its integrity check"
    # The typed failure is shown as the model layer wrote it: never re-prefixed, never doubled.
    for shown in (text, w.model_status.toolTip(), w.statusBar().currentMessage()):
        assert shown.count("AI model refused") == 1 and "unavailable: AI model" not in shown, shown
    assert "AI unavailable" in w.model_status.text()
    open_and_wait(qtbot, w, [folder], 2)
    assert [r.status for r in w.model.rows] == [Status.LOADED, Status.LOADED]
    w.list_panel.select_source_row(0)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None, timeout=5000)
    assert w.prediction_panel.probability_label.text() == "—"
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(2)
    assert w.confirm()
    read = store.latest_for(w.model.rows[0].key)
    assert read.ai_probability is None and read.ai_label == "" and read.agreement == "n/a"


def test_unexpected_model_load_error_is_typed(qtbot, make_window):
    def broken_factory():
        raise RuntimeError("boom")

    w = make_window(classifier_factory=broken_factory)
    assert w.inference.state == "failed"
    assert w.inference.failure == WorkerFailure(FailureKind.UNEXPECTED, "AI model unavailable: boom")
    assert w.prediction_panel.status_label.text() == "AI model unavailable: boom"


def test_closing_mid_batch_does_not_hang(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path, levels=[0.5] * 60, broken=0)
    w = make_window(delay=0.05)
    w.open_paths([folder])
    qtbot.waitUntil(lambda: any(r.status == Status.ANALYSING for r in w.model.rows), timeout=5000)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 2.0
    assert not w.inference._thread.is_alive()
    assert w.batch.pool.activeThreadCount() == 0


def test_cancel_stops_the_batch(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path, levels=[0.5] * 30, broken=0)
    w = make_window(delay=0.03)
    w.open_paths([folder])
    qtbot.waitUntil(lambda: len(w.model.rows) == 30 and w.list_panel.cancel_button.isVisible(), timeout=5000)
    w.list_panel.cancel_button.click()
    assert not w.batch.busy()
    qtbot.wait(200)
    statuses = {r.status for r in w.model.rows}
    assert Status.CANCELLED in statuses and Status.ANALYSING not in statuses and Status.QUEUED not in statuses
    assert not w.list_panel.progress.isVisible()


def test_store_error_at_start_is_reported_and_exits_1(qtbot, monkeypatch):
    from xray_desktop import app
    from xray_desktop.records import Store, StoreError

    def refuse(*_a, **_k):
        raise StoreError("database disk image is malformed")

    shown = []
    monkeypatch.setattr(Store, "open", classmethod(lambda cls, *a, **k: refuse()))
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.critical", lambda *a: shown.append(a[2]))
    assert app.run([]) == 1
    assert "malformed" in shown[0]


def test_uid_collision_is_a_new_image_with_a_warning(qtbot, make_window, tmp_path):
    """Issue 19.1: a copy keeping the UIDs with other pixels must not inherit the read.

    Since issue 14 a row is a study: the copy (same StudyInstanceUID, no image in common with the
    read) opened later is another study under the collision key, with the warning.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
    from io_helpers import build_dataset, chest_like, write

    folder = tmp_path / "dicoms"
    folder.mkdir()
    ds = build_dataset(chest_like(64, 48), StudyInstanceUID="1.2.826.0.1.3680043.8.498.77")
    write(ds, folder / "a.dcm")
    w = make_window()
    open_and_wait(qtbot, w, [folder], 1)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(5)
    assert w.confirm()
    w.close()

    ds.PixelData = chest_like(64, 48, seed=9).tobytes()  # same SOP Instance UID, other content
    (tmp_path / "copy").mkdir()
    write(ds, tmp_path / "copy" / "b.dcm")
    w2 = make_window()
    open_and_wait(qtbot, w2, [folder], 1)
    a = row_by_name(w2, "a.dcm")
    assert w2.model.rows[a].status == Status.CONFIRMED and not w2.model.rows[a].warning
    w2.close()
    w2 = make_window()
    open_and_wait(qtbot, w2, [tmp_path / "copy"], 1)
    b = row_by_name(w2, "b.dcm")
    rb = w2.model.rows[b]
    assert rb.status != Status.CONFIRMED and rb.read is None and "UID collision" in rb.warning
    assert rb.key != ds.StudyInstanceUID
    assert "UID collision" in w2.model.index(b, 0).data() and "UID collision" in w2.model.index(b, 0).data(
        Qt.ItemDataRole.ToolTipRole)
    select(qtbot, w2, b)
    assert "UID collision" in w2.statusBar().currentMessage()
    w2.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w2.diagnosis_panel.set_confidence(2)
    assert w2.confirm()
    reads = w2.store.reads()
    assert len(reads) == 2 and len({r.file_sha256 for r in reads}) == 2 and rb.sha256 in {r.file_sha256 for r in reads}


def test_export_of_a_broken_trail_says_so(qtbot, make_window, store, tmp_path):
    """Issue 19.2: the GUI export of a database whose chain fails verification warns."""
    import sqlite3

    folder = make_folder(tmp_path, levels=(0.2, 0.5), broken=0)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 2)
    for row in (0, 1):
        select(qtbot, w, row)
        w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
        w.diagnosis_panel.set_confidence(3)
        assert w.confirm()
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET final_diagnosis = 'PNEUMONIA' WHERE id = 1")
    raw.commit()
    raw.close()
    out = tmp_path / "reads.csv"
    w.export_options_provider = lambda: ExportOptions(out, all_history=False, deidentify=False)
    w.action_export.trigger()
    assert out.exists() and (tmp_path / "reads.anchor.json").exists()
    assert "WARNING: the audit trail failed verification" in w.last_export_box.text()
