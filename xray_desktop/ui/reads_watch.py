"""The window's link to a shared reads database: reads confirmed elsewhere, and reconnecting.

``ReadsWatcher``: reads confirmed elsewhere (another workstation in department mode, another
window) show up here. A plain Python thread with its own read-only connection polls
``Store.reads_after`` every few seconds, starting from the head at start-up (or from a given
id: a window that started without its database catches up on everything); new reads cross to
the GUI thread as one queued signal, and ``apply_arrived`` marks the matching rows confirmed.
The GUI thread does nothing between arrivals, and a lost server only pauses the polling
(logged once, retried).

``StoreConnector``: a window whose database server was down at start-up opens as a viewer
that refuses to confirm; this thread retries the server until it answers and hands the
opened ``Store`` to the GUI thread, which then turns confirming on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

from xray_desktop.records import Store, StoreError
from xray_desktop.review import is_final
from xray_desktop.ui.study_list import Status

log = logging.getLogger(__name__)


class ReadsWatcher(QObject):
    """Polls the reads database for reads newer than the last seen; emits them in id order."""

    arrived = Signal(list)  # list[Read], emitted from the polling thread (delivered queued)
    caught_up = Signal(list)  # the first poll's reads when started ``since`` an id (delivered queued)
    INTERVAL_S = 3.0

    def __init__(self, store: Any, parent: QObject | None = None, interval_s: float | None = None,
                 since: int | None = None) -> None:
        super().__init__(parent)
        self._store, self._interval = store, self.INTERVAL_S if interval_s is None else interval_s
        self._since = since  # None: from the head at start (reads already there were looked up)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reads-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread (at most one query's time)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        reader, last, failing, catching_up = None, self._since, False, self._since is not None
        try:
            while not self._stop.is_set():
                try:
                    if reader is None:
                        reader = self._store.reader()
                        if last is None:
                            last = reader.count()  # ids run 1..count (the chain's insert trigger)
                    new = reader.reads_after(last)
                except StoreError as exc:
                    if not failing:
                        log.warning("watching the reads database paused: %s", exc)
                    failing = True
                    if reader is not None:
                        reader.close()
                        reader = None
                else:
                    failing = False
                    if new:
                        last = new[-1].id
                    if catching_up:
                        catching_up = False
                        self.caught_up.emit(new)
                    elif new:
                        self.arrived.emit(new)
                self._stop.wait(self._interval)
        finally:
            if reader is not None:
                reader.close()


class StoreConnector(QObject):
    """Opens the reads database on a thread of its own, retrying until it answers.

    The GUI thread never waits for a server that is down (a connection attempt can take
    the full connect timeout); the opened ``Store`` is emitted once and the thread ends.
    """

    connected = Signal(object)  # the opened Store (delivered queued to the GUI thread)
    INTERVAL_S = 15.0

    def __init__(self, location: Any, parent: QObject | None = None, interval_s: float | None = None) -> None:
        super().__init__(parent)
        self.location, self._interval = location, self.INTERVAL_S if interval_s is None else interval_s
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reads-connect", daemon=True)

    @property
    def interval_s(self) -> float:
        return self._interval

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop retrying and wait for the thread (at most one connection attempt)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                store = Store.open(self.location)
            except StoreError as exc:
                if str(exc) != self.last_error:
                    log.warning("reads database still unavailable: %s", exc)
                self.last_error = str(exc)
                continue
            if self._stop.is_set():  # the window is closing: nobody will take it
                store.close()
                return
            log.info("reads database reached: confirming is possible again")
            self.connected.emit(store)
            return


def apply_arrived(rows: list[Any], reads: list[Any]) -> list[int]:
    """Mark rows whose study got a newer read elsewhere as confirmed with it; returns those rows.

    A read applies to a row only under the row's key and with the same file content (as in
    ``records.identity``); a read this window already holds (its own confirm) changes nothing.
    """
    newest = {read.study_key: read for read in reads}  # id order: the last one wins
    changed: list[int] = []
    for index, r in enumerate(rows):
        read = newest.get(getattr(r, "key", ""))
        if read is None or (r.read is not None and r.read.id >= read.id):
            continue
        if r.sha256 and read.file_sha256 and read.file_sha256 != r.sha256 \
                and not set(read.image_sha256s.split()) & {h for _, h in getattr(r, "image_ids", ())}:
            continue  # a study read applies when it shares an image with the row's study
        r.read = read
        if is_final(read):  # a first impression (read-first mode) is not a confirmed diagnosis
            r.status = Status.CONFIRMED
        changed.append(index)
    return changed
