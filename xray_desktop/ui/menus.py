"""The main window's menu bar (kept apart so main_window.py stays about wiring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from xray_desktop.ui.main_window import MainWindow


def build_menus(w: MainWindow) -> None:
    """File, View and Help menus; actions are kept on ``w`` so tests can trigger them."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.action_open_files = _add(w, file_menu, "Open files…", "Ctrl+O", w.open_files_dialog)
    w.action_open_folder = _add(w, file_menu, "Open folder…", "Ctrl+Shift+O", w.open_folder_dialog)
    w.recent_menu = file_menu.addMenu("Recent folders")
    file_menu.addSeparator()
    w.action_export = _add(w, file_menu, "Export confirmed diagnoses…", "Ctrl+E", w.export_confirmed)
    w.action_reviewer = _add(w, file_menu, "Change reviewer…", "", w.change_reviewer)
    file_menu.addSeparator()
    _add(w, file_menu, "Quit", "Ctrl+Q", w.close)

    view_menu = bar.addMenu("&View")
    v = w.viewer
    for a in (v.fit_action, v.one_action, v.invert_action, v.reset_action):
        view_menu.addAction(a)
    view_menu.addSeparator()
    view_menu.addAction(v.heatmap_action)
    view_menu.addAction(v.tags_action)
    view_menu.addSeparator()
    # J/K and Down/Up are handled by the window (arrows must still move sliders and spin boxes).
    w.action_next = _add(w, view_menu, "Next study (J / Down)", "", lambda: w.list_panel.step(1))
    w.action_previous = _add(w, view_menu, "Previous study (K / Up)", "", lambda: w.list_panel.step(-1))

    help_menu = bar.addMenu("&Help")
    w.action_shortcuts = _add(w, help_menu, "Keyboard shortcuts (?)", "", w.show_shortcuts)
    w.action_about_model = _add(w, help_menu, "About model…", "", w.show_model_card)
    w.action_open_logs = _add(w, help_menu, "Open log folder", "", w.open_log_folder)


def _add(w: MainWindow, menu: object, text: str, key: str, slot: object) -> QAction:
    action = QAction(text, w)
    if key:
        action.setShortcut(QKeySequence(key))
    action.triggered.connect(slot)
    menu.addAction(action)  # type: ignore[attr-defined]
    return action
