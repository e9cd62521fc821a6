"""The batch's intake: folder scans becoming rows of the study list, and images joining a listed study.

A mixin of :class:`~xray_desktop.ui.batch.BatchController`, kept apart so that ``batch.py`` stays
about the pipeline (load, classify, the row summary). A scan runs on the batch's scan pool; its
chunks arrive through the controller's inbox (``_post``), a few milliseconds' worth per turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Slot

from xray_desktop.io.studies import ImageStudy
from xray_desktop.ui.study_list import Status, StudyListModel

# Files a folder walk finds that are not images are listed only if they look like they meant to be.
_IMAGE_SUFFIXES = {"", ".dcm", ".dicom", ".dic", ".ima", ".png", ".jpg", ".jpeg"}


class BatchIntake:
    """Mixin: scanned studies join the batch (see the module docstring)."""

    # Attributes and methods provided by BatchController (declared for readers and type checkers).
    model: StudyListModel
    progress_changed: Any
    skipped: Any
    study_changed: Any
    _queue: deque[int]
    _scans: set[int]
    _done: int
    _total: int
    _post: Callable[..., None]
    _pump: Callable[[], None]
    _finish: Callable[[], None]
    _reanalyse: Callable[..., None]
    busy: Callable[[], bool]

    @Slot(int, object)
    def _on_scanned(self, rid: int, studies: list[ImageStudy]) -> None:
        if rid in self._scans:
            self._post(self._scan_chunk, rid, studies)

    @Slot(int)
    def _on_scan_finished(self, rid: int) -> None:
        if rid in self._scans:
            self._post(self._scan_done, rid)  # after its last chunk

    def _scan_chunk(self, rid: int, studies: list[ImageStudy]) -> None:
        if rid in self._scans:  # else cancelled meanwhile
            self._list_chunk(studies)

    def _scan_done(self, rid: int) -> None:
        if rid in self._scans:
            self._scans.discard(rid)
            if not self.busy():
                self._finish()

    def _list_chunk(self, studies: list[ImageStudy]) -> None:
        """New studies become rows; images of a study already listed join its row."""
        fresh: list[ImageStudy] = []
        skipped = 0
        for st in studies:
            path = st.images[0].path
            if st.error and not st.images[0].kind \
                    and (path.suffix.lower() not in _IMAGE_SUFFIXES or path.name.upper() == "DICOMDIR"):
                skipped += 1
                continue
            row = self.model.row_of_study(st.key)
            if row is None:
                fresh.append(st)
            else:
                self._join(row, st)
        if skipped:
            self.skipped.emit(skipped)
        for row in self.model.add_studies(fresh):
            r = self.model.rows[row]
            if r.study is not None and r.study.error:
                r.status, r.error = Status.ERROR, r.study.error
                self.model.touch(row)
            else:
                self._queue.append(row)
                self._total += 1
        self.progress_changed.emit(self._done, self._total)
        self._pump()

    def _join(self, row: int, study: ImageStudy) -> None:
        """More images of a listed study (a second folder, the PACS sending the next instance)."""
        r = self.model.rows[row]
        before = len(r.images)
        if self.model.join(row, study) and r.read is None:
            self._reanalyse(row)  # a better image for the AI arrived (a PA after a lateral)
        if len(r.images) != before:
            self.study_changed.emit(row)
