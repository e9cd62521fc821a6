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
        checking = getattr(window, "trail_checker", None)
        settled = (window.inference.state in ("ready", "failed") and not window.batch.busy()
                   and (window.model.rows or not expect_rows) and not (checking and checking.busy()))
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


def _show_trail_warning(window: Any, text: str) -> None:
    """Warn the reader (non-modal box and status bar) that the audit trail is broken."""
    window.trail_warning_box = window.notifier.message_box("Audit trail broken", text, warning=True)
    window.notifier.notify("Audit trail failed verification — see the warning", 60_000,
                           log_text="audit trail warning shown to the reader", level=logging.WARNING)


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
    from xray_desktop.records import Store, StoreError, dialect
    from xray_desktop.ui.main_window import MainWindow
    from xray_desktop.ui.notify import install_excepthooks
    from xray_desktop.ui.settings_store import SettingsStore
    from xray_desktop.ui.theme import apply_dark_theme
    from xray_desktop.ui.workers import TrailChecker, configure_threads

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
    store, offline = None, ""
    try:
        location = dialect.parse_location(database_setting(prefs) or settings.db_location())
        store = Store.open(location)
    except StoreError as exc:
        # Never fall back to a fresh database: reads would silently go somewhere else.
        log.error("reads database unavailable: %s", exc)
        if not dialect.is_url(database_setting(prefs) or settings.db_location()):
            QMessageBox.critical(None, "Reads database unavailable",
                                 f"The database of confirmed reads could not be opened:\n\n{exc}\n\n"
                                 "Nothing was changed. Fix the problem (or set XRAY_DESKTOP_DB) and restart.")
            return 1
        offline = str(exc)  # department mode, server down: a viewer that retries (ui/viewer_only.py)
    window = MainWindow(settings=prefs, store=store, classifier_factory=_load_classifier,
                        reconnect_to=location if offline else None, offline_reason=offline)
    # No console in the windowed launcher: uncaught errors are logged and shown, not lost on stderr.
    restore_hooks = install_excepthooks(window.notifier)
    window.show()
    # The start-up check runs on the trail-check thread; a broken trail is shown when it is found.
    trail = window.trail_checker = TrailChecker(location, window)
    trail.broken.connect(lambda text: _show_trail_warning(window, text))
    if store is not None:
        trail.check()
    else:
        window.store_attached.connect(lambda _store: trail.check())
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
        window.shutdown()  # every read committed; the trail check goes on
        if window.store is not None:
            trail.check(report=False)  # session end: advance this database's anchor (logged if broken)
        if not trail.close(timeout_s=60):
            log.warning("the session-end audit trail check did not finish in 60 s")
        if window.store is not None:
            window.store.close()
