"""The work-list model: one row per study (thumbnail bytes, metadata, prediction summary; never pixels).

The widget that shows it is in ``study_list_panel.py``; the row itself is ``study_row.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel

from xray_desktop import decision
from xray_desktop.io.studies import ImageStudy, merge_studies
from xray_desktop.review import is_final
from xray_desktop.ui.study_row import DONE, Status, StudyRow  # noqa: F401 - importable from here too
from xray_desktop.ui.thumbnails import ThumbnailCache

Index = QModelIndex | QPersistentModelIndex


# Status sort: things needing the reader first, finished or broken last.
_STATUS_RANK = {
    Status.AI_READY: 0, Status.REJECTED: 1, Status.OUT_OF_SCOPE: 1, Status.LOADED: 2, Status.ANALYSING: 3,
    Status.LOADING: 4, Status.QUEUED: 5, Status.CANCELLED: 6, Status.ERROR: 7, Status.CONFIRMED: 8,
}
_ORANGE = QBrush(QColor(240, 180, 90))
_STATUS_BRUSH = {Status.ERROR: QBrush(QColor(239, 107, 107)), Status.REJECTED: _ORANGE, Status.OUT_OF_SCOPE: _ORANGE,
                 Status.CONFIRMED: QBrush(QColor(120, 200, 130))}

COLUMNS = ("Study", "Date", "Status", "AI %", "AI label", "Final", "Images")
ORDER_ROLE = Qt.ItemDataRole.UserRole + 1
PROB_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3
NAME_ROLE = Qt.ItemDataRole.UserRole + 4
DATE_ROLE = Qt.ItemDataRole.UserRole + 5
FINAL_ROLE = Qt.ItemDataRole.UserRole + 6
SORT_ROLES = {"added": ORDER_ROLE, "probability": PROB_ROLE, "status": STATUS_ROLE, "name": NAME_ROLE,
              "date": DATE_ROLE, "final": FINAL_ROLE}
# Clicking a column header sorts by it (the sort itself always runs on column 0's roles).
COLUMN_SORT = {0: "name", 1: "date", 2: "status", 3: "probability", 4: "probability", 5: "final"}
_TIE = 1e-12  # sort keys carry the opening order as a tie-break, so equal keys never swap
FLUSH_MS = 100
LABEL_TEXT = {"PNEUMONIA": "Pneumonia", "NORMAL": "Normal", "": "—"}
# Read-first mode: statuses that would tell something of the AI's answer show this instead.
AI_HIDDEN = "AI hidden"
_AI_STATUSES = (Status.AI_READY, Status.REJECTED, Status.OUT_OF_SCOPE)


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
        self._by_path: dict[Path, int] = {}  # every image of every study
        self._by_key: dict[str, int] = {}  # study key -> row
        self.threshold: float | None = None
        self.pinned = -1  # the row the reader is on: its sort keys are frozen so it never moves
        self.thumbs = ThumbnailCache()
        # Whether a row's AI answer may be shown (read-first mode); the window hands it
        # ReviewSession.ai_visible, so the list asks the same gate as the AI panel and the viewer.
        self.ai_shown: Callable[[StudyRow], bool] = lambda _r: True
        self.changed_keys: set[str] = set()  # studies whose read-first final changed after the AI
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
        shown = self.ai_shown(r)
        tip = f"{r.status.value}: {r.error}" if r.error else (r.withheld() if shown else "") or r.path.name
        if r.warning:
            tip = f"⚠ {r.warning}\n{tip}"
        for col in columns or range(len(COLUMNS)):
            display = self._display(r, col, shown)
            cell_tip = f"{display}\n{tip}" if col in (0, 1, 2, 4) else tip
            if col == 6:  # which image the AI read and why: a gate refusal is part of the AI's answer
                cell_tip = f"{len(r.images) or 1} image(s): {r.study.views if r.study else '?'}"
                cell_tip += f"\n{r.ai_reason}" if shown else ""
            values: dict[int, Any] = {Qt.ItemDataRole.DisplayRole: display, Qt.ItemDataRole.ToolTipRole: cell_tip}
            if col == 0 and row != self.pinned:  # the thumbnail (DecorationRole) is set by show_thumbnails
                values.update(self.sort_keys(r, shown))
            if col == 2:  # None (an invalid QVariant) removes the role: the default colour
                hidden = not shown and r.status in _AI_STATUSES
                values[Qt.ItemDataRole.ForegroundRole] = None if hidden else _STATUS_BRUSH.get(r.status)
            self.setItemData(self.index(row, col), values)

    @staticmethod
    def sort_keys(r: StudyRow, shown: bool = True) -> dict[int, Any]:
        """The sort roles of a row; every key ends in the opening order, so ties keep that order.

        With the AI hidden (``shown`` False: read first) the probability and the AI statuses
        sort as "not analysed yet", so the order tells nothing of the answer.
        """
        v = r.verdict(None)
        final = (str(getattr(r.read.final_diagnosis, "value", r.read.final_diagnosis)) if is_final(r.read)
                 else "~")
        # Assessed studies by falling probability, then the ones without an AI call (refused,
        # out of scope, not yet analysed) in the order they were opened.
        prob = -v.probability if v.probability is not None and shown else 2.0
        rank = _STATUS_RANK[Status.AI_READY if not shown and r.status in _AI_STATUSES else r.status]
        return {ORDER_ROLE: r.order, PROB_ROLE: prob + r.order * _TIE,
                STATUS_ROLE: rank * 100_000 + r.order,
                NAME_ROLE: f"{r.name.lower()}\0{r.order:09d}",
                DATE_ROLE: f"{r.metadata.study_date if r.metadata else ''}\0{r.order:09d}",
                FINAL_ROLE: f"{final}\0{r.order:09d}"}

    @staticmethod
    def status_text(row: StudyRow, shown: bool = True) -> str:
        """The status as the list shows it: "AI hidden" where it would tell of the AI's answer."""
        return AI_HIDDEN if not shown and row.status in _AI_STATUSES else row.status.value

    def _display(self, row: StudyRow, col: int, shown: bool = True) -> str:
        if col == 0:
            return f"⚠ {row.name} (UID collision)" if row.warning else row.name
        if col == 1:
            d = row.metadata.study_date if row.metadata else ""
            return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d
        if col == 2:
            return self.status_text(row, shown)
        if not shown and col in (3, 4):
            return ""
        v = row.verdict(self.threshold)
        if col == 3:
            return decision.format_percent_short(v.probability) if v.assessed else ("—" if v.reason else "")
        if col == 4:
            if not v.assessed:
                return "" if not v.reason else (decision.out_of_scope_text(row.out_of_scope)
                                                if row.gate_accepted is not False else decision.NOT_ASSESSED)
            return LABEL_TEXT[v.label] if v.probability is not None else ""
        if col == 5 and is_final(row.read):  # a first impression is not the final diagnosis
            return str(getattr(row.read.final_diagnosis, "value", row.read.final_diagnosis)).capitalize()
        if col == 6:
            return row.images_text()
        return ""

    # -- mutation (GUI thread only) --------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> list[int]:
        """Append a row (a study of one file, nothing chosen yet) per path not yet listed."""
        fresh = [Path(p) for p in dict.fromkeys(paths) if Path(p) not in self._by_path]
        return self._append([StudyRow(path=p, order=0) for p in fresh])

    def add_studies(self, studies: list[ImageStudy]) -> list[int]:
        """Append a row per study, its AI image chosen; files already listed are left out."""
        rows: list[StudyRow] = []
        for st in studies:
            images = tuple(i for i in st.images if i.path not in self._by_path)
            if images:
                r = StudyRow(path=images[0].path, order=0,
                             study=st if len(images) == len(st.images) else replace(st, images=images))
                r.choose()
                r.home = r.path
                rows.append(r)
        return self._append(rows)

    def _append(self, new: list[StudyRow]) -> list[int]:
        if not new:
            return []
        start = len(self.rows)
        for i, r in enumerate(new):
            r.order = start + i
            self.rows.append(r)
            self._index(start + i)
        # Insert empty rows, fill them quietly, then one dataChanged: the proxy sorts and
        # filters the new rows once, with their values.
        self.insertRows(start, len(new))
        self.blockSignals(True)
        try:
            for row in range(start, start + len(new)):
                self._sync(row)
        finally:
            self.blockSignals(False)
        self.dataChanged.emit(self.index(start, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))
        return list(range(start, start + len(new)))

    def _index(self, row: int) -> None:
        r = self.rows[row]
        self._by_path[r.path] = row
        for im in r.images:
            self._by_path[im.path] = row
        if r.study is not None and r.study.key:
            self._by_key.setdefault(r.study.key, row)

    def join(self, row: int, study: ImageStudy) -> bool:
        """Add the images of ``study`` (found later) to ``row``'s study; True when its AI image changed.

        The caller re-analyses a changed row that is not confirmed (a PA arriving after a lateral).
        """
        r = self.rows[row]
        assert r.study is not None
        r.study = merge_studies(r.study, study)
        self._index(row)
        changed = r.choose() if r.read is None else False
        self.touch(row)
        return changed

    def row_of_study(self, key: str) -> int | None:
        """The row of the study keyed ``key`` (StudyInstanceUID, a single file's SHA-256)."""
        return self._by_key.get(key) if key else None

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

    def pin(self, row: int) -> None:
        """Freeze ``row``'s sort position while the reader is on it; the previous one re-sorts now."""
        old, self.pinned = self.pinned, row
        if 0 <= old < len(self.rows) and old != row:
            self.touch(old)

    def resort_pinned(self) -> None:
        """The reader asked for a new order: the row they are on takes its true place too."""
        if 0 <= self.pinned < len(self.rows):
            r = self.rows[self.pinned]
            self.setItemData(self.index(self.pinned, 0), self.sort_keys(r, self.ai_shown(r)))

    def refresh_all(self) -> None:
        """Re-copy every row (the reader switched read-first mode): a user action, not a hot path."""
        self._dirty.update(range(len(self.rows)))
        self.flush()

    def set_threshold(self, threshold: float | None) -> None:
        """The AI label column depends on the threshold; refresh it."""
        self.threshold = threshold
        if self.rows:
            self.blockSignals(True)
            try:
                for r in range(len(self.rows)):
                    self._sync(r, range(4, 5))  # _sync asks ai_shown: a hidden answer stays hidden
            finally:
                self.blockSignals(False)
            self.dataChanged.emit(self.index(0, 4), self.index(len(self.rows) - 1, 4))
