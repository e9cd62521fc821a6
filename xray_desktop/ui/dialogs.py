"""Small dialogs: reviewer name, DICOM tags, model card, shortcuts, export options."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from xray_desktop.records.export import Layout

SHORTCUTS = (
    ("P / N / I", "Diagnosis: Pneumonia / Normal / Indeterminate"),
    ("O", "Diagnosis: Other finding (then type it)"),
    ("1 – 5", "Confidence"),
    ("Ctrl+Enter", "Confirm (or amend) and go to the next unconfirmed study; in read-first mode first saves "
                   "your first impression and shows the AI, then confirms the final diagnosis"),
    ("Ctrl+Shift+A", "Adjudicate the confirmed study on screen (another reviewer; Review menu)"),
    ("J / Down", "Next study"),
    ("K / Up", "Previous study"),
    ("[ / ]", "Previous / next image of the study (the AI reads the frontal one; laterals are shown, not scored)"),
    ("H", "Heat map on/off for this study (shown by itself when the AI says pneumonia)"),
    ("F / Ctrl+1", "Fit image to window / one image pixel per screen pixel"),
    ("Ctrl+I / Ctrl+R", "Invert grey scale / reset window, zoom and invert"),
    ("Ctrl+T", "All DICOM tags"),
    ("Space (hold)", "Hide overlays while held"),
    ("Esc", "Leave a text field (back to the work list)"),
    ("Ctrl+O / Ctrl+Shift+O", "Open files / open folder"),
    ("Ctrl+E", "Export confirmed diagnoses"),
    ("Ctrl+Q", "Quit"),
    ("?", "This help"),
)


class ReviewerDialog(QDialog):
    """Asks for the reviewer's name (stored with every read)."""

    def __init__(self, current: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reviewer")
        self.edit = QLineEdit(current)
        self.edit.setPlaceholderText("e.g. Dr A. Reader")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Your name, recorded with every diagnosis you confirm:"))
        lay.addWidget(self.edit)
        lay.addWidget(buttons)
        self._on_edit_text_changed(current)

    def name(self) -> str:
        return self.edit.text().strip()

    @Slot(str)
    def _on_edit_text_changed(self, text: str) -> None:
        self.ok_button.setEnabled(bool(text.strip()))


class TagsDialog(QDialog):
    """Every DICOM tag of the study, with a search box that filters tag, name and value."""

    def __init__(self, tags: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM tags")
        self.resize(760, 560)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tags, names and values…")
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(len(tags), 3)
        self.table.setHorizontalHeaderLabels(["Tag", "Name", "Value"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for r, row in enumerate(tags):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(str(text)))
        self.table.resizeColumnsToContents()
        self.search.textChanged.connect(self._on_search_text_changed)
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.table)
        if not tags:
            lay.addWidget(QLabel("This study has no DICOM tags (not a DICOM file)."))

    def visible_rows(self) -> int:
        return sum(not self.table.isRowHidden(r) for r in range(self.table.rowCount()))

    @Slot(str)
    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            hay = " ".join(self.table.item(r, c).text().lower() for c in range(3))
            self.table.setRowHidden(r, bool(needle) and needle not in hay)


def _html_value(val: Any) -> str:
    """A card value for people: nested dicts as indented lists, never a Python repr."""
    if isinstance(val, dict):
        items = "".join(f"<li>{html.escape(str(k).replace('_', ' '))}: {_html_value(v)}</li>" for k, v in val.items())
        return f"<ul style='margin-top:0'>{items}</ul>"
    if isinstance(val, list):
        return "<br>".join(_html_value(v) for v in val)
    return html.escape(str(val))


def model_card_html(card: Any, version: str = "", sha256: str = "") -> str:
    """Human summary of the model card (intended use, data, operating points)."""
    d = card.data
    parts = [f"<h3>{card.name} {version or card.version}</h3>"]
    for key, title in (("intended_use", "Intended use"), ("description", "Description"),
                       ("limitations", "Limitations"), ("training_data", "Training data")):
        val = d.get(key)
        if val:
            parts.append(f"<p><b>{title}:</b> {_html_value(val)}</p>")
    rows = "".join(
        f"<tr><td>{op.name}</td><td>{op.threshold:.3f}</td><td>{op.sensitivity * 100:.1f} %</td>"
        f"<td>{op.specificity * 100:.1f} %</td></tr>"
        for op in card.operating_points()
    )
    parts.append("<p><b>Operating points (validation)</b></p><table cellpadding=3>"
                 "<tr><th>name</th><th>threshold</th><th>sensitivity</th><th>specificity</th></tr>"
                 f"{rows}</table>")
    for key, title in (("metrics", "Metrics"), ("validation", "Validation")):
        if isinstance(d.get(key), dict):
            items = ", ".join(f"{k}: {v}" for k, v in d[key].items() if not isinstance(v, dict | list))
            if items:
                parts.append(f"<p><b>{title}:</b> {items}</p>")
    parts.append(f"<p><small>SHA-256 {sha256 or card.sha256}</small></p>")
    return "".join(parts)


class TextDialog(QDialog):
    """A read-only rich-text dialog (about model, shortcuts)."""

    def __init__(self, title: str, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(560, 480)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    return f"<h3>Keyboard shortcuts</h3><table cellpadding=4>{rows}</table>" \
           "<p>Letter and number keys are ignored while you type in a text field.</p>"


@dataclass(frozen=True)
class ExportOptions:
    """What File → Export… should write."""

    path: Path
    all_history: bool = False
    deidentify: bool = False
    layout: Layout = "reads"  # "mrmc": the same rows as `xray-desktop export --layout mrmc`


# The layout choice's labels, in the combo's order, with the layout each one writes.
EXPORT_LAYOUTS: tuple[tuple[str, Layout], ...] = (
    ("Reads (one row per study)", "reads"),
    ("MRMC study (one row per reader × case × condition)", "mrmc"),
)


class ExportDialog(QDialog):
    """Choose the CSV file and the export options."""

    def __init__(self, start_dir: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export confirmed diagnoses")
        self.path_edit = QLineEdit(str(Path(start_dir or Path.home()) / "reads.csv"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        self.layout_combo = QComboBox()
        for label, layout in EXPORT_LAYOUTS:
            self.layout_combo.addItem(label, layout)
        self.history_check = QCheckBox("All history (every read, including superseded ones)")
        self.deid_check = QCheckBox("De-identify (drop names and IDs, pseudonymise keys)")
        self._history_ticked = False  # the reader's All history tick while MRMC is chosen
        self.layout_combo.currentIndexChanged.connect(self._on_layout_changed)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("CSV file", row)
        form.addRow("Layout", self.layout_combo)
        form.addRow(self.history_check)
        form.addRow(self.deid_check)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def chosen_layout(self) -> Layout:
        return self.layout_combo.currentData()  # type: ignore[no-any-return]

    def options(self) -> ExportOptions:
        mrmc = self.chosen_layout() == "mrmc"  # each reader's latest read per condition: no history to add
        return ExportOptions(Path(self.path_edit.text().strip()), self.history_check.isChecked() and not mrmc,
                             self.deid_check.isChecked(), self.chosen_layout())

    @Slot(int)
    def _on_layout_changed(self, _index: int) -> None:
        # Not applicable to MRMC: shown unticked and greyed (a greyed tick reads as "applies"),
        # the reader's tick back when Reads is chosen again.
        mrmc = self.chosen_layout() == "mrmc"
        if mrmc:
            self._history_ticked = self.history_check.isChecked()
        self.history_check.setEnabled(not mrmc)
        self.history_check.setChecked(not mrmc and self._history_ticked)

    @Slot()
    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), "CSV files (*.csv)")
        if path:
            self.path_edit.setText(path)


def metadata_rows(md: Any, study: Any) -> list[tuple[str, str]]:
    """(label, value) pairs for the metadata panel."""
    name = md.patient_name.replace("^", " ").strip()
    size = f"{md.cols} × {md.rows}" if md.rows else ""
    if study is not None and not size:
        h, w = study.pixels.shape[:2]
        size = f"{w} × {h}"
    bits = f"{md.bits_stored}-bit" if md.bits_stored and study is not None else ""  # not for an empty pane
    return [
        ("Patient", " · ".join(x for x in (name, md.patient_id, md.sex, md.age) if x)),
        ("Birth date", md.birth_date),
        ("Study", " · ".join(x for x in (md.study_date, md.accession, md.institution) if x)),
        ("Modality", " · ".join(x for x in (md.modality, md.body_part, md.sop_class) if x)),
        ("View", md.view_position),
        ("Format", md.source_format),
        ("Transfer syntax", md.transfer_syntax),
        ("Size", " · ".join(x for x in (size, bits, md.photometric) if x)),
    ]


