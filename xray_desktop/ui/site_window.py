"""The "Site performance" window: the site report of ``xray-desktop site-report``, with its plots.

The report (every confirmed read of the database, statistics, the HTML file) is computed
on a worker (``workers.JobTask``); this window only shows the finished result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from xray_desktop.model.operating_points import CardPoints
from xray_desktop.siteperf.data import REFERENCE_WORDS, changes_text
from xray_desktop.siteperf.html import write_html
from xray_desktop.siteperf.service import SiteResult, site_result
from xray_desktop.ui.roc_chart import POINT_GREY, SITE_COLOUR, RocChart
from xray_desktop.ui.site_charts import HistogramChart, ReliabilityChart
from xray_desktop.ui.workers import JobSignals, JobTask, make_pool, next_request_id

COLUMNS = ("operating point", "figures from", "threshold", "site sensitivity\n(95 % CI)",
           "site specificity\n(95 % CI)", "site PPV\n(95 % CI)", "site NPV\n(95 % CI)",
           "validation sens / spec\nat this threshold")
REFERENCE_TEXT = f"Reference standard: {REFERENCE_WORDS}."
WARN_BG = QColor(110, 80, 20)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def _with_ci(x: float | None, ci: list[float | None] | None) -> str:
    if x is None or not ci or ci[0] is None or ci[1] is None:
        return _pct(x)
    return f"{_pct(x)} ({ci[0] * 100:.1f}–{ci[1] * 100:.1f})"


def excludes(value: float | None, ci: list[float | None] | None) -> bool:
    """True when a site CI excludes the validation figure (the cell is then marked)."""
    if value is None or not ci or ci[0] is None or ci[1] is None or not math.isfinite(value):
        return False
    return not ci[0] <= value <= ci[1]


def summary_html(report: dict[str, Any]) -> str:
    """Model, cases, AUC and ECE beside validation, as a few lines of rich text."""
    auc, ci, val = report["auc"], report["auc_ci"], report["validation"]
    auc_text = "—" if auc is None else f"{auc:.3f}" + (
        f" (95 % CI {ci[0]:.3f}–{ci[1]:.3f})" if ci and ci[0] is not None else "")
    m = report["model"]
    lines = [f"<b>Model:</b> {m['name']} {m['version']} (SHA-256 {m['sha256'][:12]}…)",
             f"<b>Cases:</b> {report['n_reads']} confirmed reads: {report['n_positive']} PNEUMONIA, "
             f"{report['n_negative']} NORMAL (prevalence {_pct(report['prevalence'])})"]
    if report["excluded"]:
        lines.append("<b>Left out:</b> " + ", ".join(f"{v} {k}" for k, v in report["excluded"].items()))
    val_auc = f"; validation AUC {val['auc']:.3f} ({val['origin']})" if val.get("auc") is not None else ""
    lines.append(f"<b>AUC:</b> {auc_text}{val_auc}")
    ece, vece = report["calibration"]["ece"], report["calibration"]["validation_ece"]
    if ece is not None:
        lines.append(f"<b>ECE:</b> {ece:.3f}" + (f"; validation ECE {vece:.3f}" if vece is not None else ""))
    if report.get("read_first") is not None:
        lines.append(changes_text(report["read_first"]))
    prof = report.get("site_profile")
    if prof:
        lines.append(f"<b>Site profile in force:</b> {prof['profile_id']} (n = {prof['n']})")
    return "<br>".join(lines)


class SiteWindow(QDialog):
    """Non-modal window: the AI's performance on this site's confirmed reads, beside its validation."""

    def __init__(self, store: Any, card: Any, profile: Any = None, parent: QWidget | None = None,
                 start_dir: str = "") -> None:
        super().__init__(parent)
        self.start_dir = start_dir  # where "Save HTML…" opens
        self.setWindowTitle("Site performance of the AI")
        self.setModal(False)
        self.store, self.card, self.profile = store, card, profile
        self.result: SiteResult | None = None
        self._rid = 0  # the job whose answer is awaited; others are stale
        # Tests set this to skip the save dialog: returns the file, or None to cancel.
        self.html_path_provider: Callable[[], Path | None] | None = None
        self.pool = make_pool(1)
        self.signals = JobSignals(self)
        self.signals.done.connect(self._on_done)
        self.signals.failed.connect(self._on_failed)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.reference_label = QLabel(REFERENCE_TEXT)  # said plainly, data or not
        self.reference_label.setWordWrap(True)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.warnings_label = QLabel()
        self.warnings_label.setObjectName("warning")
        self.warnings_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table_note = QLabel("Wilson 95 % intervals; AUC by DeLong. PPV and NPV at this sample's prevalence. "
                                 "A marked cell: the site interval excludes the validation figure.")
        self.table_note.setObjectName("hint")
        self.table_note.setWordWrap(True)
        self.roc = RocChart()
        self.roc.set_zoomed(False)  # a site curve can sit far below the validation one
        self.reliability = ReliabilityChart()
        self.histogram = HistogramChart()
        self.plots_note = QLabel("ROC: blue = validation, green = this site's reads; grey dots = validation figures "
                                 "at each operating point's threshold, green = the site's at the same threshold "
                                 "(diamond: the site profile's point).")
        self.plots_note.setObjectName("hint")
        self.plots_note.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.save_button = QPushButton("Save HTML…")
        self.save_button.setToolTip("The same report as 'xray-desktop site-report --html': one file, plots inline")
        self.save_button.clicked.connect(self.save_html)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        body = QWidget()
        bl = QVBoxLayout(body)
        for wdg in (self.status_label, self.reference_label, self.summary_label, self.warnings_label, self.table,
                    self.table_note):
            bl.addWidget(wdg)
        plots = QHBoxLayout()
        for chart in (self.roc, self.reliability, self.histogram):
            plots.addWidget(chart)
        bl.addLayout(plots)
        bl.addWidget(self.plots_note)
        bl.addStretch(1)  # with no figures, the message stays at the top
        self.body = body
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(scroll)
        lay.addLayout(buttons)
        self.resize(1300, 720)
        self.refresh()

    # -- computing (on the worker) ----------------------------------------------------------
    def refresh(self) -> None:
        """Compute the report again from the database, off the GUI thread."""
        self._show(None)
        if self.store is None:
            self.status_label.setText("No reads database is open: there is nothing to measure.")
            return
        self.status_label.setText("Computing the site report from the confirmed reads…")
        self.refresh_button.setEnabled(False)
        store, card, profile = self.store, self.card, self.profile

        def job() -> SiteResult:
            reader = store.reader()  # this thread's own read-only connection
            try:
                return site_result(reader, card, profile)
            finally:
                reader.close()

        self._start(job)

    def save_html(self) -> Path | None:
        """Write the report as ``site-report --html`` does (on the worker); returns the file chosen."""
        if self.result is None or self.result.report is None:
            return None
        if self.html_path_provider is not None:
            path = self.html_path_provider()
        else:
            start = str(Path(self.start_dir) / "site-report.html") if self.start_dir else "site-report.html"
            name, _ = QFileDialog.getSaveFileName(self, "Save site report", start, "HTML (*.html)")
            path = Path(name) if name else None
        if path is None:
            return None
        report, card, cases = self.result.report, self.card, self.result.cases
        self.save_button.setEnabled(False)
        self.status_label.setText(f"Writing {path.name}…")
        self._start(lambda: (write_html(report, card, cases, path), path)[1])
        return path

    def _start(self, fn: Callable[[], Any]) -> None:
        self._rid = next_request_id()
        self.pool.start(JobTask(self._rid, fn, self.signals))

    @Slot(int, object)
    def _on_done(self, rid: int, result: Any) -> None:
        if rid != self._rid:
            return
        self.refresh_button.setEnabled(True)
        if isinstance(result, Path):
            self.save_button.setEnabled(True)
            self.status_label.setText(f"Saved the report to {result}")
            return
        self._show(result)

    @Slot(int, object)
    def _on_failed(self, rid: int, failure: Any) -> None:
        if rid != self._rid:
            return
        self.refresh_button.setEnabled(True)
        self.save_button.setEnabled(self.result is not None and self.result.report is not None)
        self.status_label.setText(f"Site report failed: {failure.message}")

    # -- showing (GUI thread: only the finished figures) ------------------------------------
    def _show(self, result: SiteResult | None) -> None:
        self.result = result
        report = result.report if result is not None else None
        self.save_button.setEnabled(report is not None)
        for wdg in (self.summary_label, self.warnings_label, self.table, self.table_note, self.roc,
                    self.reliability, self.histogram, self.plots_note):
            wdg.setVisible(report is not None)
        if result is None:
            return
        if report is None:
            self.status_label.setText(result.message)  # an empty or one-class database: said, not an error
            return
        self.status_label.setText(f"{report['n_reads']} confirmed reads of this model, newest read per study.")
        self.summary_label.setText(summary_html(report))
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in report["warnings"]))
        self.warnings_label.setVisible(bool(report["warnings"]))
        self._fill_table(report)
        self._fill_roc(result)
        self.reliability.set_bins(report["calibration"]["bins"])
        self.histogram.set_histograms(report["drift"]["probability"])

    def _fill_table(self, report: dict[str, Any]) -> None:
        ops = report["operating_points"]
        self.table.setRowCount(len(ops))
        for row, (name, op) in enumerate(ops.items()):
            origin = op["origin"].replace(", n =", ",\nn =")  # two lines: the table fits a 1366 px screen
            cells = [name, origin, f"{op['threshold']:.4f}", _with_ci(op["sensitivity"], op["sensitivity_ci"]),
                     _with_ci(op["specificity"], op["specificity_ci"]), _with_ci(op["ppv"], op["ppv_ci"]),
                     _with_ci(op["npv"], op["npv_ci"]),
                     f"{_pct(op['validation_sensitivity'])} / {_pct(op['validation_specificity'])}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                for what, c in (("sensitivity", 3), ("specificity", 4)):
                    if col == c and excludes(op[f"validation_{what}"], op[f"{what}_ci"]):
                        item.setBackground(WARN_BG)
                        item.setToolTip(f"The site's 95 % interval excludes the validation {what} "
                                        f"{_pct(op[f'validation_{what}'])}")
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        rows_h = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        bar = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(self.table.horizontalHeader().height() + rows_h + bar + 4)

    def _fill_roc(self, result: SiteResult) -> None:
        assert result.report is not None
        self.roc.set_sources(CardPoints(self.card))
        self.roc.markers = []  # the points are drawn from the report below: validation and site, each
        rows = result.site_roc
        self.roc.add_curve(f"site (n = {result.report['n_reads']})", [1 - r["specificity"] for r in rows],
                           [r["sensitivity"] for r in rows])
        for name, op in result.report["operating_points"].items():
            site_point = op["source"] == "site"
            self.roc.add_marker(name, 1 - op["validation_specificity"], op["validation_sensitivity"], POINT_GREY,
                                diamond=site_point)
            if op["sensitivity"] is not None and op["specificity"] is not None:
                self.roc.add_marker(name, 1 - op["specificity"], op["sensitivity"], SITE_COLOUR, diamond=site_point)

    def shutdown(self) -> None:
        """Let a job in flight finish (the window goes with the main window)."""
        self._rid = 0
        self.pool.waitForDone(5000)

    def closeEvent(self, event: Any) -> None:
        self.pool.clear()  # a queued job need not start; one running finishes on its own
        super().closeEvent(event)
