"""The study on screen, decoded and answered: the decode cache, prefetch, loads and predictions arriving.

A mixin of :class:`~xray_desktop.ui.main_window.MainWindow`, like ``study_view.py`` (which image
of the study is on screen). Here: a decoded image is put on screen with its prediction and heat
map, the next study is decoded ahead, and the view pool's, the batch's and the model's results
for the study on screen are taken in (stale ones, by request id, are dropped: ``review.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from xray_desktop.domain import Prediction, Study, WorkerFailure
from xray_desktop.review import ReviewSession
from xray_desktop.ui.study_list import Status
from xray_desktop.ui.workers import Loaded, LoadTask, next_request_id

CACHE_SIZE = 3  # decoded studies kept: the current one and the next (full pixels are big)


@dataclass
class _Cached:
    study: Study
    prediction: Prediction | None = None


class StudyDisplay:
    """Mixin: decoded images and AI answers for the study on screen (see the module docstring)."""

    # Attributes provided by MainWindow (declared for readers and type checkers).
    model: Any
    list_panel: Any
    viewer: Any
    prediction_panel: Any
    model_input_view: Any
    diagnosis_panel: Any
    notifier: Any
    inference: Any
    batch: Any
    session: ReviewSession
    view_pool: Any
    view_signals: Any
    _cache: Any
    _view_path: Path | None
    _view_first: bool
    _pred_path: Path | None
    # Methods of MainWindow and of the StudyImages mixin (study_view.py).
    _refresh_diagnosis_panel: Callable[..., None]
    _show_strip: Callable[[int], None]

    def _show(self, row: int, cached: _Cached, first: bool = True) -> None:
        """Put a decoded image of ``row`` on screen; the AI image gets the prediction and heat map."""
        self._cache.move_to_end(cached.study.path)
        self.viewer.show_study(cached.study)
        r = self.model.rows[row]
        if first:
            self.session.shown()
            if r.warning:
                self.notifier.notify(r.warning, 15000)
            self._prefetch_after(row)
        if cached.study.path != r.path:
            return  # another image of the study (a lateral): shown, not scored, no heat map
        if cached.prediction is not None:
            self._show_prediction(row, cached.prediction)
        elif r.no_frontal:  # no image the AI may read (laterals only): say so, ask nothing
            self.prediction_panel.set_prediction(None, False, r.gate_reason or r.ai_reason)
            self._show_model_name()  # not "Analysing…": nothing is asked
        elif self.inference.available:
            self.prediction_panel.status_label.setText("Analysing…")
            self._pred_path = cached.study.path
            self.session.expect_prediction(self.inference.request(cached.study, heatmap=True))

    def _show_prediction(self, row: int, p: Prediction) -> None:
        r = self.model.rows[row]
        v = self.session.verdict(r)
        show = self.session.ai_display(v, r)  # review.ai_display: what of the answer may be on screen
        self.viewer.set_heatmap(p.heatmap if show.heatmap else None, positive=v.label == "PNEUMONIA")
        self.model_input_view.set_input(p.model_input)
        self.prediction_panel.set_prediction(p.probability, p.gate.accepted, p.gate.reason,
                                             getattr(p, "out_of_scope", ""))
        self.diagnosis_panel.set_ai_label(v.label if show.label else "")
        self._show_model_name()

    def _show_model_name(self) -> None:
        if self.inference.info is not None:
            self.prediction_panel.status_label.setText(
                f"Model {self.inference.info.card.name} {self.inference.info.version}")

    def _prefetch_after(self, row: int) -> None:
        below = self.list_panel.row_below(row)
        if below < 0:
            return
        nxt = self.model.rows[below]
        if nxt.status != Status.ERROR and nxt.path not in self._cache:
            self.view_pool.start(LoadTask(next_request_id(), nxt.path, self.view_signals, self.batch.lookup,
                                          nxt.study, nxt.gen))

    def _put_cache(self, loaded: Loaded) -> _Cached:
        entry = self._cache.get(loaded.path) or _Cached(loaded.study)
        self._cache[loaded.path] = entry
        self._cache.move_to_end(loaded.path)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    @Slot(int, object)
    def _on_view_loaded(self, rid: int, loaded: Loaded) -> None:
        row = self.model.row_of(loaded.path)
        if row is None:
            return
        entry = self._put_cache(loaded)
        r = self.model.rows[row]
        ai_image = loaded.path == r.path and loaded.gen == r.gen
        if ai_image and (not r.key or r.status in (Status.QUEUED, Status.CANCELLED)):
            self.batch.absorb(row, loaded)
            if self.session.is_current(row):
                self._refresh_diagnosis_panel(row)
        if loaded.path == self._view_path and self.session.take_view(rid, row):
            self._show(row, entry, self._view_first)

    @Slot(int, object)
    def _on_view_failed(self, rid: int, failure: WorkerFailure) -> None:
        if not self.session.view_failed(rid):
            return  # a prefetch: the batch reports that file's error itself
        r = self.model.rows[self.session.row]
        path = self._view_path or r.path
        self.viewer.show_study(None, f"Cannot show {path.name}: {failure.message}")
        if path != r.path:
            return  # another image of the study (a lateral): the study itself is fine
        if not self.batch.load_failed(self.session.row, failure.message):  # else: its next frontal image
            r.status, r.error = Status.ERROR, failure.message
            self.model.touch(self.session.row)

    @Slot(int, object)
    def _on_row_loaded(self, row: int, loaded: Loaded) -> None:
        # The batch decoded the study on screen (or the next one): reuse it rather than decode twice.
        if self.session.is_current(row) and not self.diagnosis_panel.isEnabled():
            self._refresh_diagnosis_panel(row)  # its key is known now, so it can be confirmed
        if self.session.is_current(row) and loaded.path == self._view_path and self.session.take_any_view(row):
            self._show(row, self._put_cache(loaded), self._view_first)

    @Slot(int, object)
    def _on_prediction_ready(self, rid: int, prediction: Prediction) -> None:
        if not self.session.take_prediction(rid):
            return  # the batch's request, or the user has moved on
        row = self.session.row
        path, self._pred_path = self._pred_path, None
        r = self.model.rows[row]
        if path != r.path:
            return  # the study's AI image changed meanwhile
        if path in self._cache:
            self._cache[path].prediction = prediction
        if self.batch.ai_answer(row, prediction):  # else refused: the next candidate image is on its way
            if r.refused:  # the AI's choice may read differently now ("not used: …")
                self._show_strip(row)
            self._show_prediction(row, prediction)

    @Slot(int, object)
    def _on_prediction_failed(self, rid: int, failure: WorkerFailure) -> None:
        if self.session.take_prediction(rid):
            self.prediction_panel.status_label.setText(failure.message)
