"""The centre column: view toolbar, the ImageView with its heat-map legend, collapsible metadata."""

from __future__ import annotations

from typing import Any

import numpy.ma  # noqa: F401 - ImageView's first auto-window imports it lazily (~80 ms) mid-batch
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.ui.dialogs import metadata_rows
from xray_desktop.ui.image_view import ColorLegend, ImageView

AUTO = "Auto (from pixels)"
_EMPTY_MD = StudyMetadata()


class ViewerPanel(QWidget):
    """ImageView plus its controls; the main window puts the actions into its menus too."""

    tags_requested = Signal()  # the user asked for the full DICOM tag list
    heatmap_toggled = Signal(bool)  # heat map now visible or not
    heatmap_opacity_changed = Signal(float)  # new opacity 0..1
    metadata_toggled = Signal(bool)  # metadata pane now shown or not

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView()
        self.legend = ColorLegend()
        self.message = QLabel("Drop files or folders here, or use File → Open")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setObjectName("hint")

        self.fit_action = self._action("Fit", "F", self.view.fit, "Fit the image to the window")
        self.one_action = self._action("1:1", "Ctrl+1", self.view.one_to_one, "One image pixel per screen pixel")
        self.invert_action = self._action("Invert", "Ctrl+I", self._on_invert_triggered, "Invert grey scale")
        self.invert_action.setCheckable(True)
        self.reset_action = self._action("Reset", "Ctrl+R", self._on_reset_triggered, "Reset window, zoom, invert")
        self.heatmap_action = self._action("Heat map", "H", self._on_heatmap_triggered,
                                           "Show where the model looked (H)")
        self.heatmap_action.setCheckable(True)
        self.heatmap_action.setChecked(True)
        self.tags_action = self._action("Tags…", "Ctrl+T", self.tags_requested.emit, "All DICOM tags")
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Window / level presets")
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_combo.activated.connect(self._on_preset_combo_activated)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setMaximumWidth(110)
        self.opacity_slider.setToolTip("Heat-map opacity")
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)
        self.wl_label = QLabel()
        self.wl_label.setObjectName("hint")

        bar = QToolBar()
        for a in (self.fit_action, self.one_action, self.invert_action, self.reset_action):
            bar.addAction(a)
        bar.addWidget(self.preset_combo)
        bar.addSeparator()
        bar.addAction(self.heatmap_action)
        bar.addWidget(self.opacity_slider)
        bar.addSeparator()
        bar.addAction(self.tags_action)
        bar.addWidget(self.wl_label)

        self.meta_toggle = QToolButton()
        self.meta_toggle.setText("Study details")
        self.meta_toggle.setCheckable(True)
        self.meta_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.meta_toggle.toggled.connect(self._on_meta_toggle_toggled)
        self.meta_box = QWidget()
        self.meta_form = QFormLayout(self.meta_box)
        self.meta_form.setContentsMargins(8, 0, 8, 4)
        self.meta_labels: dict[str, QLabel] = {}
        for label, _ in metadata_rows(_EMPTY_MD, None):
            v = QLabel("")
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.meta_labels[label] = v
            self.meta_form.addRow(label, v)

        view_row = QHBoxLayout()
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.addWidget(self.view, 1)
        view_row.addWidget(self.legend)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(bar)
        lay.addWidget(self.message)
        lay.addLayout(view_row, 1)
        lay.addWidget(self.meta_toggle)
        lay.addWidget(self.meta_box)
        self.view.window_changed.connect(self._on_view_window_changed)
        self.view.zoom_changed.connect(self._on_view_zoom_changed)
        self.set_metadata_visible(True)
        self.set_heatmap_opacity(0.45)
        self.show_study(None)

    def _action(self, text: str, key: str, slot: Any, tip: str) -> QAction:
        a = QAction(text, self)
        a.setToolTip(f"{tip} ({key})")
        a.setShortcut(QKeySequence(key))  # window-wide; text fields still get their own keys
        a.triggered.connect(slot)
        return a

    # -- API ------------------------------------------------------------------------------
    def show_study(self, study: Study | None, message: str = "") -> None:
        """Show a study (None: show ``message`` instead)."""
        self.view.set_study(study)
        self.view.set_heatmap(None)
        self.message.setText(message or "Drop files or folders here, or use File → Open")
        self.message.setVisible(study is None)
        self.invert_action.setChecked(self.view.inverted() if study is not None else False)
        self.preset_combo.clear()
        if study is not None:
            for name, _c, _w in self.view.window_presets():
                self.preset_combo.addItem(name)
            self.preset_combo.addItem(AUTO)
        self.tags_action.setEnabled(study is not None and bool(study.tags))
        rows = metadata_rows(study.metadata, study) if study is not None else metadata_rows(_EMPTY_MD, None)
        for label, value in rows:
            self.meta_labels[label].setText(value or "—")

    def set_heatmap(self, heatmap: Any) -> None:
        self.view.set_heatmap(heatmap)

    def set_heatmap_visible(self, on: bool) -> None:
        self.heatmap_action.setChecked(on)
        self.view.set_heatmap_visible(on)
        self.legend.setVisible(on)

    def set_heatmap_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(round(opacity * 100))
        self.view.set_heatmap_opacity(opacity)

    def set_metadata_visible(self, on: bool) -> None:
        self.meta_toggle.setChecked(on)
        self._on_meta_toggle_toggled(on)

    # -- slots ----------------------------------------------------------------------------
    @Slot()
    def _on_invert_triggered(self) -> None:
        self.view.set_inverted(self.invert_action.isChecked())

    @Slot()
    def _on_reset_triggered(self) -> None:
        self.view.reset()
        self.invert_action.setChecked(self.view.inverted())

    @Slot()
    def _on_heatmap_triggered(self) -> None:
        on = self.heatmap_action.isChecked()
        self.set_heatmap_visible(on)
        self.heatmap_toggled.emit(on)

    @Slot(int)
    def _on_preset_combo_activated(self, index: int) -> None:
        name = self.preset_combo.itemText(index)
        if name == AUTO:
            self.view.auto_window()
        elif name:
            self.view.apply_preset(name)

    @Slot(int)
    def _on_opacity_slider_value_changed(self, value: int) -> None:
        self.view.set_heatmap_opacity(value / 100)
        self.heatmap_opacity_changed.emit(value / 100)

    @Slot(bool)
    def _on_meta_toggle_toggled(self, on: bool) -> None:
        self.meta_box.setVisible(on)
        self.meta_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.metadata_toggled.emit(on)

    @Slot(float, float)
    def _on_view_window_changed(self, center: float, width: float) -> None:
        self._wl = (center, width)
        self._update_wl()

    @Slot(float)
    def _on_view_zoom_changed(self, scale: float) -> None:
        self._zoom = scale
        self._update_wl()

    _wl: tuple[float, float] | None = None
    _zoom: float | None = None

    def _update_wl(self) -> None:
        parts = []
        if self._wl is not None:
            parts.append(f"W {self._wl[1]:.4g}  L {self._wl[0]:.4g}")
        if self._zoom is not None:
            parts.append(f"{self._zoom * 100:.0f} %")
        self.wl_label.setText("   " + "   ".join(parts))

