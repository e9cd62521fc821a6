"""The reads writer thread (confirms commit off the GUI thread) and the audit-trail check thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal, Slot

from xray_desktop.records import Read, ReadInput, Store
from xray_desktop.records.anchor import session_check

log = logging.getLogger(__name__)


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
