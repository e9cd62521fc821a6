"""The reader's final diagnosis: call, confidence, note, agreement with the AI, history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from xray_desktop.decision import agreement
from xray_desktop.domain import Diagnosis
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
from xray_desktop.review import Draft, form_problem
from xray_desktop.review import other_finding as _other_finding

DIAGNOSIS_KEYS = {Diagnosis.PNEUMONIA: "P", Diagnosis.NORMAL: "N", Diagnosis.INDETERMINATE: "I", Diagnosis.OTHER: "O"}


class DiagnosisPanel(QWidget):
    """Form for one read; the main window saves it on :attr:`confirm_requested`."""

    confirm_requested = Signal()  # the reader pressed Confirm (or Ctrl+Enter)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ai_label = ""
        self._amending = False
        self._stage = ""  # the role the next confirm records (review.ReviewSession.pending_role)
        self._baseline: Draft = (None, None, "", "")
        self._draft_restored = False
        self.diagnosis_group = QButtonGroup(self)
        self.diagnosis_buttons: dict[Diagnosis, QPushButton] = {}
        dx_row = QGridLayout()  # 2 x 2: the form fits a narrow right column at 1,366 px
        for i, (d, key) in enumerate(DIAGNOSIS_KEYS.items()):
            b = QPushButton(f"{d.value.capitalize()} ({key})")
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep keyboard focus where the reader is
            self.diagnosis_group.addButton(b)
            self.diagnosis_buttons[d] = b
            dx_row.addWidget(b, i // 2, i % 2)
        self.other_edit = QLineEdit()
        self.other_edit.setPlaceholderText("Other finding (required for Other)")
        self.other_edit.setEnabled(False)
        self.confidence_group = QButtonGroup(self)
        conf_row = QHBoxLayout()
        conf_row.addWidget(QLabel("Confidence"))
        for n in range(1, 6):
            b = QPushButton(str(n))
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setMaximumWidth(40)
            self.confidence_group.addButton(b, n)
            conf_row.addWidget(b)
        conf_row.addStretch(1)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Note (optional)")
        self.note_edit.setMaximumHeight(70)
        self.agreement_label = QLabel()
        self.agreement_label.setWordWrap(True)  # the read-first line is long: wrap, never widen the column
        self.agreement_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.confirm_button = QPushButton("Confirm (Ctrl+Enter)")
        self.confirm_button.setEnabled(False)
        self.hint_label = QLabel()
        self.hint_label.setObjectName("hint")
        # A long hint ("Unsaved draft …") wraps instead of widening the panel: the splitter
        # moved the whole right column when a draft came back (seen under Xvfb at 1,366 px).
        self.hint_label.setWordWrap(True)
        self.hint_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.history_label = QLabel()
        self.history_label.setObjectName("hint")
        self.history_label.setWordWrap(True)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(dx_row)
        lay.addWidget(self.other_edit)
        lay.addLayout(conf_row)
        lay.addWidget(self.note_edit)
        lay.addWidget(self.agreement_label)
        row = QHBoxLayout()
        row.addWidget(self.hint_label, 1)
        row.addWidget(self.confirm_button)
        lay.addLayout(row)
        lay.addWidget(self.history_label)

        self.diagnosis_group.buttonToggled.connect(self._on_field_changed)
        self.confidence_group.buttonToggled.connect(self._on_field_changed)
        self.other_edit.textChanged.connect(self._on_field_changed)
        self.note_edit.textChanged.connect(self._on_field_changed)
        self.confirm_button.clicked.connect(self.confirm_requested)
        self.setEnabled(False)
        self._refresh()

    # -- values ---------------------------------------------------------------------------
    def diagnosis(self) -> Diagnosis | None:
        for d, b in self.diagnosis_buttons.items():
            if b.isChecked():
                return d
        return None

    def set_diagnosis(self, d: Diagnosis) -> None:
        # No focus change here: a prefilled "Other" read must not pull the next keystrokes
        # into its text field (only the reader's O key does that, see review_keys).
        self.diagnosis_buttons[d].setChecked(True)

    def confidence(self) -> int | None:
        n = self.confidence_group.checkedId()
        return n if n > 0 else None

    def set_confidence(self, n: int) -> None:
        self.confidence_group.button(n).setChecked(True)

    def note(self) -> str:
        return self.note_edit.toPlainText().strip()

    def other_finding(self) -> str:
        return _other_finding(self.state())

    def problem(self) -> str:
        """Why the read cannot be confirmed yet ('' when it can; the rules are ``review.form_problem``)."""
        return form_problem(self.state())

    # -- state ----------------------------------------------------------------------------
    def set_ai_label(self, label: str) -> None:
        """The AI's call at the current threshold ('' when none), for the agreement line."""
        self._ai_label = label
        self._refresh()

    def set_stage(self, role: str) -> None:
        """Read-first mode: the next confirm saves a first impression (AI hidden) or the final read."""
        self._stage = role
        self._refresh()

    def clear(self) -> None:
        """Blank form for a new study."""
        for group in (self.diagnosis_group, self.confidence_group):
            group.setExclusive(False)  # an exclusive group refuses to uncheck its last button
            for b in group.buttons():
                b.setChecked(False)
            group.setExclusive(True)
        self.other_edit.clear()
        self.note_edit.clear()
        self._amending = False
        self._draft_restored = False
        self.history_label.setText("")
        self._baseline = self.state()
        self._refresh()

    def show_read(self, read: Any, history: list[Any]) -> None:
        """Prefill from the study's latest read; further confirms amend it."""
        self.clear()
        if read is None:
            return
        self.set_diagnosis(Diagnosis(getattr(read.final_diagnosis, "value", read.final_diagnosis)))
        if read.confidence:
            self.set_confidence(int(read.confidence))
        self.other_edit.setText(read.other_finding or "")
        self.note_edit.setPlainText(read.note or "")
        self._amending = True
        lines = [f"{_when(r)} {r.reviewer}: {_dx(r)} (confidence {r.confidence})"
                 + (" — superseded" if i < len(history) - 1 else "")
                 for i, r in enumerate(history)]
        self.history_label.setText("History:\n" + "\n".join(lines) if lines else "")
        self._baseline = self.state()
        self._refresh()

    # -- drafts (issue 18.4: unsaved input survives J/K for the session) -------------------
    def state(self) -> Draft:
        """The form's values: (diagnosis, confidence, other finding, note)."""
        return (self.diagnosis(), self.confidence(), self.other_edit.text(), self.note_edit.toPlainText())

    def mark_saved(self) -> None:
        """The form's values are stored now: nothing unsaved remains."""
        self._baseline = self.state()
        self._draft_restored = False
        self._refresh()

    def is_dirty(self) -> bool:
        """Whether the form differs from what was loaded (blank, or the saved read)."""
        return self.state() != self._baseline

    def restore_draft(self, draft: Draft) -> None:
        """Put an unsaved draft back (after show_read); it stays unsaved until confirmed."""
        d, conf, other, note = draft
        if d is not None:
            self.diagnosis_buttons[d].setChecked(True)
        if conf:
            self.set_confidence(conf)
        self.other_edit.setText(other)
        self.note_edit.setPlainText(note)
        self._draft_restored = True
        self._refresh()

    @property
    def amending(self) -> bool:
        return self._amending

    @Slot()
    def _on_field_changed(self, *_args: Any) -> None:
        self._refresh()

    def _refresh(self) -> None:
        d = self.diagnosis()
        self.other_edit.setEnabled(d == Diagnosis.OTHER)
        a = agreement(d, self._ai_label)
        ai = {"PNEUMONIA": "Pneumonia", "NORMAL": "Normal"}.get(self._ai_label, "no AI call")
        self.agreement_label.setText("Read first: the AI is shown once your first impression is saved"
                                     if self._stage == FIRST_IMPRESSION else {
            "agree": f"✓ Agrees with the AI ({ai})",
            "disagree": f"✗ Disagrees with the AI ({ai})",
        }.get(a, f"Agreement: n/a ({ai})"))
        problem = self.problem()
        draft = "Unsaved draft (kept for this session only)" if self._draft_restored and self.is_dirty() else ""
        self.hint_label.setText(" — ".join(x for x in (draft, problem) if x))
        self.confirm_button.setEnabled(not problem)
        self.confirm_button.setText({FIRST_IMPRESSION: "Save first impression (Ctrl+Enter)",
                                     READ_FIRST_FINAL: "Confirm final diagnosis (Ctrl+Enter)",
                                     ADJUDICATOR: "Record adjudication (Ctrl+Enter)"}.get(
            self._stage, "Amend (Ctrl+Enter)" if self._amending else "Confirm (Ctrl+Enter)"))


def _dx(read: Any) -> str:
    text = str(getattr(read.final_diagnosis, "value", read.final_diagnosis)).capitalize()
    return f"{text}: {read.other_finding}" if read.other_finding else text


def _when(read: Any) -> str:
    return str(read.created_at)[:16].replace("T", " ")
