"""A window whose reads database server is down at start-up: a viewer that refuses to confirm.

Department mode (issue #15): a workstation that cannot reach the PostgreSQL server still
opens, loads and shows studies and runs the AI, but no read can be saved, so none is lost
or half-written. A ``StoreConnector`` thread retries the server; once it answers, the
window attaches the store (writer, reads watcher, loader lookups) and catches up on every
read already stored, so studies confirmed meanwhile show as confirmed.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QLabel

from xray_desktop.ui.reads_watch import StoreConnector

log = logging.getLogger(__name__)

BADGE = "Viewer only: reads database unreachable"


def start_viewer_only(win: Any, location: Any, reason: str) -> None:
    """Open ``win`` without a store: say why, and retry ``location`` in the background."""
    win.offline_reason = reason
    win.db_badge = QLabel(BADGE)
    win.db_badge.setStyleSheet("color: #ffb347; font-weight: bold")
    win.db_badge.setToolTip(reason)
    win.statusBar().addPermanentWidget(win.db_badge)
    link = win.store_link = StoreConnector(location, win)
    link.connected.connect(lambda store: attach_store(win, store))
    link.start()
    win.notifier.message_box(
        "Reads database unreachable",
        f"The reads database could not be opened:\n\n{reason}\n\n"
        "This workstation works as a viewer (studies and the AI), but diagnoses cannot be saved "
        f"until the database answers again. It is retried every {link.interval_s:.0f} s; nothing "
        "is lost meanwhile.", warning=True)


def refusal(win: Any) -> str:
    """The message for a confirm while no database is attached."""
    link = getattr(win, "store_link", None)
    retry = f" It is retried every {link.interval_s:.0f} s." if link is not None else ""
    reason = link.last_error if link is not None and link.last_error else getattr(win, "offline_reason", "")
    return ("Not saved: this workstation is a viewer only until the reads database answers "
            f"({reason or 'no reads database'}).{retry} The diagnosis stays in the form; confirm again then.")


def attach_store(win: Any, store: Any) -> None:
    """The server answered: confirming is on, and the rows catch up on reads stored meanwhile."""
    if getattr(win, "_shut", False):
        store.close()
        return
    win.store_link = None
    win.use_store(store, since=0)  # every read: rows shown meanwhile catch up
    badge = getattr(win, "db_badge", None)
    if badge is not None:
        badge.hide()
    win.store_attached.emit(store)
    win.notifier.notify("Reads database connected: diagnoses can be saved again", 8000,
                        log_text="reads database attached after a viewer-only start")

