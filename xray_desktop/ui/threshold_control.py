"""The threshold control: a slider on a logit scale plus the threshold as a number; no stray wheel input.

The card's operating points lie between 0.39 and 0.996 and the useful ones within
0.98–0.996: 4 px apart on a linear 0–1 slider. On the logit scale (log-odds) they are
far apart, and the number box takes an exact value.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

SLIDER_STEPS = 1000
LOGIT_SPAN = 7.0  # the slider runs over logits -7..+7: thresholds 0.0009..0.9991


def to_slider(threshold: float) -> int:
    """Slider position of a threshold on the logit scale."""
    t = min(max(threshold, 1e-9), 1 - 1e-9)
    z = min(max(math.log(t / (1 - t)), -LOGIT_SPAN), LOGIT_SPAN)
    return round((z + LOGIT_SPAN) / (2 * LOGIT_SPAN) * SLIDER_STEPS)


def from_slider(value: int) -> float:
    """Threshold at a slider position, rounded to 4 decimals (what the number box shows)."""
    z = value / SLIDER_STEPS * 2 * LOGIT_SPAN - LOGIT_SPAN
    return round(1 / (1 + math.exp(-z)), 4)


class WheelGuard(QObject):
    """Drops wheel events on sliders and spin boxes that do not have the focus.

    Scrolling a panel over a control must scroll the panel, not change a clinical setting.
    """

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QAbstractSlider | QAbstractSpinBox) \
                and not obj.hasFocus():
            event.ignore()  # the scroll area behind gets it
            return True
        return super().eventFilter(obj, event)


def guard_wheel(guard: WheelGuard, *widgets: QWidget) -> None:
    """Make ``widgets`` ignore the wheel unless focused (and not take the focus from it)."""
    for w in widgets:
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(guard)


class ThresholdControl(QWidget):
    """Slider (logit scale) and number box for the threshold on the calibrated probability."""

    value_changed = Signal(float)  # the reader moved the slider or typed a number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setMinimumWidth(120)
        self.slider.setToolTip("Threshold on a log-odds scale: the operating points are far apart")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0001, 0.9999)
        self.spin.setDecimals(4)
        self.spin.setSingleStep(0.001)
        self.spin.setKeyboardTracking(False)  # apply on Enter / focus out, not on each digit
        self.spin.setToolTip("Threshold on the calibrated probability of pneumonia")
        self.guard = WheelGuard(self)
        guard_wheel(self.guard, self.slider, self.spin)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.spin.valueChanged.connect(self._on_spin_value_changed)

    def show_value(self, threshold: float) -> None:
        """Show ``threshold`` without emitting (the panel owns the value)."""
        for w, v in ((self.slider, to_slider(threshold)), (self.spin, threshold)):
            w.blockSignals(True)
            w.setValue(v)  # type: ignore[attr-defined]
            w.blockSignals(False)

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.value_changed.emit(from_slider(value))

    @Slot(float)
    def _on_spin_value_changed(self, value: float) -> None:
        self.value_changed.emit(float(value))
