"""Build the application: QApplication, theme, store, main window, inference worker; run it."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _load_classifier() -> Any:
    # Imported here, and called on the inference thread: TensorFlow never loads on the GUI thread.
    from xray_desktop.model.classifier import Classifier

    return Classifier.load()


def _screenshot_when_settled(app: Any, window: Any, target: Path, expect_rows: bool, limit_s: float = 60) -> None:
    """Save a PNG of the window once the model and the batch are done, then quit (headless checks)."""
    from PySide6.QtCore import QTimer

    start = time.monotonic()
    timer = QTimer(window)

    def poll() -> None:
        checking = getattr(window, "trail_check", None)
        settled = (window.inference.state in ("ready", "failed") and not window.batch.busy()
                   and (window.model.rows or not expect_rows) and not (checking and checking.is_alive()))
        if settled or time.monotonic() - start > limit_s:
            timer.stop()
            window.model.flush()  # pending row updates and thumbnails are coalesced: apply them now
            window.list_panel.refresh_thumbnails()
            window.grab().save(str(target))
            log.info("screenshot saved (settled=%s)", bool(settled))
            app.quit()

    timer.timeout.connect(poll)
    timer.start(500)


def _preflight() -> int | None:
    """Exit code when the window cannot open (Qt would abort with a core dump), else None."""
    from xray_desktop.platform_check import EXIT_NO_DISPLAY_LIBS, xcb_problem

    problem = xcb_problem()
    if not problem:
        return None
    print(problem, file=sys.stderr)
    log.error("window not opened: %s", problem)
    return EXIT_NO_DISPLAY_LIBS


def database_setting(prefs: Any) -> str | None:
    """The reads database chosen in the GUI, unless XRAY_DESKTOP_DB sets one (None: the default)."""
    from xray_desktop import settings

    if os.environ.get(settings.ENV_DB):
        return None
    return str(prefs.get(settings.DB_LOCATION)).strip() or None


def trail_warning(store: Any) -> str:
    """Check the reads' chain against this database's session anchor and move the anchor on.

    Returns "" when the trail holds, else the warning for the reader (also logged).
    """
    from xray_desktop.records import StoreError
    from xray_desktop.records.anchor import check_and_advance

    try:
        result = check_and_advance(store)
    except StoreError as exc:
        result_text = str(exc)
    else:
        if result.ok:
            return ""
        result_text = result.message
    return ("The audit trail of confirmed reads failed verification: "
            f"{result_text}. Reads can still be made; report this to whoever looks after the records.")


def _show_trail_warning(window: Any, text: str) -> None:
    """Warn the reader (non-modal box and status bar) that the audit trail is broken."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, "Audit trail broken", text, parent=window)
    box.setModal(False)
    box.show()
    window.trail_warning_box = box  # keep it alive; tests look at it
    window.statusBar().showMessage("Audit trail failed verification — see the warning", 60_000)
    log.warning("audit trail warning shown to the reader")


def _check_trail_in_background(window: Any, db_path: Path | str) -> Any:
    """The start-up check, on its own thread and connection (verify re-hashes every read:
    2.4 s for 25,000 reads), then a warning on the GUI thread if needed. Returns the thread."""
    import threading

    from PySide6.QtCore import QObject, Signal, Slot

    class _Relay(QObject):
        done = Signal(str)

        @Slot(str)
        def show(self, text: str) -> None:
            if text:
                _show_trail_warning(window, text)

    relay = _Relay(window)  # lives on the GUI thread: the emit below is queued to it
    relay.done.connect(relay.show)
    window.trail_relay = relay

    def work() -> None:
        from xray_desktop.records import Store, StoreError

        try:
            with Store.open(db_path, create=False) as store:
                text = trail_warning(store)
        except StoreError as exc:
            text = f"The audit trail could not be checked: {exc}"
        relay.done.emit(text)

    thread = threading.Thread(target=work, name="trail-check", daemon=True)
    thread.start()
    window.trail_check = thread
    return thread


def run(paths: list[str]) -> int:
    """Show the review window (before the model loads), open ``paths``, run the event loop."""
    from xray_desktop.logging_setup import setup_logging

    setup_logging()
    refused = _preflight()  # before QApplication: Qt aborts the process when xcb cannot load
    if refused is not None:
        return refused
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from xray_desktop import settings
    from xray_desktop.records import Store, StoreError
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.notify import install_excepthooks
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.theme import apply_dark_theme
    from xray_desktop.ui.workers import configure_threads

    configure_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(settings.APP_AUTHOR)
    app.setApplicationName(settings.APP_NAME)
    app.setApplicationDisplayName("X-ray review")
    app.setDesktopFileName("xray-desktop")  # groups the window with the menu entry (Wayland)
    from PySide6.QtGui import QIcon

    from xray_desktop.resources import icon_path

    if icon_path(256).is_file():
        app.setWindowIcon(QIcon(str(icon_path(256))))
    apply_dark_theme(app)  # type: ignore[arg-type]
    prefs = SettingsStore()
    try:
        store = Store.open(database_setting(prefs))
    except StoreError as exc:
        # Never fall back to a fresh database: reads would silently go somewhere else.
        log.error("reads database unavailable: %s", exc)
        QMessageBox.critical(None, "Reads database unavailable",
                             f"The database of confirmed reads could not be opened:\n\n{exc}\n\n"
                             "Nothing was changed. Fix the problem (or set XRAY_DESKTOP_DB) and restart.")
        return 1
    window = MainWindow(settings=prefs, store=store, classifier_factory=_load_classifier)
    # No console in the windowed launcher: uncaught errors are logged and shown, not lost on stderr.
    restore_hooks = install_excepthooks(window.notifier)
    window.show()
    trail_check = _check_trail_in_background(window, store.path)
    QTimer.singleShot(0, window.ensure_reviewer)
    if paths:
        QTimer.singleShot(0, lambda: window.open_paths(list(paths)))
    log.info("window shown")
    shot = os.environ.get(settings.ENV_SCREENSHOT)
    if shot:
        _screenshot_when_settled(app, window, Path(shot), expect_rows=bool(paths))
    try:
        return int(app.exec())
    finally:
        restore_hooks()
        window.shutdown()
        trail_check.join(timeout=60)  # one anchor writer at a time
        trail_warning(store)  # session end: advance this database's anchor (logged if broken)
        store.close()
