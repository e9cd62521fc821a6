"""Help → Site performance…: the site report of the confirmed reads, computed off the GUI thread."""

from __future__ import annotations

import threading

import numpy as np
from test_site_points import FAKE_SHA, profile_data

from xray_desktop.domain import Diagnosis
from xray_desktop.model import site_profile
from xray_desktop.records import ReadInput
from xray_desktop.ui import site_window
from xray_desktop.ui.site_window import REFERENCE_TEXT, WARN_BG


def reads(n_each: int = 60) -> list[ReadInput]:
    """Positives spread over 0.41–0.99, negatives over 0.30–0.80: site specificity far below validation's."""
    probs = [(p, "PNEUMONIA") for p in np.linspace(0.41, 0.99, n_each)] + \
            [(p, "NORMAL") for p in np.linspace(0.30, 0.80, n_each)]
    return [ReadInput(reviewer="dr_a", study_key=f"study-{i}", file_path=f"/s/{i}.png", file_sha256=f"{i:064x}",
                      final_diagnosis=Diagnosis(d), confidence=4, ai_probability=float(p), threshold=0.5,
                      ai_label="", model_version="0.0-test", model_sha256=FAKE_SHA)
            for i, (p, d) in enumerate(probs)]


def test_site_window_shows_the_report_computed_on_a_worker(qtbot, make_window, store, tmp_path, monkeypatch):
    store.add_reads(reads())
    prof = profile_data()
    site_profile.save(prof)
    threads: list[bool] = []
    real = site_window.site_result

    def spy(*args, **kw):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kw)

    monkeypatch.setattr(site_window, "site_result", spy)
    w = make_window()
    w.action_site_performance.trigger()
    win = w.site_window
    assert "Computing" in win.status_label.text()  # the window is up before the figures
    qtbot.waitUntil(lambda: win.result is not None, timeout=10_000)
    assert threads == [False]  # the statistics never ran on the GUI thread
    rep = win.result.report
    assert rep["n_reads"] == 120 and win.reference_label.text() == REFERENCE_TEXT
    assert "not ground truth" in REFERENCE_TEXT and "final diagnosis" in REFERENCE_TEXT
    assert "120 confirmed reads: 60 PNEUMONIA, 60 NORMAL" in win.summary_label.text()
    assert f"Site profile in force:</b> {prof['profile_id']}" in win.summary_label.text()
    names = [win.table.item(r, 0).text() for r in range(win.table.rowCount())]
    assert names == ["high-sensitivity", "balanced", "high-specificity", "site"]
    bal = names.index("balanced")
    assert win.table.item(bal, 1).text() == "validation (training source)"
    assert win.table.item(names.index("site"), 1).text() == "site (n = 120)"
    spec_cell = win.table.item(bal, 4)
    assert spec_cell.background().color() == WARN_BG and "excludes the validation" in spec_cell.toolTip()
    assert "excludes the validation figure" in win.warnings_label.text() and win.warnings_label.isVisibleTo(win)
    assert [c.name for c in win.roc.curves] == ["validation", "site (n = 120)"]
    assert len(win.roc.markers) == 8 and sum(m.diamond for m in win.roc.markers) == 2
    assert win.reliability.bins and win.histogram.site is not None
    assert not win.grab().isNull()

    out = tmp_path / "site.html"
    win.html_path_provider = lambda: out
    assert win.save_html() == out
    qtbot.waitUntil(lambda: "Saved the report" in win.status_label.text(), timeout=10_000)
    text = out.read_text(encoding="utf-8")
    assert "Site performance of the AI" in text and "data:image/png;base64," in text and "not ground truth" in text
    assert win.save_button.isEnabled()

    store.add_reads(reads(2)[:1])  # Refresh (or the menu again) recomputes from the database
    assert w.show_site_performance() is win
    qtbot.waitUntil(lambda: win.result is not None and win.result.report is not None, timeout=10_000)


def test_an_empty_database_is_explained_not_an_error(qtbot, make_window):
    w = make_window()
    win = w.show_site_performance()
    qtbot.waitUntil(lambda: win.result is not None, timeout=10_000)
    assert win.result.report is None and win.status_label.text().startswith("No site figures yet: 0 usable")
    assert not win.save_button.isEnabled() and not win.table.isVisibleTo(win)
    assert win.reference_label.isVisibleTo(win)
    assert win.save_html() is None


def test_without_a_model_the_window_says_why(qtbot, make_window):
    w = make_window(fail="AI model refused: checksum mismatch")
    assert w.show_site_performance() is None
    assert "site report needs the AI model" in w.statusBar().currentMessage()
