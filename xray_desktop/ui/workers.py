"""ALL threading of the GUI: inference worker thread, file-loading thread pool, reads writer, trail check.

Every request carries an id from :func:`next_request_id`; the receiver compares it with the
id it is waiting for and drops stale answers, so the user moving on never shows old results.
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QEventLoop, QObject, QRunnable, QThread, QThreadPool, QTimer, Signal, Slot

from xray_desktop.domain import FailureKind, Prediction, Study, WorkerFailure
from xray_desktop.io import StudyLoadError, load_study, scan
from xray_desktop.io.studies import ImageStudy, describe, group_images, with_hashes
from xray_desktop.model.site_profile import ProfileError, newest_for
from xray_desktop.records import Read, ReadInput, Store
from xray_desktop.records.anchor import session_check
from xray_desktop.ui.thumbnails import encode_thumbnail

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


# -- file loading ----------------------------------------------------------------------------


class LoadSignals(QObject):
    """Long-lived signals object shared by the tasks of one owner (tasks die, this doesn't)."""

    loaded = Signal(int, object)  # request id, Loaded
    failed = Signal(int, object)  # request id, WorkerFailure (the loader's reason)
    scanned = Signal(int, object)  # request id, list[ImageStudy] (one chunk of files, grouped)
    scan_finished = Signal(int)  # request id


class LoadTask(QRunnable):
    """Decode one file and make its thumbnail, off the GUI thread."""

    def __init__(self, request_id: int, path: Path, signals: LoadSignals,
                 lookup: Callable[[Study, ImageStudy | None], Any] | None = None,
                 study: ImageStudy | None = None, gen: int = 0) -> None:
        super().__init__()
        self.request_id, self.path, self.signals = request_id, Path(path), signals
        self.lookup = lookup  # the reads lookup, done here so the GUI thread does not wait on it
        self.study, self.gen = study, gen  # the study the file belongs to: its reads are looked up

    def run(self) -> None:
        try:
            study = load_study(self.path)
            thumb = encode_thumbnail(study.pixels)
        except StudyLoadError as exc:
            self.signals.failed.emit(self.request_id, WorkerFailure(FailureKind.LOAD_ERROR, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a loader bug must become a row error, not a crash
            log.error("unexpected loader failure: %s", type(exc).__name__)
            failure = WorkerFailure(FailureKind.UNEXPECTED, f"unexpected error: {type(exc).__name__}")
            self.signals.failed.emit(self.request_id, failure)
            return
        resolved = None
        if self.lookup is not None:
            try:
                resolved = self.lookup(study, self.study)
            except Exception as exc:  # noqa: BLE001 - the GUI thread looks it up again instead
                log.warning("reads lookup on the loader failed: %s", type(exc).__name__)
        self.signals.loaded.emit(self.request_id, Loaded(self.path, study, thumb, resolved, self.gen))


class ScanTask(QRunnable):
    """Walk files and folders, read each file's header and hash, group into studies (``io.studies``).

    Reported in chunks so the list fills progressively; a study whose files fall into several
    chunks (or arrive later) is joined by the batch under its key. Headers and hashes are read
    here, never on the GUI thread.
    """

    CHUNK = 25  # small chunks: each insertion is a short GUI-thread slice
    # Reading a header is ~1.5 ms of Python (pydicom) holding the GIL; a pause after each file
    # leaves the GIL to the GUI thread and the loaders (the load test's stalls grew without it).
    PAUSE_S = 0.001

    def __init__(self, request_id: int, paths: list[str], signals: LoadSignals) -> None:
        super().__init__()
        self.request_id, self.paths, self.signals = request_id, list(paths), signals

    def _emit(self, chunk: list[Any]) -> None:
        images = []
        for it in chunk:
            image = describe(it)
            time.sleep(self.PAUSE_S)
            if image.error and not it.skip_reason:  # the scan took it for an image: an error row, not "skipped"
                image = replace(image, kind=it.kind)
            images.append(image)
        self.signals.scanned.emit(self.request_id, group_images(with_hashes(images)))

    def run(self) -> None:
        chunk: list[Any] = []
        try:
            for item in scan(self.paths):
                chunk.append(item)
                if len(chunk) >= self.CHUNK:
                    self._emit(chunk)
                    chunk = []
            if chunk:
                self._emit(chunk)
        except OSError as exc:
            log.warning("scan failed: %s", exc.strerror)
        except Exception as exc:  # noqa: BLE001 - the batch must still hear that the scan ended
            log.error("scan failed: %s", type(exc).__name__)
        self.signals.scan_finished.emit(self.request_id)


class JobSignals(QObject):
    """Answers of :class:`JobTask` s (long-lived: the tasks die, this doesn't)."""

    done = Signal(int, object)  # request id, the function's result
    failed = Signal(int, object)  # request id, WorkerFailure


class JobTask(QRunnable):
    """Run one plain function off the GUI thread (the site report, its HTML file); answer by signal.

    A ``StoreError``, ``OSError`` or ``ValueError`` (and the site layer's errors, which are
    ``Exception`` s with a message for a person) arrive as a LOAD_ERROR with that message;
    anything else is a bug, named as UNEXPECTED.
    """

    EXPECTED: tuple[type[BaseException], ...] = (OSError, ValueError)

    def __init__(self, request_id: int, fn: Callable[[], Any], signals: JobSignals) -> None:
        super().__init__()
        self.request_id, self.fn, self.signals = request_id, fn, signals

    def run(self) -> None:
        from xray_desktop.records import StoreError  # here: keeps this module's import block as it was

        try:
            result = self.fn()
        except (StoreError, ProfileError, *self.EXPECTED) as exc:
            self.signals.failed.emit(self.request_id, WorkerFailure(FailureKind.LOAD_ERROR, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug must reach the window, not vanish in the pool
            log.error("background job failed: %s", type(exc).__name__)  # no message: it may hold a path
            failure = WorkerFailure(FailureKind.UNEXPECTED, f"unexpected error: {type(exc).__name__}: {exc}")
            self.signals.failed.emit(self.request_id, failure)
        else:
            self.signals.done.emit(self.request_id, result)


def make_pool(threads: int) -> QThreadPool:
    """A private pool, so batch loading never delays the study the user is looking at."""
    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    pool.setThreadPriority(QThread.Priority.LowPriority)
    return pool


# -- saving reads ----------------------------------------------------------------------------


class ReadSaver:
    """Commits confirmed reads on a thread and connection of its own.

    A commit waits for the disk (``synchronous=FULL``), usually for milliseconds but on a
    busy disk for up to ~0.8 s (issue #8's load runs). ``save`` still returns only once the
    read is durable, but while it waits the GUI thread keeps painting and running its
    timers; user input is held back until the commit returns, so nothing can be clicked
    on a half-saved state.
    """

    BLOCK_S = 0.02  # a commit that returns within this is waited for plainly (the usual case)
    POLL_MS = 2

    def __init__(self, db_path: Path | str) -> None:
        self._path = db_path  # a str may be a postgresql:// URL: Path() would mangle it
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reads-writer")
        self._store: Store | None = None  # opened on the writer thread, used only there
        self.saving = False

    def _add(self, read_input: ReadInput) -> Read:
        if self._store is None:
            self._store = Store.open(self._path, create=False)
        return self._store.add_read(read_input)

    def save(self, read_input: ReadInput) -> Read:
        """Commit ``read_input``; return the stored read or raise StoreError (GUI thread)."""
        self.saving = True
        try:
            future = self._pool.submit(self._add, read_input)
            try:
                return future.result(timeout=self.BLOCK_S)
            except FuturesTimeout:
                pass
            loop = QEventLoop()
            poll = QTimer()
            poll.setInterval(self.POLL_MS)
            poll.timeout.connect(lambda: future.done() and loop.quit())
            poll.start()
            if not future.done():
                loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            poll.stop()
            return future.result()
        finally:
            self.saving = False

    def close(self) -> None:
        """Finish any pending commit, then close the writer's connection."""
        def _close() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self._pool.submit(_close)
        self._pool.shutdown(wait=True)


# -- the audit trail -------------------------------------------------------------------------


class TrailChecker(QObject):
    """Checks the reads' audit trail against this database's anchor on the ``trail-check`` thread.

    ``verify`` re-hashes every read (2.4 s for 25,000), so neither the start-up nor the
    session-end check runs on the GUI thread; they run in order on one thread, each with its
    own connection (one anchor writer at a time).
    """

    broken = Signal(str)  # the reader's warning from a reported check; emitted on the GUI thread
    _found = Signal(str)  # emitted on the trail-check thread, delivered queued to _relay

    def __init__(self, db_path: Path | str, parent: QObject | None = None,
                 check: Callable[[Path | str], str] = session_check) -> None:
        super().__init__(parent)
        self._path, self._check = db_path, check  # a str may be a postgresql:// URL: Path() would mangle it
        self._found.connect(self._relay)  # this object lives on the GUI thread: the emit is queued
        self._queue: queue.Queue[bool | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="trail-check", daemon=True)
        self._thread.start()

    def check(self, report: bool = True) -> None:
        """Queue a check; a failed one emits :attr:`broken` when ``report`` (the check logs it anyway)."""
        self._queue.put(report)

    def busy(self) -> bool:
        return self._queue.unfinished_tasks > 0

    def close(self, timeout_s: float = 60) -> bool:
        """Let the queued checks finish (up to ``timeout_s``), then stop; True when they did."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @Slot(str)
    def _relay(self, text: str) -> None:
        self.broken.emit(text)

    def _serve(self) -> None:
        while True:
            report = self._queue.get()
            try:
                if report is None:
                    return
                try:
                    text = self._check(self._path)
                except Exception as exc:  # noqa: BLE001 - the thread must serve the session-end check too
                    log.error("audit trail check failed: %s", type(exc).__name__)
                    text = f"The audit trail could not be checked: unexpected error ({type(exc).__name__})"
                if text and report:
                    self._found.emit(text)
            finally:
                self._queue.task_done()


# -- DICOM receive ----------------------------------------------------------------------------


class ReceiverService(QObject):
    """The DICOM receiver (``net.receive.Receiver``) for the window, started and stopped off the GUI thread.

    Start (folder check, stale-part sweep, bind) and stop (waits for the serve loop and
    aborts associations) run in order on the ``dicom-receive`` control thread; pynetdicom's
    server and association threads do the listening. Every signal is emitted from those
    threads and delivered queued to the GUI thread; ``received`` carries one path per
    stored file, nothing heavier.
    """

    received = Signal(str)  # the stored file's path
    started = Signal(str, int)  # AE title, port
    failed = Signal(str)  # could not start (port in use, permission denied, bad folder...): one line
    stopped = Signal()
    problem = Signal(str)  # a peer was refused or misbehaved (already logged, no PHI)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dicom-receive")
        self._receiver: Any = None  # used on the control thread only
        self._closed = False

    def start(self, config: Any) -> None:
        """Listen with ``config`` (a ``ReceiverConfig``), stopping a running receiver first."""
        if not self._closed:
            self._pool.submit(self._restart, config)

    def stop(self) -> None:
        """Stop listening (no-op when not listening)."""
        if not self._closed:
            self._pool.submit(self._stop)

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self) -> None:
        """Stop and wait for it (window close): the port is free when this returns. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._pool.submit(self._stop)
        self._pool.shutdown(wait=True)

    def _restart(self, config: Any) -> None:
        from xray_desktop.net.receive import Receiver, ReceiverError

        self._stop()
        try:
            receiver = Receiver(config, on_received=self._on_received, on_problem=self.problem.emit)
            receiver.start()
        except ReceiverError as exc:
            log.warning("DICOM receiver not started: %s", exc)
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must reach the window, not kill the control thread
            log.error("DICOM receiver failed to start: %s", type(exc).__name__)
            self.failed.emit(f"unexpected error: {type(exc).__name__}")
            return
        self._receiver = receiver
        self.started.emit(receiver.ae_title, receiver.port)

    def _on_received(self, item: Any) -> None:  # a pynetdicom association thread
        self.received.emit(str(item.path))

    def _stop(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.stop()
            self.stopped.emit()
