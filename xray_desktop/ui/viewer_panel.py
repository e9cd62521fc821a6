"""The centre column: view toolbar, the ImageView with its heat-map legend, collapsible metadata.

Heat map policy (issue 17.10): none on a study without an AI call; otherwise shown by
default only when the AI label is positive; H shows or hides it for the study on screen.
Its colour is on one absolute scale (``model.heatmap``), so the legend can say what it means.
"""

from __future__ import annotations

from typing import Any

import numpy.ma  # noqa: F401 - ImageView's first auto-window imports it lazily (~80 ms) mid-batch
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from xray_desktop import settings as keys
from xray_desktop.domain import Study, StudyMetadata
from xray_desktop.ui.dialogs import metadata_rows
from xray_desktop.ui.image_view import ColorLegend, ImageView

CUSTOM = "Custom"
MAX_HEAT_OPACITY = 0.7  # above this the overlay hides the anatomy it is meant to point into
_EMPTY_MD = StudyMetadata()
HEAT_LEGEND_TIP = (
    "Heat map: how much each region pushes the AI towards pneumonia, on one fixed scale for every "
    "study — red: strong evidence for pneumonia, yellow: some, clear: none or against. "
    "It shows where the model looked, not the disease. Shown when the AI says pneumonia; H shows or hides it."
)


def format_number(v: float) -> str:
    """A window value for people: 30000, 1500, 12.5, 0.125 (never 3e+04)."""
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


class ElidedLabel(QLabel):
    """A one-line label that elides long text (full text in the tooltip) and never widens its panel."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text if len(text) > 30 else "")
        super().setText(text)

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(20, super().minimumSizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        text = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width())
        p.drawText(self.rect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)
        p.end()


class ViewerPanel(QWidget):
    """ImageView plus its controls; the main window puts the actions into its menus too."""

    tags_requested = Signal()  # the user asked for the full DICOM tag list
    heatmap_toggled = Signal(bool)  # heat map now visible or not
    heatmap_opacity_changed = Signal(float)  # new opacity 0..1
    metadata_toggled = Signal(bool)  # metadata pane now shown or not
    image_requested = Signal(int)  # the reader clicked image n of the study in the strip

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView()
        self.legend = ColorLegend()
        self.legend.setToolTip(HEAT_LEGEND_TIP)
        self.legend.labels = ("strong", "none")
        self.heat_caption = QLabel("Heat map: evidence for pneumonia (same scale on every study)")
        self.heat_caption.setObjectName("hint")
        self.heat_caption.setToolTip(HEAT_LEGEND_TIP)
        self.heat_caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._heat_override: bool | None = None  # the reader's H on this study; None: the default
        self._heat_default = False
        self.message = QLabel("Drop files or folders here, or use File → Open")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setObjectName("hint")

        self.fit_action = self._action("Fit", "F", self.view.fit, "Fit the image to the window")
        self.one_action = self._action("1:1", "Ctrl+1", self.view.one_to_one, "One image pixel per screen pixel")
        self.invert_action = self._action("Invert", "Ctrl+I", self._on_invert_triggered, "Invert grey scale")
        self.invert_action.setCheckable(True)
        self.reset_action = self._action("Reset", "Ctrl+R", self._on_reset_triggered, "Reset window, zoom, invert")
        self.heatmap_action = self._action("Heat map", "H", self._on_heatmap_triggered,
                                           "Show or hide where the model looked, on this study")
        self.heatmap_action.setCheckable(True)
        self.heatmap_action.setChecked(False)
        self.auto_heatmap = True  # setting: show the heat map by itself when the AI says pneumonia
        self.tags_action = self._action("Tags…", "Ctrl+T", self.tags_requested.emit, "All DICOM tags")
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Window / level presets")
        # A fixed width: AdjustToContents grew the toolbar with every study's preset names.
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(10)
        self.preset_combo.activated.connect(self._on_preset_combo_activated)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, round(MAX_HEAT_OPACITY * 100))
        self.opacity_slider.setMinimumWidth(70)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.opacity_slider.setToolTip(f"Heat-map opacity (at most {MAX_HEAT_OPACITY:.0%}, so the film shows)")
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)
        self.wl_label = QLabel()
        self.wl_label.setObjectName("hint")

        bar = QToolBar()
        for a in (self.fit_action, self.one_action, self.invert_action, self.reset_action):
            bar.addAction(a)
        bar.addWidget(self.preset_combo)
        bar.addSeparator()
        bar.addAction(self.heatmap_action)
        self.toolbar = bar  # kept short: at 1,366 px nothing may hide behind its "»"
        self.tags_button = QToolButton()
        self.tags_button.setDefaultAction(self.tags_action)

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
            v = ElidedLabel("")
            self.meta_labels[label] = v
            self.meta_form.addRow(label, v)

        view_row = QHBoxLayout()
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.addWidget(self.view, 1)
        view_row.addWidget(self.legend)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(bar)
        # The study's images ("1/2 PA · AI", "2/2 LL"); [ and ] step through them. Hidden for one image.
        self.strip = QWidget()
        self._strip_lay = QHBoxLayout(self.strip)
        self._strip_lay.setContentsMargins(4, 0, 4, 0)
        self._strip_lay.addStretch(1)
        self.strip_buttons: list[QToolButton] = []
        self.strip.setVisible(False)
        lay.addWidget(self.strip)
        lay.addWidget(self.message)
        lay.addLayout(view_row, 1)
        # The heat map's caption and opacity sit under the image, shown with the heat map: the
        # toolbar stays short enough for 1,366 px (nothing behind its "»").
        self.heat_row = QWidget()
        heat_lay = QHBoxLayout(self.heat_row)
        heat_lay.setContentsMargins(0, 0, 0, 0)
        heat_lay.addWidget(self.heat_caption, 1)
        self.opacity_label = QLabel("Opacity")
        self.opacity_label.setObjectName("hint")
        heat_lay.addWidget(self.opacity_label)
        heat_lay.addWidget(self.opacity_slider)
        lay.addWidget(self.heat_row)
        under = QHBoxLayout()
        under.addWidget(self.meta_toggle)
        under.addWidget(self.tags_button)
        under.addStretch(1)
        under.addWidget(self.wl_label)
        lay.addLayout(under)
        lay.addWidget(self.meta_box)
        self.view.window_changed.connect(self._on_view_window_changed)
        self.view.zoom_changed.connect(self._on_view_zoom_changed)
        self.set_metadata_visible(True)
        self.set_heatmap_opacity(keys.HEATMAP_OPACITY[1])
        self.show_study(None)
        self._sync_heatmap()

    def _action(self, text: str, key: str, slot: Any, tip: str) -> QAction:
        a = QAction(text, self)
        a.setToolTip(f"{tip} ({key})")
        a.setShortcut(QKeySequence(key))  # window-wide; text fields still get their own keys
        a.triggered.connect(slot)
        return a

    # -- API ------------------------------------------------------------------------------
    def show_study(self, study: Study | None, message: str | None = None) -> None:
        """Show a study; None shows ``message`` instead ("" blank while loading; None: the drop hint)."""
        self.view.set_study(study)
        self._heat_override, self._heat_default = None, False
        self.set_heatmap(None)
        if study is None:  # (with a study the label is hidden and keeps its text: nothing flashes)
            self.message.setText("Drop files or folders here, or use File → Open" if message is None else message)
        self.message.setVisible(study is None)
        self.invert_action.setChecked(self.view.inverted() if study is not None else False)
        self.preset_combo.clear()
        if study is not None:
            # Computed once per study: the automatic preset takes percentiles of the whole image.
            self._presets = self.view.window_presets()
            for name, _c, _w in self._presets:
                self.preset_combo.addItem(name)
            self._select_preset()
        else:
            self._wl = self._zoom = None  # an error row must not keep the previous study's W/L
            self._presets = []
            self._update_wl()
        self.tags_action.setEnabled(study is not None and bool(study.tags))
        rows = metadata_rows(study.metadata, study) if study is not None else metadata_rows(_EMPTY_MD, None)
        for label, value in rows:
            self.meta_labels[label].setText(value or "—")

    def set_images(self, labels: list[str], tips: list[str], current: int, ai: int) -> None:
        """The study's images as buttons; ``current`` is on screen, ``ai`` (-1: none) the one the AI read."""
        if len(labels) <= 1:  # the usual one-image study: nothing to update on this hot path
            if self.strip.isVisibleTo(self):
                self.strip.setVisible(False)
            return
        while len(self.strip_buttons) < len(labels):  # buttons are reused: selection changes stay cheap
            b = QToolButton()
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the review keys keep working
            b.clicked.connect(lambda _c=False, i=len(self.strip_buttons): self.image_requested.emit(i))
            self._strip_lay.insertWidget(len(self.strip_buttons), b)
            self.strip_buttons.append(b)
        for i, b in enumerate(self.strip_buttons):
            if i < len(labels):
                b.setText(labels[i] + (" · AI" if i == ai else ""))
                b.setToolTip(f"{tips[i]} ([ / ] previous / next image)")
                b.setChecked(i == current)
            b.setVisible(i < len(labels))
        self.strip.setVisible(len(labels) > 1)

    def set_heatmap(self, heatmap: Any, positive: bool = False) -> None:
        """Load the study's heat map (None: none); it shows by itself only when ``positive``."""
        self.view.set_heatmap(heatmap)
        self._heat_default = bool(positive) and self.auto_heatmap
        self._sync_heatmap()

    def set_heatmap_positive(self, positive: bool) -> None:
        """The AI label changed (threshold moved): update the default visibility."""
        self._heat_default = bool(positive) and self.auto_heatmap
        self._sync_heatmap()

    def set_heatmap_visible(self, on: bool) -> None:
        """The reader shows or hides the heat map of the study on screen."""
        self._heat_override = bool(on)
        self._sync_heatmap()

    def heatmap_shown(self) -> bool:
        """Whether a heat map is on screen now."""
        return self.view.has_heatmap() and self.view.heatmap_visible()

    def _sync_heatmap(self) -> None:
        on = self._heat_default if self._heat_override is None else self._heat_override
        self.heatmap_action.setChecked(on)
        self.view.set_heatmap_visible(on)
        shown = on and self.view.has_heatmap()
        self.legend.setVisible(shown)
        self.heat_row.setVisible(shown)

    def set_heatmap_opacity(self, opacity: float) -> None:
        opacity = min(max(float(opacity), 0.0), MAX_HEAT_OPACITY)
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
        if name and name != CUSTOM:
            self.view.apply_preset(name)

    def _select_preset(self) -> None:
        """Point the preset box at the preset now applied, or at "Custom" after a drag."""
        current = self.view.window()
        match = next((i for i, (_n, c, w) in enumerate(self._presets)
                      if abs(c - current[0]) <= 1e-6 * max(1.0, abs(c)) and abs(w - current[1]) <= 1e-6 * max(1.0, w)),
                     -1)
        custom = self.preset_combo.findText(CUSTOM)
        if match < 0 and custom < 0:
            self.preset_combo.addItem(CUSTOM)
            custom = self.preset_combo.count() - 1
        self.preset_combo.setCurrentIndex(match if match >= 0 else custom)

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
        if self.preset_combo.count():
            self._select_preset()

    @Slot(float)
    def _on_view_zoom_changed(self, scale: float) -> None:
        self._zoom = scale
        self._update_wl()

    _presets: list[tuple[str, float, float]] = []
    _wl: tuple[float, float] | None = None
    _zoom: float | None = None

    def _update_wl(self) -> None:
        parts = []
        if self._wl is not None:
            parts.append(f"W {format_number(self._wl[1])}  L {format_number(self._wl[0])}")
        if self._zoom is not None:
            parts.append(f"{self._zoom * 100:.0f} %")
        self.wl_label.setText("   ".join(parts))

