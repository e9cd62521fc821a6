"""File loading: the loader thread pool's tasks (decode, thumbnail, reads lookup), the folder
scan (headers, grouping into studies) and generic jobs (site report).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from xray_desktop.domain import FailureKind, Study, WorkerFailure
from xray_desktop.io import StudyLoadError, load_study, scan
from xray_desktop.io.studies import ImageStudy, describe, group_images, with_hashes
from xray_desktop.model.site_profile import ProfileError
from xray_desktop.ui.thumbnails import encode_thumbnail
from xray_desktop.ui.workers.inference import Loaded

log = logging.getLogger(__name__)


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
