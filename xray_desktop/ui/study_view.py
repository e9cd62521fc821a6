"""The study on screen as a set of images: the viewer's strip, ``[``/``]``, and files joining the study.

A mixin of :class:`~xray_desktop.ui.main_window.MainWindow` (issue 14.1). A study opens on the
image the AI reads (the frontal); other images (a lateral) are shown, never scored, and carry
no heat map. When images join the study on screen, or the AI moves to another image (the gate
refused the first, a PA arrived after the lateral), the strip and the AI panel follow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from xray_desktop.review import ReviewSession
from xray_desktop.ui.study_list import Status
from xray_desktop.ui.workers import LoadTask, next_request_id


class StudyImages:
    """Mixin: which image of the current study is on screen (see the module docstring)."""

    # Attributes provided by MainWindow (declared for readers and type checkers).
    model: Any
    viewer: Any
    prediction_panel: Any
    model_input_view: Any
    batch: Any
    session: ReviewSession
    view_pool: Any
    view_signals: Any
    _cache: Any
    _image_idx: int
    _view_path: Path | None
    _view_first: bool
    _pred_path: Path | None
    _ai_path: Path | None

    _show: Callable[..., None]  # the StudyDisplay mixin's (study_display.py)

    def _load_image(self, row: int, path: Path, first: bool) -> None:
        """Show image ``path`` of ``row``'s study: from the cache, else decoded on the view pool."""
        r = self.model.rows[row]
        self._view_path, self._view_first = path, first
        cached = self._cache.get(path)
        if cached is not None:
            self._show(row, cached, first)
            return
        self.viewer.show_study(None, "Loading…")
        rid = self.session.expect_view(next_request_id())
        ai = path == r.path  # only the AI image's load looks up the study's reads
        self.view_pool.start(LoadTask(rid, path, self.view_signals, self.batch.lookup if ai else None,
                                      r.study if ai else None, r.gen))

    def show_image(self, index: int) -> None:
        """Show image ``index`` of the study on screen (the strip's buttons, ``[`` and ``]``)."""
        row = self.session.row
        if row < 0 or self.model.rows[row].status == Status.ERROR:
            return
        images = self.model.rows[row].images
        if not 0 <= index < len(images) or (index == self._image_idx and self._view_path == images[index].path):
            return
        self._image_idx = index
        self._show_strip(row)
        self._load_image(row, images[index].path, first=False)

    def step_image(self, delta: int) -> None:
        """``]``/``[``: the next/previous image of the study on screen (stops at the ends)."""
        n = len(self.model.rows[self.session.row].images) if self.session.row >= 0 else 0
        if n > 1:
            self.show_image(min(max(self._image_idx + delta, 0), n - 1))

    def _show_strip(self, row: int) -> None:
        """The viewer's image buttons and the AI panel's line on which image the AI read, and why."""
        r = self.model.rows[row]
        n = len(r.images)
        labels = [f"{i + 1}/{n} {im.view or '?'}" for i, im in enumerate(r.images)]
        ai = -1 if r.no_frontal else r.ai_index
        tips = [im.label + (" — the image the AI reads" if i == ai else "") for i, im in enumerate(r.images)]
        self.viewer.set_images(labels, tips, self._image_idx, ai)
        note = ""
        if n > 1:  # (a single image: the panel's gate line says why it was not assessed)
            note = f"AI read image {ai + 1}/{n}: {r.ai_reason}" if ai >= 0 else f"Not assessed: {r.ai_reason}"
        self.prediction_panel.set_ai_image(note)

    @Slot(int)
    def _on_study_changed(self, row: int) -> None:
        """Images joined the study on screen, or the AI moved to another of its images."""
        if not self.session.is_current(row):
            return
        r = self.model.rows[row]
        if r.path != self._ai_path:  # the AI moved to another image: the old answer is stale, ask anew
            self._ai_path = r.path
            self.session.pred_rid = 0
            self._pred_path = None
            self.prediction_panel.set_prediction(None)
            self.model_input_view.set_input(None)
            self._image_idx = r.ai_index
            self._show_strip(row)
            self._load_image(row, r.path, first=False)
            return
        paths = [im.path for im in r.images]
        if self._view_path in paths:
            self._image_idx = paths.index(self._view_path)
        self._show_strip(row)

