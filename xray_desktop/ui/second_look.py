"""Read-first mode, the second-look filter and adjudication in the window (issue #12 items 3 and 4).

A mixin of :class:`~xray_desktop.ui.main_window.MainWindow`, like ``window_actions.py``. The
rules live in ``review.py`` (Qt-free, tested without a window): what of the AI may be shown
(``ReviewSession.ai_display``, the one gate the panel, viewer and work list ask), which role a
confirm records (``pending_role``), the filters (``second_look``) and who may adjudicate
(``adjudication_problem``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from xray_desktop import settings as keys
from xray_desktop.records import StoreError
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
from xray_desktop.review import (
    Draft,
    NotReady,
    ReviewSession,
    adjudication_input,
    adjudication_problem,
    calls_summary,
    changed_after_ai,
    is_final,
)
from xray_desktop.ui.diagnosis_panel import DIAGNOSIS_KEYS, DiagnosisPanel
from xray_desktop.ui.workers import JobSignals, JobTask, make_pool, next_request_id

log = logging.getLogger(__name__)


class AdjudicationDialog(QDialog):
    """Both calls and the AI's, then the adjudicator's own call (the diagnosis form's keys work here)."""

    def __init__(self, calls: list[str], ai_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Adjudicate")
        self.setMinimumWidth(560)  # the calls and the form's hint need the room (seen cramped under Xvfb)
        self.calls = QLabel("\n".join(calls))
        self.calls.setWordWrap(True)
        self.calls.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = DiagnosisPanel()
        self.form.setEnabled(True)
        self.form.set_ai_label(ai_label)
        self.form.set_stage(ADJUDICATOR)
        self.form.confirm_requested.connect(self.accept)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("The calls so far (newest last):"))
        lay.addWidget(self.calls)
        lay.addWidget(self.form)
        lay.addWidget(buttons)
        for d, key in DIAGNOSIS_KEYS.items():
            QShortcut(QKeySequence(key), self, lambda d=d: self.form.set_diagnosis(d))
        for n in range(1, 6):
            QShortcut(QKeySequence(str(n)), self, lambda n=n: self.form.set_confidence(n))
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(key), self, self._confirm)
        # Not the note field (the first in the tab chain): P/N/I/O and 1-5 must reach the shortcuts.
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setFocus()

    def _confirm(self) -> None:
        if not self.form.problem():
            self.accept()

    def draft(self) -> Draft:
        return self.form.state()


class SecondLookActions:
    """Mixin: read-first mode, the second-look filter and adjudication (see the module docstring)."""

    settings: Any
    store: Any
    model: Any
    list_panel: Any
    viewer: Any
    diagnosis_panel: Any
    prediction_panel: Any
    notifier: Any
    saver: Any
    session: ReviewSession
    _cache: Any
    # Tests set this to skip the dialog: gets the calls' lines, returns the adjudicator's form or None.
    adjudication_provider: Any = None

    # -- read-first mode --------------------------------------------------------------------
    def set_read_first(self, on: bool) -> None:
        """Review → Read first: hide the AI on each study until the reader's first impression is saved."""
        self.session.read_first = bool(on)
        self.settings.set(keys.READ_FIRST, bool(on))
        action = getattr(self, "action_read_first", None)
        if action is not None and action.isChecked() != bool(on):
            action.setChecked(bool(on))
        self.model.refresh_all()  # the list's AI cells and sort keys ask the gate again
        self.reshow_ai()
        self.notifier.notify("Read first: the AI is shown after your first impression of each study" if on
                             else "Read first is off: the AI is shown at once", 6000)

    def reshow_ai(self) -> None:
        """Show again what the gate allows of the study on screen (panel, heat map, form)."""
        row = self.session.row
        if row < 0:
            return
        r = self.model.rows[row]
        self._refresh_diagnosis_panel(row)  # type: ignore[attr-defined]
        cached = self._cache.get(r.path)
        if cached is not None and cached.prediction is not None:
            self._show_prediction(row, cached.prediction)  # type: ignore[attr-defined]
        else:
            self.prediction_panel.refresh()

    def first_impression_saved(self, row: int, read: Any) -> None:
        """The first impression is stored: reveal the AI, and the same study waits for the final call."""
        r = self.model.rows[row]
        r.read = read
        self.session.first_impression_saved(r.path)
        self.session.shown()  # the final read's time counts from the AI's reveal
        self.model.touch(row)
        self.model.flush()
        self.reshow_ai()
        self.notifier.notify(f"First impression saved ({read.final_diagnosis.value.capitalize()}): the AI is "
                             "shown now — confirm your final diagnosis (it may differ)", 8000)

    def final_saved(self, first: Any, final: Any) -> None:
        """A read-first final: the "changed after AI" queue learns whether the call changed."""
        if getattr(first, "role", "") == FIRST_IMPRESSION and final.role == READ_FIRST_FINAL:
            keys_ = self.model.changed_keys
            (keys_.add if first.final_diagnosis != final.final_diagnosis else keys_.discard)(final.study_key)

    # -- the second-look filter -------------------------------------------------------------
    @Slot(int)
    def on_second_look_changed(self, _index: int = 0) -> None:
        mode = str(self.list_panel.second_look_combo.currentData())
        if mode == "changed":
            self._load_changed_keys()  # the pairs live in the database: one query, on a worker
        self.list_panel.proxy.set_second_look(mode)

    def _load_changed_keys(self) -> None:
        store = self.store
        if store is None or not hasattr(store, "reader"):
            return
        if getattr(self, "_second_look_pool", None) is None:
            self._second_look_pool = make_pool(1)
            self._second_look_signals = JobSignals(self)  # type: ignore[arg-type]
            self._second_look_signals.done.connect(self._on_changed_keys)
            self._second_look_signals.failed.connect(
                lambda _rid, f: self.notifier.notify(f"Changed-after-AI list not loaded: {f.message}", 8000))

        def query() -> set[str]:
            reader = store.reader()  # this thread's own read-only connection
            try:
                return changed_after_ai(reader.reads(latest_only=False, roles=[FIRST_IMPRESSION, READ_FIRST_FINAL]))
            finally:
                reader.close()

        self._second_look_rid = next_request_id()
        self._second_look_pool.start(JobTask(self._second_look_rid, query, self._second_look_signals))

    @Slot(int, object)
    def _on_changed_keys(self, rid: int, found: set[str]) -> None:
        if rid != getattr(self, "_second_look_rid", 0):
            return
        self.model.changed_keys.clear()
        self.model.changed_keys.update(found)
        if self.list_panel.proxy.second_look == "changed":
            self.list_panel.proxy.set_second_look("changed")  # filter again with the keys

    def stop_second_look(self) -> None:
        """At close: the changed-after-AI query (if any) finishes first."""
        pool = getattr(self, "_second_look_pool", None)
        if pool is not None:
            pool.waitForDone(5000)

    # -- adjudication ---------------------------------------------------------------------------
    def adjudicate(self) -> bool:
        """Review → Adjudicate… (Ctrl+Shift+A): another reviewer's call on the confirmed study on screen."""
        row = self.session.row
        if row < 0 or self.saver is None or self.saver.saving or self.store is None:
            return False
        r = self.model.rows[row]
        if not is_final(r.read):
            self.notifier.notify("Adjudication is for a confirmed study: confirm it first", 6000)
            return False
        reviewer = self.ensure_reviewer()  # type: ignore[attr-defined]
        try:
            history = self.store.history(r.key)
        except StoreError as exc:
            self.notifier.notify(f"Could not read the study's reads: {exc}", 8000)
            return False
        problem = adjudication_problem(reviewer, history)
        if problem:
            self.notifier.notify(problem, 10000, dialog=True, title="Adjudication refused")
            return False
        started = time.monotonic()
        draft = self._adjudication_draft(calls_summary(history), r.read.ai_label)
        if draft is None:
            return False
        try:
            read_input = adjudication_input(reviewer, draft, r.read, int((time.monotonic() - started) * 1000))
            read = self.saver.save(read_input)
        except NotReady as exc:
            self.notifier.notify(str(exc), 6000)
            return False
        except StoreError as exc:
            self.notifier.notify(f"The adjudication could not be saved: {exc}", 0, dialog=True,
                                 title="Adjudication not saved", log_text=f"saving an adjudication failed: {exc}",
                                 level=logging.ERROR)
            return False
        earlier = r.read
        r.read = read
        self.model.touch(row)
        self.model.flush()
        self._refresh_diagnosis_panel(row, keep_input=False)  # type: ignore[attr-defined]
        self.notifier.notify(f"Adjudicated: {read.final_diagnosis.value.capitalize()} (supersedes "
                             f"{earlier.reviewer}'s {earlier.final_diagnosis.value.capitalize()})", 6000)
        return True

    def _adjudication_draft(self, calls: list[str], ai_label: str) -> Draft | None:
        if self.adjudication_provider is not None:
            return self.adjudication_provider(calls)
        dlg = AdjudicationDialog(calls, ai_label, self)  # type: ignore[arg-type]
        ok = dlg.exec()
        self.activateWindow()  # type: ignore[attr-defined]  # the review keys need the window again
        return dlg.draft() if ok else None
