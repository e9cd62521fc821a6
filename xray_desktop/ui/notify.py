"""One notification path for the GUI (status bar, dialog, log) and the process excepthooks.

In the windowed launcher there is no console: an exception in a slot or in a Python thread
used to go to an invisible stderr. The hooks installed by :func:`install_excepthooks` log it
(type and code locations only: the message may quote a file or patient name) and show it.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMainWindow, QMessageBox

log = logging.getLogger(__name__)


def code_locations(tb: TracebackType | None) -> str:
    """The traceback's frames as 'module.py:line in function' (no source text, no message)."""
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
                       for f in reversed(traceback.extract_tb(tb)))


class Notifier(QObject):
    """Tells the user something: the status bar always, a non-modal dialog when asked, the log when given text.

    Safe to call from any thread: the call is queued to the GUI thread.
    """

    _post = Signal(str, int, bool, str)  # text, status-bar timeout ms, dialog, dialog title

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.last_box: QMessageBox | None = None  # the dialog of the latest notify(dialog=True) (tests read it)
        self._post.connect(self._show, Qt.ConnectionType.AutoConnection)

    def notify(self, text: str, timeout_ms: int = 5000, *, dialog: bool = False, title: str = "",
               log_text: str = "", level: int = logging.INFO) -> None:
        """Show ``text``; log ``log_text`` (which must hold no PHI) when given."""
        if log_text:
            log.log(level, log_text)
        self._post.emit(text, timeout_ms, dialog, title)

    def unexpected(self, exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None,
                   where: str) -> None:
        """An uncaught exception: log where it happened, tell the user, keep running."""
        self.notify(f"Unexpected error ({exc_type.__name__}): {exc}. Details are in the log (Help → Open log folder).",
                    0, dialog=True, title="Unexpected error",
                    log_text=f"unexpected {exc_type.__name__} in {where}: {code_locations(tb)}", level=logging.ERROR)

    def message_box(self, title: str, text: str, *, warning: bool = False) -> QMessageBox:
        """A non-modal box of its own, left open while the reader works on (GUI thread only)."""
        icon = QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self._window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
        return box

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question that must be answered before going on (modal, GUI thread only)."""
        answer = QMessageBox.question(self._window, title, text)
        return answer == QMessageBox.StandardButton.Yes

    @Slot(str, int, bool, str)
    def _show(self, text: str, timeout_ms: int, dialog: bool, title: str) -> None:
        self._window.statusBar().showMessage(text, timeout_ms)
        if not dialog:
            return
        box = self.last_box
        if box is None or not box.isVisible():  # one box at a time: a burst of errors must not bury the window
            box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self._window)
            box.setModal(False)
            self.last_box = box
        box.setWindowTitle(title)
        box.setText(text)
        box.show()


def install_excepthooks(notifier: Notifier) -> Callable[[], None]:
    """Route uncaught exceptions (slots, the GUI thread, Python threads) to ``notifier``; returns an undo."""
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            old_sys(exc_type, exc, tb)
            return
        try:
            notifier.unexpected(exc_type, exc, tb, f"thread {threading.current_thread().name}")
        except RuntimeError:  # the window is gone (shutting down): fall back to the default
            old_sys(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return
        if args.exc_type.__module__.startswith("pynetdicom."):
            # pynetdicom's own thread of one DICOM connection (e.g. its state machine refusing to
            # abort a peer that connected but never asked for an association, when the receiver
            # stops): that connection ends, nothing of the reader's is involved: no dialog.
            log.warning("a DICOM connection thread ended: %s", args.exc_type.__name__)
            return
        name = args.thread.name if args.thread is not None else "?"
        try:
            notifier.unexpected(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")
        except RuntimeError:
            old_thread(args)

    sys.excepthook, threading.excepthook = sys_hook, thread_hook

    def restore() -> None:
        sys.excepthook, threading.excepthook = old_sys, old_thread

    return restore
