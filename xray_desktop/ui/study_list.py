"""The work list: one row per study (thumbnail + metadata + prediction summary, never full pixels)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from xray_desktop.domain import StudyMetadata

Index = QModelIndex | QPersistentModelIndex


class Status(enum.Enum):
    """Where a study is in the pipeline; ``value`` is the text the list shows."""

    QUEUED = "queued"
    LOADING = "loading"
    ANALYSING = "analysing"
    AI_READY = "AI ready"
    REJECTED = "rejected by gate"
    LOADED = "loaded (no AI)"
    ERROR = "error"
    CANCELLED = "not analysed"
    CONFIRMED = "confirmed"


# Status sort: things needing the reader first, finished or broken last.
_STATUS_RANK = {
    Status.AI_READY: 0, Status.REJECTED: 1, Status.LOADED: 2, Status.ANALYSING: 3, Status.LOADING: 4,
    Status.QUEUED: 5, Status.CANCELLED: 6, Status.ERROR: 7, Status.CONFIRMED: 8,
}
_STATUS_BRUSH = {Status.ERROR: QBrush(QColor(239, 107, 107)), Status.REJECTED: QBrush(QColor(240, 180, 90)),
                 Status.CONFIRMED: QBrush(QColor(120, 200, 130))}
DONE = {Status.AI_READY, Status.REJECTED, Status.LOADED, Status.ERROR, Status.CONFIRMED, Status.CANCELLED}


@dataclass
class StudyRow:
    """What the list keeps per study: small, so hundreds of rows cost little memory."""

    path: Path
    order: int
    status: Status = Status.QUEUED
    error: str = ""
    key: str = ""
    sha256: str = ""
    metadata: StudyMetadata | None = None
    thumbnail: QImage | None = None
    probability: float | None = None
    gate_accepted: bool | None = None
    gate_reason: str = ""
    read: Any = None  # latest records.Read, or None
    _pixmap: QPixmap | None = None

    @property
    def name(self) -> str:
        md = self.metadata
        if md is not None and md.patient_name:
            return md.patient_name.replace("^", " ").strip()
        return self.path.name

    @property
    def confirmed(self) -> bool:
        return self.read is not None

    def ai_label(self, threshold: float | None) -> str:
        """'PNEUMONIA' / 'NORMAL' at ``threshold``; '' when there is no usable AI answer."""
        if self.probability is None or threshold is None or self.gate_accepted is False:
            return ""
        return "PNEUMONIA" if self.probability >= threshold else "NORMAL"


COLUMNS = ("Study", "Date", "Status", "AI %", "AI label", "Final")
ORDER_ROLE = Qt.ItemDataRole.UserRole + 1
PROB_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3
NAME_ROLE = Qt.ItemDataRole.UserRole + 4
SORT_ROLES = {"added": ORDER_ROLE, "probability": PROB_ROLE, "status": STATUS_ROLE, "name": NAME_ROLE}
FLUSH_MS = 40
LABEL_TEXT = {"PNEUMONIA": "Pneumonia", "NORMAL": "Normal", "": "—"}


class StudyListModel(QStandardItemModel):
    """Rows of :class:`StudyRow`; rows are only appended, so a row number is a stable id.

    The cells live in C++ (QStandardItemModel), copied from the rows when they change: a
    Python ``data()`` would be called for every role of every visible cell on each repaint,
    and each call must take the GIL from the decoder threads, which stalls the GUI.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.rows: list[StudyRow] = []
        self._by_path: dict[Path, int] = {}
        self.threshold: float | None = None
        self._dirty: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)

    def _sync(self, row: int, columns: range | None = None) -> None:
        """Copy one row's values into its cells (signals are emitted by the caller)."""
        cols = columns or range(len(COLUMNS))
        self._fill(self.rows[row], {c: self.item(row, c) for c in cols})

    def _fill(self, r: StudyRow, items: dict[int, QStandardItem]) -> None:
        tip = (f"{r.status.value}: {r.error}" if r.error
               else f"Input gate: {r.gate_reason}" if r.gate_reason else r.path.name)
        usable = r.probability is not None and r.gate_accepted is not False
        sort_values = {ORDER_ROLE: r.order, PROB_ROLE: -r.probability if usable else 2.0,  # type: ignore[operator]
                       STATUS_ROLE: _STATUS_RANK[r.status] * 100_000 + r.order, NAME_ROLE: r.name.lower()}
        for col, item in items.items():
            item.setData(self._display(r, col), Qt.ItemDataRole.DisplayRole)
            item.setData(tip, Qt.ItemDataRole.ToolTipRole)
            if col == 0:
                if r.thumbnail is not None and r._pixmap is None:
                    r._pixmap = QPixmap.fromImage(r.thumbnail)  # QPixmap only on the GUI thread
                item.setData(r._pixmap, Qt.ItemDataRole.DecorationRole)
                for role, value in sort_values.items():
                    item.setData(value, role)
            if col == 2:
                item.setData(_STATUS_BRUSH.get(r.status), Qt.ItemDataRole.ForegroundRole)

    def _display(self, row: StudyRow, col: int) -> str:
        if col == 0:
            return row.name
        if col == 1:
            d = row.metadata.study_date if row.metadata else ""
            return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d
        if col == 2:
            return row.status.value
        if col == 3:
            return "" if row.probability is None else f"{row.probability * 100:.0f}"
        if col == 4:
            return LABEL_TEXT[row.ai_label(self.threshold)] if row.probability is not None else ""
        if col == 5 and row.read is not None:
            return str(getattr(row.read.final_diagnosis, "value", row.read.final_diagnosis)).capitalize()
        return ""

    # -- mutation (GUI thread only) --------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> list[int]:
        """Append rows for paths not yet listed; returns the new row numbers."""
        fresh = [Path(p) for p in dict.fromkeys(paths) if Path(p) not in self._by_path]
        if not fresh:
            return []
        start = len(self.rows)
        for i, p in enumerate(fresh):
            r = StudyRow(path=p, order=start + i)
            self._by_path[p] = start + i
            self.rows.append(r)
            items = {c: QStandardItem() for c in range(len(COLUMNS))}
            for item in items.values():
                item.setEditable(False)
            self._fill(r, items)  # filled before insertion: no change signals
            self.appendRow(list(items.values()))
        return list(range(start, start + len(fresh)))

    def row_of(self, path: Path) -> int | None:
        return self._by_path.get(Path(path))

    def touch(self, row: int) -> None:
        """Tell the views that ``row`` changed; coalesced, so a fast batch repaints a few times a second."""
        self._dirty.add(row)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def has_pending_changes(self) -> bool:
        """True while row changes wait for the next coalesced ``dataChanged``."""
        return bool(self._dirty)

    def flush(self) -> None:
        """Apply the pending row changes now (one dataChanged per contiguous run of rows)."""
        self._flush_timer.stop()
        rows, self._dirty = sorted(self._dirty), set()
        self.blockSignals(True)
        try:
            for r in rows:
                self._sync(r)
        finally:
            self.blockSignals(False)
        last = len(COLUMNS) - 1
        start = prev = None
        for r in [*rows, None]:
            if r is not None and prev is not None and r == prev + 1:
                prev = r
                continue
            if start is not None:
                self.dataChanged.emit(self.index(start, 0), self.index(prev, last))
            start = prev = r

    def set_threshold(self, threshold: float | None) -> None:
        """The AI label column depends on the threshold; refresh it."""
        self.threshold = threshold
        if self.rows:
            self.blockSignals(True)
            try:
                for r in range(len(self.rows)):
                    self._sync(r, range(4, 5))
            finally:
                self.blockSignals(False)
            self.dataChanged.emit(self.index(0, 4), self.index(len(self.rows) - 1, 4))


class StudyFilterProxy(QSortFilterProxyModel):
    """Sorting by a role, and the 'unconfirmed only' filter."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._unconfirmed_only = False
        self.setDynamicSortFilter(True)
        self.setSortRole(ORDER_ROLE)

    def set_unconfirmed_only(self, on: bool) -> None:
        self.beginFilterChange()
        self._unconfirmed_only = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_sort_mode(self, mode: str) -> None:
        self.setSortRole(SORT_ROLES.get(mode, ORDER_ROLE))
        self.sort(0, Qt.SortOrder.AscendingOrder)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._unconfirmed_only:
            return True
        model = self.sourceModel()
        assert isinstance(model, StudyListModel)
        return model.rows[source_row].status != Status.CONFIRMED


class StudyListPanel(QWidget):
    """Sort/filter controls, the table, the batch progress bar and a detail line."""

    current_changed = Signal(int)  # source row now current (-1: none)
    cancel_requested = Signal()  # the user pressed Cancel on the batch

    SORT_MODES = (("added", "Order opened"), ("probability", "Most suspicious first"),
                  ("status", "Status"), ("name", "Name"))

    def __init__(self, model: StudyListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = StudyFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.sort_combo = QComboBox()
        for key, text in self.SORT_MODES:
            self.sort_combo.addItem(text, key)
        self.unconfirmed_check = QCheckBox("Unconfirmed only")
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(56)
        self.table.setIconSize(QSize(48, 48))
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        # Fixed widths, not ResizeToContents: that re-measures every row on every update,
        # which stalls the GUI for seconds during a large batch.
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in enumerate((0, 78, 92, 40, 70, 78)):
            if width:
                hh.resizeSection(col, width)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.cancel_button = QPushButton("Cancel")
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setObjectName("hint")
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.addWidget(QLabel("Sort:"))
        top.addWidget(self.sort_combo, 1)
        top.addWidget(self.unconfirmed_check)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.detail)
        self._progress = (0, 0)
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(150)
        self._progress_timer.timeout.connect(self._apply_progress)
        self.set_progress(0, 0)

        self.sort_combo.currentIndexChanged.connect(self._on_sort_changed)
        self.unconfirmed_check.toggled.connect(self.proxy.set_unconfirmed_only)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        model.dataChanged.connect(self._on_data_changed)

    # -- API ------------------------------------------------------------------------------
    def set_sort_mode(self, mode: str) -> None:
        i = self.sort_combo.findData(mode)
        self.sort_combo.setCurrentIndex(max(i, 0))
        self.proxy.set_sort_mode(self.sort_combo.currentData())

    def sort_mode(self) -> str:
        return str(self.sort_combo.currentData())

    def set_progress(self, done: int, total: int) -> None:
        """Show batch progress; throttled (a progress bar repaints synchronously on each value)."""
        self._progress = (done, total)
        busy = total > 0 and done < total
        if not busy or not self.progress.isVisible():
            self._apply_progress()
        elif not self._progress_timer.isActive():
            self._progress_timer.start()

    def _apply_progress(self) -> None:
        self._progress_timer.stop()
        done, total = self._progress
        busy = total > 0 and done < total
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def current_source_row(self) -> int:
        idx = self.table.currentIndex()
        return self.proxy.mapToSource(idx).row() if idx.isValid() else -1

    def select_source_row(self, row: int) -> bool:
        """Make source ``row`` current (False when the filter hides it)."""
        pidx = self.proxy.mapFromSource(self.model.index(row, 0))
        if not pidx.isValid():
            return False
        self.table.setCurrentIndex(pidx)
        self.table.scrollTo(pidx)
        return True

    def visible_source_rows(self) -> list[int]:
        """Source rows in the order the user sees them."""
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]

    def step(self, delta: int) -> None:
        """Move the selection ``delta`` rows in view order."""
        n = self.proxy.rowCount()
        if n == 0:
            return
        cur = self.table.currentIndex().row()
        target = 0 if cur < 0 else min(max(cur + delta, 0), n - 1)
        self.table.setCurrentIndex(self.proxy.index(target, 0))

    # -- slots ----------------------------------------------------------------------------
    @Slot(int)
    def _on_sort_changed(self, _index: int) -> None:
        self.proxy.set_sort_mode(self.sort_combo.currentData())
        cur = self.table.currentIndex()
        if cur.isValid():
            self.table.scrollTo(cur)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.proxy.mapToSource(current).row() if current.isValid() else -1
        self._update_detail(row)
        self.current_changed.emit(row)

    @Slot(QModelIndex, QModelIndex)
    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, _roles: Any = None) -> None:
        cur = self.current_source_row()
        if top.row() <= cur <= bottom.row():
            self._update_detail(cur)

    def _update_detail(self, row: int) -> None:
        if row < 0:
            self.detail.setText("")
            return
        r = self.model.rows[row]
        text = f"{r.path.name} — {r.status.value}"
        if r.error:
            text += f": {r.error}"
        elif r.gate_reason:
            text += f" ({r.gate_reason})"
        self.detail.setText(text)
