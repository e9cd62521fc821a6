"""The DICOM receiver's control thread for the window (File → DICOM receive…).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


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
