"""The AI panel: verdict (probability and label, or why there is none), threshold, rates, ROC.

Operating points and their figures come from a source (``model.operating_points``): the
card's validation, or the site profile made for this model. The panel never reads a card
or a profile itself, and says next to the figures which source they come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
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
from xray_desktop.model.operating_points import CARD, SITE, CardPoints, PointSource, SitePoints
from xray_desktop.model.site_profile import ProfileError
from xray_desktop.review import AiDisplay, ai_display
from xray_desktop.ui.point_sources import OP_TITLES, OperatingPoints, point_id, point_title  # noqa: F401 - re-exported
from xray_desktop.ui.roc_chart import RocChart, point_text
from xray_desktop.ui.threshold_control import ThresholdControl, guard_wheel

PREVALENCE_TEXT = (
    "Assumed prevalence of pneumonia among children X-rayed for suspected pneumonia in a "
    "pediatric ED; change to your site's."
)
BAR_STEPS = 1000
HIDDEN_TEXT = "AI hidden"  # read first: the form below says until when (a longer text is cut at this size)


def _with_ci(x: float, ci: tuple[float, float] | None) -> str:
    text = decision.format_rate(x)
    if ci is not None and all(c == c for c in ci):  # NaN-free
        text += f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f} %)"
    return text


class PredictionPanel(OperatingPoints, QWidget):
    """Shows one prediction and owns the threshold / operating point / prevalence controls."""

    threshold_changed = Signal(float)  # new threshold on the calibrated probability
    operating_point_changed = Signal(str)  # point_id(), or "" when the user set a custom threshold
    point_source_changed = Signal(str)  # CARD or SITE: where the operating points and figures come from
    prevalence_changed = Signal(float)  # assumed prevalence, as a fraction

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # What of the answer may be shown (review.ai_display); the window hands it the session's.
        self.display_rule: Callable[[decision.Verdict], AiDisplay] = ai_display
        self.card: Any = None
        self._sources: dict[str, PointSource] = {}
        self._kind = CARD
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
        self.source_combo = QComboBox()  # "Site: …" beside the card, when a site profile exists
        self.source_combo.setToolTip("Where the operating points and the figures below come from: the model "
                                     "card's validation (training source) or this site's own profile")
        guard_wheel(self.threshold_control.guard, self.source_combo)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(16)  # its items never widen the panel
        self.preset_buttons: dict[str, QPushButton] = {}
        self.presets = QHBoxLayout()
        for title in OP_TITLES.values():
            # Until a model is loaded: the card's three, so the panel's minimum width (which the
            # window gives its column) already holds them.
            b = QPushButton(title)
            b.setEnabled(False)
            self.presets.addWidget(b)
            self.preset_buttons[title] = b
        self.origin_label = QLabel()  # "Figures: validation (training source), n = 784"
        self.origin_label.setObjectName("hint")
        self.origin_label.setWordWrap(True)
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
        # Which image of the study the AI read, and why (io.studies.choose_ai_image's reason).
        self.ai_image_label = QLabel("")
        self.ai_image_label.setObjectName("hint")
        self.ai_image_label.setWordWrap(True)
        self.ai_image_label.setVisible(False)
        for wdg in (self.status_label, self.probability_label, self.probability_bar, self.ai_label, self.gate_label,
                    self.ai_image_label):
            sl.addWidget(wdg)
        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Points from", self.source_combo)
        form.addRow("Threshold", self.threshold_control)
        form.addRow(self.presets)
        form.addRow(self.origin_label)
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
        self.source_combo.activated.connect(self._on_source_combo_activated)
        self.prevalence_spin.valueChanged.connect(self._on_prevalence_spin_value_changed)
        self._refresh()

    def set_ai_image(self, text: str) -> None:
        """Say which image of the study the AI read and why ("" hides the line: a one-image study)."""
        self._ai_image_text = text
        self._show_ai_image(self.display_rule(self.verdict()).label)

    def _show_ai_image(self, shown: bool) -> None:
        # Read first: why an image was not used can be the input gate's refusal, part of the answer.
        text = getattr(self, "_ai_image_text", "") if shown else ""
        if text != self.ai_image_label.text():  # selection changes call this: skip the no-op relayout
            self.ai_image_label.setText(text)
            self.ai_image_label.setVisible(bool(text))

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
        self._sources = {}
        self.roc.set_sources(None)
        self.set_prediction(None)

    def set_card(self, card: Any, version: str = "", threshold: float | None = None, op_name: str = "",
                 site_profile: Any = None, source: str = CARD) -> None:
        """Model ready: enable the controls; offer the card's points and ``site_profile``'s, if any.

        Starts on ``source`` (CARD or SITE, where available), at ``op_name``, else at
        ``threshold``, else at that source's default point. A site point of another
        profile than this one falls back to the default (its threshold was another's).
        """
        self.card = card
        self.status_label.setText(f"Model {card.name} {version or card.version}")
        self.status_label.setObjectName("hint")
        self.controls.setEnabled(True)
        self._sources = {CARD: CardPoints(card)}
        if site_profile is not None:
            try:
                self._sources[SITE] = SitePoints(site_profile, card)
            except ProfileError:  # made for another model: never offered
                pass
        self.source_combo.clear()
        # Short items (the panel is narrow); the figures' origin is spelled out under the presets.
        card_src = self._sources[CARD]
        self.source_combo.addItem("Model card (validation)", CARD)
        self.source_combo.setItemData(0, f"The card's operating points; figures from {card_src.origin}",
                                      Qt.ItemDataRole.ToolTipRole)
        if SITE in self._sources:
            prof = self._sources[SITE]
            self.source_combo.addItem(f"Site: {prof.profile_id[:8]} ({prof.origin.removeprefix('site (')}", SITE)
            self.source_combo.setItemData(1, f"This site's profile {prof.profile_id}; figures from {prof.origin}",
                                          Qt.ItemDataRole.ToolTipRole)
        self.source_combo.setEnabled(self.source_combo.count() > 1)
        self._use_source(source if source in self._sources else CARD)
        known = {point_id(p) for p in self.source().points()}
        if op_name in known:
            self.apply_operating_point(op_name)
        elif threshold is not None and not op_name.startswith("site:"):
            self.set_threshold(threshold)
        else:
            self.apply_operating_point(point_id(self.source().point()))

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

    def refresh(self) -> None:
        """Show again what may be shown (the display rule changed: a first impression was saved)."""
        self._refresh()

    def ai_label_text(self) -> str:
        return self.ai_label.text()

    def _refresh(self) -> None:
        for name, b in self.preset_buttons.items():
            b.setChecked(name == self._op_name)
        v = self.verdict()
        show = self.display_rule(v)
        self._show_ai_image(show.label)
        withheld = decision.not_assessed_text(self._gate_ok, self._gate_reason, self._out_of_scope)
        # A study with no image the AI may read (laterals only) is refused without a number.
        answered = self._probability is not None or self._gate_ok is False
        self.gate_label.setVisible(bool(withheld) and answered and show.label)
        self.gate_label.setText(f"No AI call: {withheld}." if withheld and show.label else "")
        if not answered or self.card is None:
            self.probability_label.setText("—")
            self.probability_bar.setValue(0)
            self.ai_label.setText("")
        elif not show.label:  # read-first: nothing of the answer until the first impression is saved
            self.probability_label.setText(HIDDEN_TEXT)
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
        self.probability_bar.setVisible(show.probability or self._probability is None)
        if self.card is None or not self._sources or not show.rates:
            for lab in (self.sensitivity_label, self.specificity_label, self.ppv_label, self.npv_label):
                lab.setText("—")
            self.roc_point_label.setText("")
            self.origin_label.setText("")
            return
        src = self.source()
        r = src.roc_table().rates_at(self._threshold, self.prevalence())
        # Figures never stand bare: the line above them says where they were measured.
        self.origin_label.setText(f"Figures: {src.origin}")
        pt = self.current_point()
        self.sensitivity_label.setText(_with_ci(r.sensitivity, pt.sensitivity_ci if pt else None))
        self.specificity_label.setText(_with_ci(r.specificity, pt.specificity_ci if pt else None))
        self.ppv_label.setText(decision.format_rate(r.ppv))
        self.npv_label.setText(decision.format_rate(r.npv))
        for lab in (self.sensitivity_label, self.specificity_label, self.ppv_label, self.npv_label):
            lab.setToolTip(f"From {src.origin}")
        self.roc.set_current(r.sensitivity, r.specificity)
        self.roc_point_label.setText(f"Current point: {point_text(1 - r.specificity, r.sensitivity)} "
                                     f"at threshold {self._threshold:.4f}")
