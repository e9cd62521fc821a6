"""Reads confirmed elsewhere (another workstation in department mode, another window) show up here.

A plain Python thread with its own read-only connection polls ``Store.reads_after`` every few
seconds, starting from the head at start-up; new reads cross to the GUI thread as one queued
signal, and ``apply_arrived`` marks the matching rows confirmed. The GUI thread does nothing
between arrivals, and a lost server only pauses the polling (logged once, retried).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

from xray_desktop.records import StoreError
from xray_desktop.ui.study_list import Status

log = logging.getLogger(__name__)


class ReadsWatcher(QObject):
    """Polls the reads database for reads newer than the last seen; emits them in id order."""

    arrived = Signal(list)  # list[Read], emitted from the polling thread (delivered queued)
    INTERVAL_S = 3.0

    def __init__(self, store: Any, parent: QObject | None = None, interval_s: float | None = None) -> None:
        super().__init__(parent)
        self._store, self._interval = store, self.INTERVAL_S if interval_s is None else interval_s
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
        reader, last, failing = None, None, False
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
                        self.arrived.emit(new)
                self._stop.wait(self._interval)
        finally:
            if reader is not None:
                reader.close()


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
        r.read, r.status = read, Status.CONFIRMED
        changed.append(index)
    return changed
