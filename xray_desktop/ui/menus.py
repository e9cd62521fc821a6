"""The main window's menu bar (kept apart so main_window.py stays about wiring)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from xray_desktop.ui.study_list_panel import StudyListPanel
from xray_desktop.ui.viewer_panel import ViewerPanel


class MenuHost(Protocol):
    """What the menus need from the window (so this module never imports main_window)."""

    viewer: ViewerPanel
    list_panel: StudyListPanel
    recent_menu: QMenu
    action_open_files: QAction
    action_open_folder: QAction
    action_export: QAction
    action_reviewer: QAction
    action_next: QAction
    action_previous: QAction
    action_shortcuts: QAction
    action_about_model: QAction
    action_site_performance: QAction
    action_open_logs: QAction
    action_read_first: QAction
    action_adjudicate: QAction
    action_receive: QAction

    def menuBar(self) -> QMenuBar: ...
    def close(self) -> bool: ...
    def open_files_dialog(self) -> object: ...
    def open_folder_dialog(self) -> object: ...
    def export_confirmed(self) -> object: ...
    def change_reviewer(self) -> object: ...
    def choose_database(self) -> None: ...
    def configure_receive(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def show_model_card(self) -> None: ...
    def show_site_performance(self) -> object: ...
    def open_log_folder(self) -> None: ...
    def set_read_first(self, on: bool) -> None: ...
    def adjudicate(self) -> object: ...


def build_menus(w: MenuHost) -> None:
    """File, View, Review and Help menus; actions are kept on ``w`` so tests can trigger them."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.action_open_files = _add(w, file_menu, "Open files…", "Ctrl+O", w.open_files_dialog)
    w.action_open_folder = _add(w, file_menu, "Open folder…", "Ctrl+Shift+O", w.open_folder_dialog)
    w.recent_menu = file_menu.addMenu("Recent folders")
    file_menu.addSeparator()
    w.action_export = _add(w, file_menu, "Export confirmed diagnoses…", "Ctrl+E", w.export_confirmed)
    w.action_reviewer = _add(w, file_menu, "Change reviewer…", "", w.change_reviewer)
    w.action_database = _add(w, file_menu, "Reads database…", "", w.choose_database)
    w.action_receive = _add(w, file_menu, "DICOM receive…", "", w.configure_receive)
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

    review_menu = bar.addMenu("&Review")
    w.action_read_first = QAction("Read first (hide AI until a first impression)", w)  # type: ignore[call-overload]
    w.action_read_first.setCheckable(True)
    w.action_read_first.toggled.connect(w.set_read_first)
    review_menu.addAction(w.action_read_first)
    w.action_adjudicate = _add(w, review_menu, "Adjudicate…", "Ctrl+Shift+A", w.adjudicate)

    help_menu = bar.addMenu("&Help")
    w.action_shortcuts = _add(w, help_menu, "Keyboard shortcuts (?)", "", w.show_shortcuts)
    w.action_about_model = _add(w, help_menu, "About model…", "", w.show_model_card)
    w.action_site_performance = _add(w, help_menu, "Site performance…", "", w.show_site_performance)
    w.action_open_logs = _add(w, help_menu, "Open log folder", "", w.open_log_folder)


def _add(w: MenuHost, menu: QMenu, text: str, key: str, slot: Callable[[], object]) -> QAction:
    action = QAction(text, w)  # type: ignore[call-overload]  # w is the QMainWindow
    if key:
        action.setShortcut(QKeySequence(key))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action
