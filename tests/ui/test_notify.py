"""Uncaught exceptions (in a slot, in a Python thread) reach the log and the user, not a hidden stderr."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QTimer

from xray_desktop.ui.notify import install_excepthooks

SECRET = "Doe^Jane.png"  # stands for PHI an exception message may quote


@pytest.fixture
def hooked(make_window):
    w = make_window()
    before = sys.excepthook, threading.excepthook
    restore = install_excepthooks(w.notifier)
    yield w
    restore()
    assert (sys.excepthook, threading.excepthook) == before


def _check(qtbot, w, caplog, exc_name: str) -> None:
    qtbot.waitUntil(lambda: w.notifier.last_box is not None and w.notifier.last_box.isVisible(), timeout=5000)
    assert exc_name in w.notifier.last_box.text() and exc_name in w.statusBar().currentMessage()
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(exc_name in m and "test_notify.py" in m for m in logged), logged
    assert not any(SECRET in m for m in logged), "the exception message (may be PHI) reached the log"


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_logged_and_shown(qtbot, hooked, caplog):
    def boom() -> None:
        raise ValueError(f"cannot open {SECRET}")

    with caplog.at_level(logging.INFO, logger="xray_desktop"):
        QTimer.singleShot(0, boom)
        _check(qtbot, hooked, caplog, "ValueError")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_python_thread_is_logged_and_shown(qtbot, hooked, caplog):
    def boom() -> None:
        raise KeyError(SECRET)

    with caplog.at_level(logging.INFO, logger="xray_desktop"):
        t = threading.Thread(target=boom, name="worker-x")
        t.start()
        t.join()
        _check(qtbot, hooked, caplog, "KeyError")
        assert any("worker-x" in r.getMessage() for r in caplog.records)


@pytest.mark.qt_no_exception_capture
def test_a_pynetdicom_connection_thread_error_is_logged_not_shown(qtbot, hooked, caplog):
    """Stopping the receiver while a peer is connected but not yet associated made pynetdicom's
    reactor thread raise InvalidEventError ('Evt15' in 'Sta2'): an "Unexpected error" box."""
    from pynetdicom.fsm import InvalidEventError

    def boom() -> None:
        raise InvalidEventError("Invalid event 'Evt15' for the current state 'Sta2'")

    with caplog.at_level(logging.INFO, logger="xray_desktop"):
        t = threading.Thread(target=boom, name="reactor")
        t.start()
        t.join()
        qtbot.wait(100)
    assert hooked.notifier.last_box is None or not hooked.notifier.last_box.isVisible()
    assert any("a DICOM connection thread ended: InvalidEventError" in r.getMessage() for r in caplog.records)


def test_notify_is_the_status_bar_path(make_window):
    w = make_window()
    w.notifier.notify("hello", 1000)
    assert w.statusBar().currentMessage() == "hello"
