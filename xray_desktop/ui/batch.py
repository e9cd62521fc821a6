"""The batch pipeline: scan → load (thread pool) → classify (inference thread) → row summary.

At most ``MAX_IN_FLIGHT`` studies are decoded and not yet classified at any time, so a folder
of thousands of radiographs never sits in memory; each row keeps only its summary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from xray_desktop.domain import Prediction, WorkerFailure
from xray_desktop.io.studies import ImageStudy, image_ids
from xray_desktop.logging_setup import key_hash
from xray_desktop.records.identity import Resolved, claim, lookup, lookup_study, resolve
from xray_desktop.review import is_final
from xray_desktop.ui.batch_intake import BatchIntake
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
INBOX_SLICE_S = 0.008  # GUI-thread time for worker results per event-loop turn


class BatchController(BatchIntake, QObject):
    """Feeds rows of the study list through loading and inference, in order, cancellably."""

    progress_changed = Signal(int, int)  # done, total of the current batch
    finished = Signal()  # the batch ran out of work (or was cancelled)
    skipped = Signal(int)  # number of non-image files a folder walk left out
    row_loaded = Signal(int, object)  # source row, Loaded (so the viewer can reuse a decoded study)
    study_changed = Signal(int)  # source row: its images, or the image the AI reads, changed

    def __init__(self, model: StudyListModel, inference: InferenceService, store: Any,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.inference, self.store = model, inference, store
        self.pool = make_pool(2)
        # Folder walks read every file's header (grouping into studies): on a thread of their
        # own, so a long walk never holds back the loaders (it took one of the two for seconds).
        self.scan_pool = make_pool(1)
        self.signals = LoadSignals(self)
        self.signals.loaded.connect(self._on_loaded)
        self.signals.failed.connect(self._on_load_failed)
        self.signals.scanned.connect(self._on_scanned)
        self.signals.scan_finished.connect(self._on_scan_finished)
        inference.prediction_ready.connect(self._on_prediction_ready)
        inference.failed.connect(self._on_prediction_failed)
        self._queue: deque[int] = deque()
        self._loads: dict[int, tuple[int, int]] = {}  # request id -> (row, its AI-image generation)
        self._predictions: dict[int, tuple[int, int]] = {}  # request id -> (row, generation)
        self._scans: set[int] = set()
        # Results from the worker threads (scan chunks, decoded studies, predictions) wait here
        # and are handled a few milliseconds' worth per timer tick. Qt runs every queued signal
        # before any timer or input event, so handling them as they came let a burst of them
        # (a folder walk's chunks, loads finishing together) stall the window for over 100 ms.
        self._inbox: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._inbox_timer = QTimer(self)
        self._inbox_timer.setSingleShot(True)
        self._inbox_timer.setInterval(0)
        self._inbox_timer.timeout.connect(self._drain_inbox)
        self._done = 0
        self._total = 0
        self._first_seen: dict[str, str] = {}  # UID -> SHA-256 of the first image listed with it
        self._readers: dict[int, Any] = {}  # loader thread id -> its read-only store connection
        self._readers_lock = threading.Lock()

    # -- API ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str | Path]) -> None:
        """Scan files and folders off the GUI thread; found studies join the batch."""
        rid = next_request_id()
        self._scans.add(rid)
        self.scan_pool.start(ScanTask(rid, [str(p) for p in paths], self.signals))

    def busy(self) -> bool:
        return bool(self._queue or self._loads or self._predictions or self._scans or self._inbox)

    def cancel(self) -> None:
        """Stop the batch: queued rows stay unanalysed; late results are dropped."""
        self.pool.clear()
        self.scan_pool.clear()
        self.inference.cancel(self._predictions)
        for row in [*self._queue, *(r for r, _ in self._loads.values()), *(r for r, _ in self._predictions.values())]:
            r = self.model.rows[row]
            if r.status in (Status.QUEUED, Status.LOADING, Status.ANALYSING):
                r.status = Status.CANCELLED
                self.model.touch(row)
        self._queue.clear()
        self._loads.clear()
        self._predictions.clear()
        self._scans.clear()
        self._inbox.clear()
        self._finish()

    def shutdown(self) -> None:
        """Cancel and wait for running decodes (milliseconds each) so no thread outlives the window."""
        self.cancel()
        self.pool.waitForDone(2000)
        self.scan_pool.waitForDone(2000)
        with self._readers_lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()

    def lookup(self, study: Any, entry: ImageStudy | None = None) -> Resolved | None:
        """The store's reads of ``study`` (of its whole study ``entry`` when given: ``identity.lookup_study``).

        Runs on a loader thread, with that thread's own connection.
        """
        if self.store is None or not hasattr(self.store, "reader"):
            return None
        # By native thread id, not threading.local: PySide gives a pool thread a new Python
        # thread state for each task, so a thread-local connection was opened (and kept) per study.
        me = threading.get_ident()
        with self._readers_lock:
            reader = self._readers.get(me)
            if reader is None:
                reader = self._readers[me] = self.store.reader()
        if entry is not None and entry.key:
            return lookup_study(reader, entry.key, image_ids(entry))
        return lookup(reader, study.key, study.sha256)

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
            self._loads[rid] = (row, r.gen)
            self.pool.start(LoadTask(rid, r.path, self.signals, self.lookup, r.study, r.gen))
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

    def _post(self, handler: Callable[..., None], *args: Any) -> None:
        self._inbox.append((handler, args))
        if not self._inbox_timer.isActive():
            self._inbox_timer.start()

    def _drain_inbox(self) -> None:
        """Handle waiting worker results for up to ``INBOX_SLICE_S``, then let other events run."""
        deadline = time.perf_counter() + INBOX_SLICE_S
        while self._inbox:
            handler, args = self._inbox.popleft()
            handler(*args)
            if time.perf_counter() >= deadline:
                break
        if self._inbox:
            self._inbox_timer.start()

    def _reanalyse(self, row: int, front: bool = False) -> None:
        """The row's AI image changed: forget the old answer and analyse the new image."""
        r = self.model.rows[row]
        r.probability = r.gate_accepted = None
        r.gate_reason = r.out_of_scope = r.error = ""
        r.status = Status.QUEUED
        self.model.touch(row)
        if row not in self._queue:
            if front:
                self._queue.appendleft(row)
            else:
                self._queue.append(row)
                self._total += 1
        self._pump()

    def ai_answer(self, row: int, prediction: Prediction) -> bool:
        """Apply the AI's answer on the row's AI image; False when the gate refused it and another
        candidate image of the study is now being analysed instead (``io.studies.choose_ai_image``)."""
        r = self.model.rows[row]
        if not prediction.gate.accepted and r.read is None and r.study is not None:
            r.refused[r.path] = prediction.gate.reason or "refused by the input gate"
            if r.choose() and not r.no_frontal:
                self._reanalyse(row, front=True)
                self.study_changed.emit(row)
                return False
        apply_prediction(self.model, row, prediction)
        return True

    @Slot(int, object)
    def _on_loaded(self, rid: int, loaded: Loaded) -> None:
        self._post(self._handle_loaded, rid, loaded)

    def _handle_loaded(self, rid: int, loaded: Loaded) -> None:
        row, gen = self._loads.pop(rid, (None, 0))
        if row is None:
            return  # cancelled meanwhile
        r = self.model.rows[row]
        if gen != r.gen:  # the study's AI image changed meanwhile; the new one is queued
            self._complete()
            return
        confirmed = self.absorb(row, loaded)
        self.row_loaded.emit(row, loaded)
        if confirmed:  # resume: its read holds the whole AI verdict, nothing is analysed again
            self._complete()
            return
        if r.no_frontal:  # laterals only (or every candidate refused): shown, never scored
            r.status, r.gate_accepted, r.gate_reason = Status.REJECTED, False, r.ai_reason
            self.model.touch(row)
            self._complete()
            return
        if r.gate_accepted is not None:  # the viewer's answer on this image came first
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
        self._predictions[self.inference.request(loaded.study, heatmap=False)] = (row, r.gen)

    @Slot(int, object)
    def _on_load_failed(self, rid: int, failure: WorkerFailure) -> None:
        self._post(self._handle_load_failed, rid, failure)

    def _handle_load_failed(self, rid: int, failure: WorkerFailure) -> None:
        row, gen = self._loads.pop(rid, (None, 0))
        if row is None:
            return
        r = self.model.rows[row]
        if gen != r.gen:
            self._complete()
            return
        log.info("a study failed to load (%s)", failure.kind.value)  # the reason may quote a file name: not logged
        if self.load_failed(row, failure.message):
            return
        r.status, r.error = Status.ERROR, failure.message
        self.model.touch(row)
        self._complete()

    def load_failed(self, row: int, message: str) -> bool:
        """The row's AI image does not load: True when another frontal image of the study is queued instead."""
        r = self.model.rows[row]
        if r.study is None or r.read is not None or r.no_frontal:
            return False
        r.refused[r.path] = f"cannot load ({message})"
        if r.choose() and not r.no_frontal:
            self._reanalyse(row, front=row not in self._queue)
            self.study_changed.emit(row)
            return True
        return False

    @Slot(int, object)
    def _on_prediction_ready(self, rid: int, prediction: Prediction) -> None:
        self._post(self._handle_prediction_ready, rid, prediction)

    def _handle_prediction_ready(self, rid: int, prediction: Prediction) -> None:
        row, gen = self._predictions.pop(rid, (None, 0))
        if row is None:
            return  # not ours (the viewer's request) or cancelled
        if gen != self.model.rows[row].gen:
            self._complete()
            return
        if self.ai_answer(row, prediction):
            self._complete()

    @Slot(int, object)
    def _on_prediction_failed(self, rid: int, failure: WorkerFailure) -> None:
        self._post(self._handle_prediction_failed, rid, failure)

    def _handle_prediction_failed(self, rid: int, failure: WorkerFailure) -> None:
        row, _gen = self._predictions.pop(rid, (None, 0))
        if row is None:
            return
        r = self.model.rows[row]
        if r.status == Status.ANALYSING:
            r.status, r.gate_reason = Status.LOADED, failure.message
        self.model.touch(row)
        self._complete()

    def absorb(self, row: int, loaded: Loaded) -> bool:
        """Fill a row from its decoded AI image; True when the store says it is already confirmed."""
        r = self.model.rows[row]
        study = loaded.study
        resolved = self._resolve(row, loaded)
        # A read applies only to the same content: a taken UID makes this a new image.
        default = r.study.key if r.study is not None and r.study.key else study.key
        r.key = resolved.key if resolved is not None else default
        r.warning = resolved.warning if resolved is not None else ""
        r.sha256, r.metadata = study.sha256, study.metadata
        self.model.set_thumbnail(row, loaded.thumbnail)
        r.error = ""
        if r.read is None and resolved is not None and resolved.read is not None:
            # Resume: confirmed before, nothing to re-ask or re-analyse; show what was
            # recorded then, the input gate's and the intended-use verdict included. A first
            # impression alone (read-first mode) is not confirmed: the AI still runs for its final.
            r.read = resolved.read
            if is_final(r.read):
                r.status = Status.CONFIRMED
                if r.probability is None and r.gate_accepted is None:
                    restore_verdict(r, resolved.read)
        self.model.touch(row)
        return is_final(r.read)

    def _resolve(self, row: int, loaded: Loaded) -> Resolved | None:
        if self.store is None:
            return None
        study, entry = loaded.study, self.model.rows[row].study
        try:
            if entry is not None and entry.key:  # a study: its key is the StudyInstanceUID (or the file's hash)
                if loaded.resolved is not None:  # looked up on the loader thread
                    return loaded.resolved
                return lookup_study(self.store, entry.key, image_ids(entry))  # only if the loader's failed
            if loaded.resolved is not None:
                return claim(self.store, loaded.resolved, study.key, study.sha256, self._first_seen)
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
