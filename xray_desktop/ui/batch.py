"""The batch pipeline: scan → load (thread pool) → classify (inference thread) → row summary.

At most ``MAX_IN_FLIGHT`` studies are decoded and not yet classified at any time, so a folder
of thousands of radiographs never sits in memory; each row keeps only its summary.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from xray_desktop.domain import Prediction, WorkerFailure
from xray_desktop.io import ScanItem
from xray_desktop.logging_setup import key_hash
from xray_desktop.records.identity import Resolved, resolve
from xray_desktop.ui.study_list import Status, StudyListModel
from xray_desktop.ui.workers import (
    InferenceService,
    Loaded,
    LoadSignals,
    LoadTask,
    ScanTask,
    make_pool,
    next_request_id,
)

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 4
# Files a folder walk finds that are not images are listed only if they look like they meant to be.
_IMAGE_SUFFIXES = {"", ".dcm", ".dicom", ".dic", ".ima", ".png", ".jpg", ".jpeg"}


class BatchController(QObject):
    """Feeds rows of the study list through loading and inference, in order, cancellably."""

    progress_changed = Signal(int, int)  # done, total of the current batch
    finished = Signal()  # the batch ran out of work (or was cancelled)
    skipped = Signal(int)  # number of non-image files a folder walk left out
    row_loaded = Signal(int, object)  # source row, Loaded (so the viewer can reuse a decoded study)

    def __init__(self, model: StudyListModel, inference: InferenceService, store: Any,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.inference, self.store = model, inference, store
        self.pool = make_pool(2)
        self.signals = LoadSignals(self)
        self.signals.loaded.connect(self._on_loaded)
        self.signals.failed.connect(self._on_load_failed)
        self.signals.scanned.connect(self._on_scanned)
        self.signals.scan_finished.connect(self._on_scan_finished)
        inference.prediction_ready.connect(self._on_prediction_ready)
        inference.failed.connect(self._on_prediction_failed)
        self._queue: deque[int] = deque()
        self._loads: dict[int, int] = {}  # request id -> row
        self._predictions: dict[int, int] = {}  # request id -> row
        self._scans: set[int] = set()
        self._done = 0
        self._total = 0
        self._first_seen: dict[str, str] = {}  # UID -> SHA-256 of the first image listed with it

    # -- API ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str | Path]) -> None:
        """Scan files and folders off the GUI thread; found studies join the batch."""
        rid = next_request_id()
        self._scans.add(rid)
        self.pool.start(ScanTask(rid, [str(p) for p in paths], self.signals))

    def busy(self) -> bool:
        return bool(self._queue or self._loads or self._predictions or self._scans)

    def cancel(self) -> None:
        """Stop the batch: queued rows stay unanalysed; late results are dropped."""
        self.pool.clear()
        self.inference.cancel(self._predictions)
        for row in [*self._queue, *self._loads.values(), *self._predictions.values()]:
            r = self.model.rows[row]
            if r.status in (Status.QUEUED, Status.LOADING, Status.ANALYSING):
                r.status = Status.CANCELLED
                self.model.touch(row)
        self._queue.clear()
        self._loads.clear()
        self._predictions.clear()
        self._scans.clear()
        self._finish()

    def shutdown(self) -> None:
        """Cancel and wait for running decodes (milliseconds each) so no thread outlives the window."""
        self.cancel()
        self.pool.waitForDone(2000)

    # -- pipeline -------------------------------------------------------------------------
    def _pump(self) -> None:
        while self._queue and len(self._loads) + len(self._predictions) < MAX_IN_FLIGHT:
            row = self._queue.popleft()
            r = self.model.rows[row]
            if r.status != Status.QUEUED:
                self._done += 1  # the viewer got to it first
                self.progress_changed.emit(self._done, self._total)
                continue
            r.status = Status.LOADING
            self.model.touch(row)
            rid = next_request_id()
            self._loads[rid] = row
            self.pool.start(LoadTask(rid, r.path, self.signals))
        if not self.busy():
            self._finish()

    def _complete(self) -> None:
        self._done += 1
        self.progress_changed.emit(self._done, self._total)
        self._pump()

    def _finish(self) -> None:
        self._done = self._total = 0
        self.progress_changed.emit(0, 0)
        self.finished.emit()

    @Slot(int, object)
    def _on_scanned(self, rid: int, items: list[ScanItem]) -> None:
        if rid not in self._scans:
            return
        wanted: list[Path] = []
        errors: dict[Path, str] = {}
        skipped = 0
        for it in items:
            if not it.skip_reason:
                wanted.append(it.path)
            elif it.path.suffix.lower() in _IMAGE_SUFFIXES and it.path.name.upper() != "DICOMDIR":
                wanted.append(it.path)
                errors[it.path] = it.skip_reason
            else:
                skipped += 1
        if skipped:
            self.skipped.emit(skipped)
        new_rows = self.model.add_paths(wanted)
        for row in new_rows:
            r = self.model.rows[row]
            if r.path in errors:
                r.status, r.error = Status.ERROR, errors[r.path]
                self.model.touch(row)
            else:
                self._queue.append(row)
                self._total += 1
        self.progress_changed.emit(self._done, self._total)
        self._pump()

    @Slot(int)
    def _on_scan_finished(self, rid: int) -> None:
        self._scans.discard(rid)
        if not self.busy():
            self._finish()

    @Slot(int, object)
    def _on_loaded(self, rid: int, loaded: Loaded) -> None:
        row = self._loads.pop(rid, None)
        if row is None:
            return  # cancelled meanwhile
        r = self.model.rows[row]
        confirmed = self.absorb(row, loaded)
        self.row_loaded.emit(row, loaded)
        if confirmed:  # resume: its read holds the whole AI verdict, nothing is analysed again
            self._complete()
            return
        if not self.inference.available:
            r.status, r.gate_reason = Status.LOADED, ""
            self.model.touch(row)
            self._complete()
            return
        r.status = Status.ANALYSING
        self.model.touch(row)
        # The batch needs only the probability; the heat map is made for the study on screen.
        self._predictions[self.inference.request(loaded.study, heatmap=False)] = row

    @Slot(int, object)
    def _on_load_failed(self, rid: int, failure: WorkerFailure) -> None:
        row = self._loads.pop(rid, None)
        if row is None:
            return
        r = self.model.rows[row]
        r.status, r.error = Status.ERROR, failure.message
        self.model.touch(row)
        log.info("a study failed to load (%s)", failure.kind.value)  # the reason may quote a file name: not logged
        self._complete()

    @Slot(int, object)
    def _on_prediction_ready(self, rid: int, prediction: Prediction) -> None:
        row = self._predictions.pop(rid, None)
        if row is None:
            return  # not ours (the viewer's request) or cancelled
        apply_prediction(self.model, row, prediction)
        self._complete()

    @Slot(int, object)
    def _on_prediction_failed(self, rid: int, failure: WorkerFailure) -> None:
        row = self._predictions.pop(rid, None)
        if row is None:
            return
        r = self.model.rows[row]
        if r.status == Status.ANALYSING:
            r.status, r.gate_reason = Status.LOADED, failure.message
        self.model.touch(row)
        self._complete()

    def absorb(self, row: int, loaded: Loaded) -> bool:
        """Fill a row from a decoded study; True when the store says it is already confirmed."""
        r = self.model.rows[row]
        study = loaded.study
        resolved = self._resolve(study)
        # A read applies only to the same content: a taken UID makes this a new image.
        r.key = resolved.key if resolved is not None else study.key
        r.warning = resolved.warning if resolved is not None else ""
        r.sha256, r.metadata = study.sha256, study.metadata
        self.model.set_thumbnail(row, loaded.thumbnail)
        r.error = ""
        if r.read is None and resolved is not None and resolved.read is not None:
            # Resume: confirmed before, nothing to re-ask or re-analyse; show what was
            # recorded then, the input gate's and the intended-use verdict included.
            r.read, r.status = resolved.read, Status.CONFIRMED
            if r.probability is None and r.gate_accepted is None:
                restore_verdict(r, resolved.read)
        self.model.touch(row)
        return r.read is not None

    def _resolve(self, study: Any) -> Resolved | None:
        if self.store is None:
            return None
        try:
            return resolve(self.store, study.key, study.sha256, self._first_seen)
        except Exception as exc:  # noqa: BLE001 - a store hiccup must not stop the batch
            log.warning("store lookup failed for %s: %s", key_hash(study.key), exc)
            return None


def apply_prediction(model: StudyListModel, row: int, prediction: Prediction) -> None:
    """Copy a prediction's summary into a row (shared by the batch and the viewer)."""
    r = model.rows[row]
    r.probability = float(prediction.probability)
    r.gate_accepted = bool(prediction.gate.accepted)
    r.gate_reason = "" if prediction.gate.accepted else prediction.gate.reason
    r.out_of_scope = getattr(prediction, "out_of_scope", "") or ""
    if r.status != Status.CONFIRMED:
        r.status = (Status.REJECTED if not prediction.gate.accepted
                    else Status.OUT_OF_SCOPE if r.out_of_scope else Status.AI_READY)
    model.touch(row)


def restore_verdict(r: Any, read: Any) -> None:
    """What a stored read says the AI said: gate result, intended use, and its probability.

    ``gate_result`` is "accepted", "accepted; outside intended use (…)" or "rejected: reason"
    (written at confirm). Reads of refused studies saved before the decision rule existed may
    carry a probability: the "rejected" gate result still withholds it (``decision.verdict``).
    """
    gate = str(read.gate_result or "")
    if gate.startswith("rejected"):
        r.gate_accepted, r.gate_reason = False, gate.partition(":")[2].strip()
    elif gate.startswith("accepted"):
        r.gate_accepted = True
        r.out_of_scope = gate.partition(";")[2].strip()
    r.probability = read.ai_probability
