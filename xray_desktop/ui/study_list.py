"""The work-list model: one row per study (thumbnail bytes, metadata, prediction summary; never pixels).

The widget that shows it is in ``study_list_panel.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel

from xray_desktop import decision
from xray_desktop.domain import StudyMetadata
from xray_desktop.ui.thumbnails import ThumbnailCache

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
    thumbnail: bytes | None = None  # JPEG; a pixmap exists only while the row is near the screen
    probability: float | None = None
    gate_accepted: bool | None = None
    gate_reason: str = ""
    read: Any = None  # latest records.Read, or None
    warning: str = ""  # e.g. a UID collision (records.identity); shown on the row

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
        return decision.ai_label(self.probability, threshold, self.gate_accepted)


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
        proto = QStandardItem()  # cells the model creates on demand are clones of this one
        proto.setEditable(False)
        self.setItemPrototype(proto)
        self.rows: list[StudyRow] = []
        self._by_path: dict[Path, int] = {}
        self.threshold: float | None = None
        self.thumbs = ThumbnailCache()
        self._dirty: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)

    def _sync(self, row: int, columns: range | None = None) -> None:
        """Copy one row's values into its cells (signals are emitted by the caller).

        Through ``setItemData`` on indexes, not QStandardItem objects made in Python: those keep
        a Python wrapper alive per cell (6 per row, ~2 KB), the model creates plain C++ ones.
        """
        r = self.rows[row]
        tip = (f"{r.status.value}: {r.error}" if r.error
               else f"Input gate: {r.gate_reason}" if r.gate_reason else r.path.name)
        if r.warning:
            tip = f"⚠ {r.warning}\n{tip}"
        for col in columns or range(len(COLUMNS)):
            values: dict[int, Any] = {Qt.ItemDataRole.DisplayRole: self._display(r, col),
                                      Qt.ItemDataRole.ToolTipRole: tip}
            if col == 0:  # the thumbnail (DecorationRole) is set by show_thumbnails, not here
                usable = r.probability is not None and r.gate_accepted is not False
                values.update({ORDER_ROLE: r.order, PROB_ROLE: -r.probability if usable else 2.0,  # type: ignore[operator]
                               STATUS_ROLE: _STATUS_RANK[r.status] * 100_000 + r.order, NAME_ROLE: r.name.lower()})
            if col == 2:  # None (an invalid QVariant) removes the role: the default colour
                values[Qt.ItemDataRole.ForegroundRole] = _STATUS_BRUSH.get(r.status)
            self.setItemData(self.index(row, col), values)

    def _display(self, row: StudyRow, col: int) -> str:
        if col == 0:
            return f"⚠ {row.name} (UID collision)" if row.warning else row.name
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
            self._by_path[p] = start + i
            self.rows.append(StudyRow(path=p, order=start + i))
        # Insert empty rows, fill them quietly, then one dataChanged: the proxy sorts and
        # filters the new rows once, with their values.
        self.insertRows(start, len(fresh))
        self.blockSignals(True)
        try:
            for row in range(start, start + len(fresh)):
                self._sync(row)
        finally:
            self.blockSignals(False)
        self.dataChanged.emit(self.index(start, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))
        return list(range(start, start + len(fresh)))

    def set_thumbnail(self, row: int, data: bytes | None) -> None:
        """Give ``row`` new thumbnail bytes; its pixmap is made when the row is next on screen."""
        self.rows[row].thumbnail = data
        if self.thumbs.discard(row):
            self.setData(self.index(row, 0), None, Qt.ItemDataRole.DecorationRole)
        self.touch(row)

    def show_thumbnails(self, rows: list[int]) -> None:
        """Pixmaps for ``rows`` (those on screen); rows that fell out of the cache lose theirs."""
        added, evicted = self.thumbs.show(rows, lambda i: self.rows[i].thumbnail)
        if not added and not evicted:
            return
        deco = Qt.ItemDataRole.DecorationRole
        self.blockSignals(True)  # evicted rows are off screen: no repaint needed for them
        try:
            for row in evicted:
                self.setData(self.index(row, 0), None, deco)
            for row in added:
                self.setData(self.index(row, 0), self.thumbs.get(row), deco)
        finally:
            self.blockSignals(False)
        for row in added:
            idx = self.index(row, 0)
            self.dataChanged.emit(idx, idx, [deco])

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
