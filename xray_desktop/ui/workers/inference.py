"""The inference worker thread (the model loads and predicts there, never on the GUI thread),
request ids, and the process-wide threading policy of the GUI.
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from xray_desktop.domain import FailureKind, Prediction, Study, WorkerFailure
from xray_desktop.model.site_profile import newest_for

log = logging.getLogger(__name__)



_ids = itertools.count(1)
_ids_lock = threading.Lock()

def configure_threads() -> None:
    """Process-wide threading policy for the GUI (called by ``app.run``).

    Every Python callback from Qt (a model's ``data()`` while painting) must take the GIL;
    with the default 5 ms switch interval a busy decoder thread makes each one wait up to
    5 ms, and a repaint of the list then stalls for a visible fraction of a second.
    """
    sys.setswitchinterval(0.001)
    # Full collections run on whichever thread allocates, often the GUI thread, and walk every
    # tracked object: the start-up heap (Qt bindings, pydicom's dictionaries) never becomes
    # garbage, so it is moved out of the collector's sight.
    gc.collect()
    gc.freeze()


def next_request_id() -> int:
    """A process-wide increasing id for loads and predictions."""
    with _ids_lock:
        return next(_ids)


class ClassifierLike(Protocol):
    """What the GUI needs from a classifier (the real one or a test fake)."""

    card: Any
    version: str
    sha256: str

    def predict(self, study: Study, heatmap: bool = True) -> Prediction: ...


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI keeps about the loaded model (the classifier itself stays on its thread)."""

    card: Any  # ModelCard
    version: str
    sha256: str
    site_profile: Any = None  # the newest SiteProfile made for this model, read on the worker; None if none


def newest_site_profile(sha256: str) -> Any:
    """The site profile for this model, if any; a folder we cannot read means none (and a log line)."""
    try:
        return newest_for(sha256)
    except OSError as exc:
        log.warning("site profiles unreadable: %s", exc.strerror)
        return None


@dataclass
class Loaded:
    """A decoded study and its thumbnail, as produced by a :class:`LoadTask`."""

    path: Path
    study: Study
    thumbnail: bytes  # JPEG, see ui/thumbnails.py
    resolved: Any = None  # the store's lookup of its reads, when the task was given one
    gen: int = 0  # the row's AI-image generation the load was asked for (ui/study_list.StudyRow.gen)


def model_failure(exc: BaseException) -> WorkerFailure:
    """Type a model-load exception once, here: its message is shown as-is from then on.

    The model layer's ``ModelError`` carries its kind and a finished sentence ("AI model
    refused: …", "AI model unavailable: …"); anything else is a bug in the loader.
    """
    kind = getattr(exc, "kind", None)
    if isinstance(kind, FailureKind):
        return WorkerFailure(kind, str(exc) or type(exc).__name__)
    return WorkerFailure(FailureKind.UNEXPECTED, f"AI model unavailable: {str(exc) or type(exc).__name__}")


# -- inference -------------------------------------------------------------------------------


class InferenceWorker(QObject):
    """Owns the classifier; its methods run on the inference thread, one request at a time."""

    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(object)  # WorkerFailure
    prediction_ready = Signal(int, object)  # request id, Prediction
    failed = Signal(int, object)  # request id, WorkerFailure

    def __init__(self, factory: Callable[[], ClassifierLike]) -> None:
        super().__init__()
        self._factory = factory
        self._classifier: ClassifierLike | None = None
        self._error: WorkerFailure | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()

    @Slot()
    def load_model(self) -> None:
        """Build the classifier on this thread (TensorFlow is imported here, never on the GUI thread)."""
        if self._stop.is_set():
            return
        try:
            self._classifier = self._factory()
        except Exception as exc:  # noqa: BLE001 - any load failure leaves the app a plain viewer
            self._error = model_failure(exc)
            log.warning("model load failed (%s): %s", self._error.kind.value, self._error.message)
            self.model_failed.emit(self._error)
            return
        c = self._classifier
        # Files, so here rather than on the GUI thread: the site's profile for this model.
        self.model_loaded.emit(ModelInfo(c.card, str(c.version), str(c.sha256), newest_site_profile(str(c.sha256))))

    @Slot(int, object, bool)
    def predict(self, request_id: int, study: Study, heatmap: bool) -> None:
        """Classify ``study`` unless the request was cancelled or the app is closing."""
        if self._stop.is_set() or self._take_cancelled(request_id):
            return
        if self._classifier is None:
            self.failed.emit(request_id, self._error or WorkerFailure(FailureKind.LOAD_ERROR, "model not loaded"))
            return
        try:
            prediction = self._classifier.predict(study, heatmap=heatmap)
        except Exception as exc:  # noqa: BLE001 - one bad study must not kill the worker
            log.warning("prediction %d failed: %s", request_id, exc)
            self.failed.emit(request_id, WorkerFailure(FailureKind.ANALYSIS_ERROR, f"analysis failed: {exc}"))
            return
        if not self._stop.is_set():
            self.prediction_ready.emit(request_id, prediction)

    # Called from the GUI thread; guarded by a lock because the worker reads the set.
    def cancel(self, request_ids: Iterable[int]) -> None:
        with self._lock:
            self._cancelled.update(request_ids)

    def stop(self) -> None:
        self._stop.set()

    def _take_cancelled(self, request_id: int) -> bool:
        with self._lock:
            if request_id in self._cancelled:
                self._cancelled.discard(request_id)
                return True
        return False


class InferenceService(QObject):
    """GUI-side handle of the inference thread: start, request, cancel, shut down."""

    predict_requested = Signal(int, object, bool)  # request id, Study, want a heat map
    _load_requested = Signal()  # asks the worker to load the model on its thread
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(object)  # WorkerFailure
    prediction_ready = Signal(int, object)  # request id, Prediction
    failed = Signal(int, object)  # request id, WorkerFailure

    def __init__(self, factory: Callable[[], ClassifierLike] | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"  # idle -> loading -> ready | failed
        self.info: ModelInfo | None = None
        self.failure: WorkerFailure | None = None
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue()
        self._worker: InferenceWorker | None = None
        if factory is None:
            self.state = "failed"
            self.failure = WorkerFailure(FailureKind.LOAD_ERROR, "AI model unavailable: no model configured")
            return
        # A Python thread, not a QThread: TensorFlow's pybind11 code re-acquires the GIL on
        # error paths, and on a QThread that was seen to deadlock the whole process when a
        # prediction followed the model load at once (reproduced with the real model).
        self._thread = threading.Thread(target=self._serve, name="inference", daemon=True)
        self._worker = InferenceWorker(factory)
        self._load_requested.connect(lambda: self._queue.put((self._worker.load_model, ())))
        self.predict_requested.connect(lambda rid, st, hm: self._queue.put((self._worker.predict, (rid, st, hm))))
        self._worker.model_loaded.connect(self._on_model_loaded)
        self._worker.model_failed.connect(self._on_model_failed)
        self._worker.prediction_ready.connect(self.prediction_ready)
        self._worker.failed.connect(self.failed)

    def _serve(self) -> None:
        """The inference thread: run queued calls in order until told to stop."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            fn(*args)

    @property
    def available(self) -> bool:
        """True when the model is loaded, or still loading (requests then queue behind it)."""
        return self.state in ("loading", "ready")

    def start(self) -> None:
        """Start the thread and load the model there; returns at once."""
        if self._thread is None or self.state != "idle":
            return
        self.state = "loading"
        self._thread.start()
        self._load_requested.emit()

    def request(self, study: Study, heatmap: bool) -> int:
        """Queue a prediction; returns its request id (the answer comes as a signal)."""
        rid = next_request_id()
        self.predict_requested.emit(rid, study, heatmap)
        return rid

    def cancel(self, request_ids: Iterable[int]) -> None:
        """Skip these requests if the worker has not started them yet."""
        ids = set(request_ids)
        if self._worker is not None:
            self._worker.cancel(ids)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the worker thread; pending requests are skipped. True when it ended in time."""
        if self._thread is None or not self._thread.is_alive():
            return True
        assert self._worker is not None
        self._worker.stop()
        self._queue.put(None)
        self._thread.join(timeout_ms / 1000)
        ok = not self._thread.is_alive()
        if not ok:
            log.warning("inference thread still busy after %d ms", timeout_ms)
        return ok

    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.state, self.info = "ready", info
        self.model_loaded.emit(info)

    @property
    def error(self) -> str:
        """The message of the model failure, or "" (for text-only callers such as the model card)."""
        return self.failure.message if self.failure is not None else ""

    @Slot(object)
    def _on_model_failed(self, failure: WorkerFailure) -> None:
        self.state, self.failure = "failed", failure
        self.model_failed.emit(failure)
