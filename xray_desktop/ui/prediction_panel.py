"""The AI panel: probability, label at the threshold, gate verdict, threshold + ROC + PPV/NPV."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

PREVALENCE_TEXT = (
    "Assumed prevalence of pneumonia among children X-rayed for suspected pneumonia in a "
    "pediatric ED; change to your site's."
)
SLIDER_STEPS = 1000
OP_TITLES = {"high-sensitivity": "High sensitivity", "balanced": "Balanced", "high-specificity": "High specificity"}


def unavailable_text(reason: str) -> str:
    """'AI unavailable: <reason>' without repeating a prefix the loader already wrote."""
    for prefix in ("AI model unavailable:", "AI unavailable:"):
        if reason.startswith(prefix):
            reason = reason[len(prefix):].strip()
    return f"AI unavailable: {reason}"


def _pct(x: float) -> str:
    return "—" if x != x else f"{x * 100:.1f} %"  # x != x: NaN


class RocWidget(QWidget):
    """The validation ROC (1 - specificity vs sensitivity) with the current point marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._curve: list[tuple[float, float]] = []
        self._ops: list[tuple[float, float]] = []
        self.current: tuple[float, float] | None = None  # (fpr, tpr)
        self.setMinimumSize(160, 160)
        self.setToolTip("Validation ROC of the model; the dot is the current threshold")

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def set_card(self, card: Any) -> None:
        if card is None:
            self._curve, self._ops, self.current = [], [], None
        else:
            _t, sens, spec = card.roc_points()
            self._curve = sorted(zip((1 - spec).tolist(), sens.tolist(), strict=True))
            self._ops = [(1 - op.specificity, op.sensitivity) for op in card.operating_points()]
        self.update()

    def set_current(self, sensitivity: float, specificity: float) -> None:
        self.current = (1 - specificity, sensitivity)
        self.update()

    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height()) - 28
        plot = QRectF(22, 6, side, side)
        p.fillRect(plot, QColor(18, 19, 21))
        p.setPen(QPen(QColor(70, 73, 80), 1))
        p.drawRect(plot)
        p.setPen(QPen(QColor(70, 73, 80), 1, Qt.PenStyle.DashLine))
        p.drawLine(plot.bottomLeft(), plot.topRight())  # chance line

        def pt(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + x * plot.width(), plot.bottom() - y * plot.height())

        if self._curve:
            path = QPainterPath(pt(0, 0))
            for x, y in self._curve:
                path.lineTo(pt(x, y))
            path.lineTo(pt(1, 1))
            p.setPen(QPen(QColor(74, 144, 217), 2))
            p.drawPath(path)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(160, 165, 175))
            for x, y in self._ops:
                p.drawEllipse(pt(x, y), 3, 3)
        if self.current is not None:
            p.setBrush(QColor(240, 180, 90))
            p.setPen(QPen(QColor(20, 20, 20), 1))
            p.drawEllipse(pt(*self.current), 6, 6)
        p.setPen(QColor(150, 154, 162))
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 18), Qt.AlignmentFlag.AlignCenter,
                   "1 − specificity")
        p.save()
        p.translate(14, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-plot.height() / 2, -12, plot.height(), 16), Qt.AlignmentFlag.AlignCenter, "sensitivity")
        p.restore()
        p.end()


class PredictionPanel(QWidget):
    """Shows one prediction and owns the threshold / operating point / prevalence controls."""

    threshold_changed = Signal(float)  # new threshold on the calibrated probability
    operating_point_changed = Signal(str)  # preset name, or "" when the user set a custom threshold
    prevalence_changed = Signal(float)  # assumed prevalence, as a fraction

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card: Any = None
        self._threshold = 0.5
        self._op_name = ""
        self._probability: float | None = None
        self._gate_ok = True

        self.status_label = QLabel("Loading AI model…")
        self.status_label.setWordWrap(True)
        self.probability_label = QLabel("—")
        self.probability_label.setObjectName("probability")
        self.probability_bar = QProgressBar()
        self.probability_bar.setRange(0, SLIDER_STEPS)
        self.probability_bar.setTextVisible(False)
        self.probability_bar.setMaximumHeight(10)
        self.ai_label = QLabel("")
        self.ai_label.setObjectName("aiLabel")
        self.gate_label = QLabel("")
        self.gate_label.setObjectName("warning")
        self.gate_label.setWordWrap(True)
        self.gate_label.hide()

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.threshold_label = QLabel()
        self.preset_buttons: dict[str, QPushButton] = {}
        presets = QHBoxLayout()
        for name, title in OP_TITLES.items():
            b = QPushButton(title)
            b.setCheckable(True)
            b.setToolTip(f"Use the model card's {title.lower()} operating point")
            b.clicked.connect(lambda _c=False, n=name: self.apply_operating_point(n))
            presets.addWidget(b)
            self.preset_buttons[name] = b
        self.sensitivity_label = QLabel()
        self.specificity_label = QLabel()
        self.ppv_label = QLabel()
        self.npv_label = QLabel()
        self.prevalence_spin = QDoubleSpinBox()
        self.prevalence_spin.setRange(0.1, 99.9)
        self.prevalence_spin.setDecimals(1)
        self.prevalence_spin.setSingleStep(1.0)
        self.prevalence_spin.setSuffix(" %")
        self.prevalence_spin.setValue(30.0)
        prevalence_hint = QLabel(PREVALENCE_TEXT)
        prevalence_hint.setWordWrap(True)
        prevalence_hint.setObjectName("hint")
        self.roc = RocWidget()

        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        th_row = QHBoxLayout()
        th_row.addWidget(self.slider, 1)
        th_row.addWidget(self.threshold_label)
        form.addRow("Threshold", th_row)
        form.addRow(presets)
        form.addRow("Sensitivity", self.sensitivity_label)
        form.addRow("Specificity", self.specificity_label)
        form.addRow("Prevalence", self.prevalence_spin)
        form.addRow(prevalence_hint)
        form.addRow("PPV", self.ppv_label)
        form.addRow("NPV", self.npv_label)
        form.addRow(self.roc)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.status_label)
        lay.addWidget(self.probability_label)
        lay.addWidget(self.probability_bar)
        lay.addWidget(self.ai_label)
        lay.addWidget(self.gate_label)
        lay.addWidget(self.controls)
        lay.addStretch(1)
        self.controls.setEnabled(False)

        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.prevalence_spin.valueChanged.connect(self._on_prevalence_spin_value_changed)
        self._refresh()

    # -- model state ------------------------------------------------------------------------
    def set_loading(self) -> None:
        self.status_label.setText("Loading AI model…")
        self.status_label.setObjectName("hint")

    def set_unavailable(self, reason: str) -> None:
        self.card = None
        self.status_label.setText(unavailable_text(reason))
        self.status_label.setObjectName("error")
        self.status_label.setStyleSheet("")  # re-polish for the new object name
        self.controls.setEnabled(False)
        self.roc.set_card(None)
        self.set_prediction(None)

    def set_card(self, card: Any, version: str = "", threshold: float | None = None, op_name: str = "") -> None:
        """Model ready: enable the controls; start at ``op_name``, else ``threshold``, else the card default."""
        self.card = card
        self.status_label.setText(f"Model {card.name} {version or card.version}")
        self.status_label.setObjectName("hint")
        self.controls.setEnabled(True)
        self.roc.set_card(card)
        known = {op.name for op in card.operating_points()}
        if op_name in known:
            self.apply_operating_point(op_name)
        elif threshold is not None:
            self.set_threshold(threshold)
        else:
            self.apply_operating_point(card.default_operating_point)

    # -- prediction -----------------------------------------------------------------------
    def set_prediction(self, probability: float | None, gate_accepted: bool = True, gate_reason: str = "") -> None:
        """Show a study's answer (None clears)."""
        self._probability = probability
        self._gate_ok = gate_accepted
        self.gate_label.setVisible(not gate_accepted)
        self.gate_label.setText(f"Input gate objects: {gate_reason or 'image outside the model’s scope'}")
        self._refresh()

    # -- threshold --------------------------------------------------------------------------
    def threshold(self) -> float:
        return self._threshold

    def operating_point_name(self) -> str:
        return self._op_name

    def prevalence(self) -> float:
        return self.prevalence_spin.value() / 100.0

    def set_prevalence(self, fraction: float) -> None:
        self.prevalence_spin.setValue(fraction * 100.0)

    def apply_operating_point(self, name: str) -> None:
        """Jump to a preset of the card."""
        if self.card is None:
            return
        op = self.card.operating_point(name)
        self._set(op.threshold, op.name)

    def set_threshold(self, threshold: float) -> None:
        """A custom threshold (clears the preset)."""
        self._set(float(threshold), "")

    def _set(self, threshold: float, op_name: str) -> None:
        self._threshold = min(max(threshold, 0.0), 1.0)
        self._op_name = op_name
        self.slider.blockSignals(True)  # the slider is a view of _threshold here, not a source
        self.slider.setValue(round(self._threshold * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._refresh()
        self.threshold_changed.emit(self._threshold)
        self.operating_point_changed.emit(op_name)

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self._set(value / SLIDER_STEPS, "")

    @Slot(float)
    def _on_prevalence_spin_value_changed(self, _value: float) -> None:
        self._refresh()
        self.prevalence_changed.emit(self.prevalence())

    def ai_label_text(self) -> str:
        return self.ai_label.text()

    def _refresh(self) -> None:
        for name, b in self.preset_buttons.items():
            b.setChecked(name == self._op_name)
        self.threshold_label.setText(f"{self._threshold:.3f}")
        p = self._probability
        if p is None or self.card is None:
            self.probability_label.setText("—")
            self.probability_bar.setValue(0)
            self.ai_label.setText("")
        else:
            self.probability_label.setText(f"{p * 100:.1f} %")
            self.probability_bar.setValue(round(p * SLIDER_STEPS))
            if not self._gate_ok:
                self.ai_label.setText("Not assessed (input gate)")
            elif p >= self._threshold:
                self.ai_label.setText("AI: Pneumonia")
            else:
                self.ai_label.setText("AI: Normal")
        if self.card is None:
            for lab in (self.sensitivity_label, self.specificity_label, self.ppv_label, self.npv_label):
                lab.setText("—")
            return
        r = self.card.rates_at(self._threshold, self.prevalence())
        self.sensitivity_label.setText(_pct(r.sensitivity))
        self.specificity_label.setText(_pct(r.specificity))
        self.ppv_label.setText(_pct(r.ppv))
        self.npv_label.setText(_pct(r.npv))
        self.roc.set_current(r.sensitivity, r.specificity)
