"""The AI panel: verdict (probability and label, or why there is none), threshold, rates, ROC."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xray_desktop import decision
from xray_desktop import settings as keys
from xray_desktop.ui.roc_chart import RocChart, point_text
from xray_desktop.ui.threshold_control import ThresholdControl, guard_wheel

PREVALENCE_TEXT = (
    "Assumed prevalence of pneumonia among children X-rayed for suspected pneumonia in a "
    "pediatric ED; change to your site's."
)
BAR_STEPS = 1000
OP_TITLES = {"high-sensitivity": "High sensitivity", "balanced": "Balanced", "high-specificity": "High specificity"}


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
        self._gate_ok: bool | None = True
        self._gate_reason = ""
        self._out_of_scope = ""

        self.status_label = QLabel("Loading AI model…")
        self.status_label.setWordWrap(True)
        self.probability_label = QLabel("—")
        self.probability_label.setObjectName("probability")
        self.probability_bar = QProgressBar()
        self.probability_bar.setRange(0, BAR_STEPS)
        self.probability_bar.setTextVisible(False)
        self.probability_bar.setMaximumHeight(10)
        self.ai_label = QLabel("")
        self.ai_label.setObjectName("aiLabel")
        self.ai_label.setWordWrap(True)  # "Not assessed (outside intended use …)" must not widen the panel
        self.gate_label = QLabel("")  # why the AI call is withheld (gate or intended use)
        self.gate_label.setObjectName("warning")
        self.gate_label.setWordWrap(True)
        self.gate_label.hide()

        self.threshold_control = ThresholdControl()
        self.slider = self.threshold_control.slider
        self.threshold_spin = self.threshold_control.spin
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
        self.prevalence_spin.setValue(keys.PREVALENCE[1] * 100)  # the spin box shows percent
        guard_wheel(self.threshold_control.guard, self.prevalence_spin)
        prevalence_hint = QLabel(PREVALENCE_TEXT)
        prevalence_hint.setWordWrap(True)
        prevalence_hint.setObjectName("hint")
        self.roc = RocChart()
        self.roc_point_label = QLabel()
        self.roc_point_label.setObjectName("hint")
        self.roc_point_label.setWordWrap(True)  # never widens the panel

        self.summary = QWidget()
        sl = QVBoxLayout(self.summary)
        sl.setContentsMargins(0, 0, 0, 0)
        for wdg in (self.status_label, self.probability_label, self.probability_bar, self.ai_label, self.gate_label):
            sl.addWidget(wdg)
        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Threshold", self.threshold_control)
        form.addRow(presets)
        form.addRow("Sensitivity", self.sensitivity_label)
        form.addRow("Specificity", self.specificity_label)
        form.addRow("Prevalence", self.prevalence_spin)
        form.addRow(prevalence_hint)
        form.addRow("PPV", self.ppv_label)
        form.addRow("NPV", self.npv_label)
        form.addRow(self.roc)
        form.addRow(self.roc_point_label)

        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self._layout.addWidget(self.summary)
        self._layout.addWidget(self.controls)
        self._layout.addStretch(1)
        self.controls.setEnabled(False)

        self.threshold_control.value_changed.connect(self._on_threshold_control_value_changed)
        self.prevalence_spin.valueChanged.connect(self._on_prevalence_spin_value_changed)
        self._refresh()

    def insert_after_summary(self, widget: QWidget) -> None:
        """Put ``widget`` (what the model saw) right under the verdict, above the threshold controls."""
        self._layout.insertWidget(1, widget)

    # -- model state ------------------------------------------------------------------------
    def set_loading(self) -> None:
        self.status_label.setText("Loading AI model…")
        self.status_label.setObjectName("hint")

    def set_unavailable(self, message: str) -> None:
        """Disable the controls and say why (``message`` is a WorkerFailure's, shown as-is)."""
        self.card = None
        self.status_label.setText(message)
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
    def set_prediction(self, probability: float | None, gate_accepted: bool | None = True, gate_reason: str = "",
                       out_of_scope: str = "") -> None:
        """Show a study's answer (None clears). A refused or out-of-scope study shows no probability."""
        self._probability = probability
        self._gate_ok, self._gate_reason, self._out_of_scope = gate_accepted, gate_reason, out_of_scope
        self._refresh()

    def verdict(self) -> decision.Verdict:
        """The verdict on screen, at the current threshold."""
        return decision.verdict(self._probability, self._threshold if self.card is not None else None,
                                self._gate_ok, self._gate_reason, self._out_of_scope)

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
        self.threshold_control.show_value(self._threshold)  # a view of _threshold here, not a source
        self._refresh()
        self.threshold_changed.emit(self._threshold)
        self.operating_point_changed.emit(op_name)

    @Slot(float)
    def _on_threshold_control_value_changed(self, value: float) -> None:
        self._set(value, "")

    @Slot(float)
    def _on_prevalence_spin_value_changed(self, _value: float) -> None:
        self._refresh()
        self.prevalence_changed.emit(self.prevalence())

    def ai_label_text(self) -> str:
        return self.ai_label.text()

    def _refresh(self) -> None:
        for name, b in self.preset_buttons.items():
            b.setChecked(name == self._op_name)
        v = self.verdict()
        withheld = decision.not_assessed_text(self._gate_ok, self._gate_reason, self._out_of_scope)
        self.gate_label.setVisible(bool(withheld) and self._probability is not None)
        self.gate_label.setText(f"No AI call: {withheld}." if withheld else "")
        if self._probability is None or self.card is None:
            self.probability_label.setText("—")
            self.probability_bar.setValue(0)
            self.ai_label.setText("")
        elif not v.assessed:
            # A refused study has no probability: the number computed on it means nothing.
            self.probability_label.setText(decision.NOT_ASSESSED)
            self.probability_bar.setValue(0)
            self.ai_label.setText("Not assessed (input gate)" if self._gate_ok is False
                                  else f"Not assessed ({decision.out_of_scope_text(self._out_of_scope)})")
        else:
            self.probability_label.setText(decision.format_probability(v.probability))
            self.probability_bar.setValue(round((v.probability or 0.0) * BAR_STEPS))
            self.ai_label.setText("AI: Pneumonia" if v.label == decision.PNEUMONIA else "AI: Normal")
        self.probability_bar.setVisible(v.assessed or self._probability is None)
        if self.card is None:
            for lab in (self.sensitivity_label, self.specificity_label, self.ppv_label, self.npv_label):
                lab.setText("—")
            self.roc_point_label.setText("")
            return
        r = self.card.rates_at(self._threshold, self.prevalence())
        self.sensitivity_label.setText(decision.format_rate(r.sensitivity))
        self.specificity_label.setText(decision.format_rate(r.specificity))
        self.ppv_label.setText(decision.format_rate(r.ppv))
        self.npv_label.setText(decision.format_rate(r.npv))
        self.roc.set_current(r.sensitivity, r.specificity)
        self.roc_point_label.setText(f"Current point: {point_text(1 - r.specificity, r.sensitivity)} "
                                     f"at threshold {self._threshold:.4f}")
