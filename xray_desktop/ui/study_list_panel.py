"""The work-list widget: sort and filter controls, the table, batch progress, and thumbnails that follow the screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QSize, QSortFilterProxyModel, Qt, QTimer, Signal, Slot
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

from xray_desktop.review import SECOND_LOOK, next_to_read, second_look
from xray_desktop.ui.study_list import COLUMN_SORT, ORDER_ROLE, SORT_ROLES, Index, Status, StudyListModel

THUMB_REFRESH_MS = 30
THUMB_MARGIN_ROWS = 10


class StudyFilterProxy(QSortFilterProxyModel):
    """Sorting by a role, the 'unconfirmed only' filter and the second-look filter (``review.second_look``)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._unconfirmed_only = False
        self.second_look = "all"
        self.setDynamicSortFilter(True)
        self.setSortRole(ORDER_ROLE)

    def set_unconfirmed_only(self, on: bool) -> None:
        self.beginFilterChange()
        self._unconfirmed_only = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_second_look(self, mode: str) -> None:
        """Show all studies, or only those for a second look ("disagree", "changed")."""
        self.beginFilterChange()
        self.second_look = mode if mode in SECOND_LOOK else "all"
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_sort_mode(self, mode: str, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.setSortRole(SORT_ROLES.get(mode, ORDER_ROLE))
        self.sort(0, order)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._unconfirmed_only and self.second_look == "all":
            return True
        model = self.sourceModel()
        assert isinstance(model, StudyListModel)
        r = model.rows[source_row]  # what the row holds: no database query here
        if self._unconfirmed_only and r.status == Status.CONFIRMED:
            return False
        return second_look(self.second_look, r.read, r.key, model.changed_keys)


class StudyListPanel(QWidget):
    """Sort/filter controls, the table, the batch progress bar and a detail line."""

    current_changed = Signal(int)  # source row now current (-1: none)
    cancel_requested = Signal()  # the user pressed Cancel on the batch

    SORT_MODES = (("added", "Order opened"), ("probability", "Most suspicious first"),
                  ("status", "Status"), ("name", "Name"), ("date", "Study date"), ("final", "Final diagnosis"))

    def __init__(self, model: StudyListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = StudyFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.sort_combo = QComboBox()
        for key, text in self.SORT_MODES:
            self.sort_combo.addItem(text, key)
        self.unconfirmed_check = QCheckBox("Unconfirmed only")
        self.second_look_combo = QComboBox()  # the second-look queue (issue #12)
        for key, text in SECOND_LOOK.items():
            self.second_look_combo.addItem(text, key)
        self.second_look_combo.setToolTip("Second look: studies where the confirmed call and the AI label "
                                          "recorded with it disagree, or where the reader changed the call "
                                          "after seeing the AI (read-first mode)")
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
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keeps the end of long names readable
        hh = self.table.horizontalHeader()
        # Fixed widths, not ResizeToContents: that re-measures every row on every update,
        # which stalls the GUI for seconds during a large batch. Sized from the font, for the
        # longest text each column shows (tooltips carry the rest).
        # The Study column keeps room for a name; in a narrow list the last columns scroll.
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setMinimumSectionSize(36)
        fm = self.table.fontMetrics()
        for col, sample in ((0, "MMMMMMMMMMMMMM"), (1, "2026-12-04"), (2, "not analysed"), (3, "> 99.9"),
                            (4, "Not assessed"), (5, "Indeterminate"), (6, "2 PA/LL")):
            hh.resizeSection(col, fm.horizontalAdvance(sample) + 18 + (52 if col == 0 else 0))
        # On screen: Study, AI %, AI label, Images, Status, Final, Date — what triage needs first
        # stays visible in a narrow list (the model's column numbers do not change).
        for visual, col in enumerate((0, 3, 4, 6, 2, 5, 1)):
            hh.moveSection(hh.visualIndex(col), visual)
        hh.setSectionsClickable(True)
        hh.setSortIndicatorShown(True)
        hh.sectionClicked.connect(self._on_header_clicked)
        self._order = Qt.SortOrder.AscendingOrder
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
        second = QHBoxLayout()
        second.addWidget(QLabel("Show:"))
        second.addWidget(self.second_look_combo, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addLayout(second)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.detail)
        self._progress = (0, 0)
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(150)
        self._progress_timer.timeout.connect(self._apply_progress)
        self.set_progress(0, 0)
        # Thumbnails follow the screen: coalesced, so a scroll or a batch flush refreshes once.
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(THUMB_REFRESH_MS)
        self._thumb_timer.timeout.connect(self.refresh_thumbnails)
        for sig in (self.table.verticalScrollBar().valueChanged, self.table.verticalScrollBar().rangeChanged,
                    self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.layoutChanged,
                    self.proxy.modelReset):
            sig.connect(self._schedule_thumbnails)
        self.table.viewport().installEventFilter(self)

        self.sort_combo.currentIndexChanged.connect(self._on_sort_changed)
        self.unconfirmed_check.toggled.connect(self.proxy.set_unconfirmed_only)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        model.dataChanged.connect(self._on_data_changed)

    # -- API ------------------------------------------------------------------------------
    def set_sort_mode(self, mode: str) -> None:
        i = self.sort_combo.findData(mode)
        self.sort_combo.setCurrentIndex(max(i, 0))
        self._order = Qt.SortOrder.AscendingOrder
        self._apply_sort()

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

    def _view_pos(self, row: int) -> int:
        return self.proxy.mapFromSource(self.model.index(row, 0)).row() if 0 <= row < len(self.model.rows) else -1

    def _source_at(self, pos: int) -> int:
        return self.proxy.mapToSource(self.proxy.index(pos, 0)).row()

    def row_below(self, row: int) -> int:
        """The source row shown just below ``row``; -1 at the end or when ``row`` is filtered out."""
        pos = self._view_pos(row)
        return self._source_at(pos + 1) if 0 <= pos < self.proxy.rowCount() - 1 else -1

    def rows_after(self, row: int) -> Iterator[int]:
        """Source rows after ``row`` in view order, wrapping round, never ``row`` itself (lazily)."""
        n, pos = self.proxy.rowCount(), self._view_pos(row)
        positions = ((pos + 1 + i) % n for i in range(n - 1)) if pos >= 0 else iter(range(n))
        return (self._source_at(p) for p in positions)

    def next_row_where(self, row: int, wanted: Callable[[int], bool]) -> int:
        """The first source row after ``row`` in view order, wrapping round, with ``wanted(row)``; -1 if none.

        Walks only as far as it must: confirming a study in a list of thousands stays O(1).
        """
        return next_to_read(self.rows_after(row), wanted)

    def rows_near_screen(self, margin: int = THUMB_MARGIN_ROWS) -> list[int]:
        """Source rows on screen, plus ``margin`` rows either side, in view order."""
        n = self.proxy.rowCount()
        top = self.table.rowAt(0)
        if n == 0 or top < 0:
            return []
        bottom = self.table.rowAt(max(self.table.viewport().height() - 1, 0))
        bottom = n - 1 if bottom < 0 else bottom
        lo, hi = max(top - margin, 0), min(bottom + margin, n - 1)
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(lo, hi + 1)]

    @Slot()
    def refresh_thumbnails(self) -> None:
        """Give the rows near the screen their pixmaps (the cache drops the oldest others)."""
        self._thumb_timer.stop()
        self.model.show_thumbnails(self.rows_near_screen())

    def step(self, delta: int) -> None:
        """Move the selection ``delta`` rows in view order."""
        n = self.proxy.rowCount()
        if n == 0:
            return
        cur = self.table.currentIndex().row()
        target = 0 if cur < 0 else min(max(cur + delta, 0), n - 1)
        self.table.setCurrentIndex(self.proxy.index(target, 0))

    # -- slots ----------------------------------------------------------------------------
    def eventFilter(self, watched: Any, event: Any) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):  # the viewport shows more or fewer rows
            self._schedule_thumbnails()
        return super().eventFilter(watched, event)

    @Slot()
    def _schedule_thumbnails(self, *_args: Any) -> None:
        if not self._thumb_timer.isActive():
            self._thumb_timer.start()

    @Slot(int)
    def _on_sort_changed(self, _index: int) -> None:
        self._order = Qt.SortOrder.AscendingOrder
        self._apply_sort()

    @Slot(int)
    def _on_header_clicked(self, col: int) -> None:
        """A click on a column header sorts by that column; a second click reverses it."""
        mode = COLUMN_SORT.get(col, "added")
        if mode == self.sort_mode():
            self._order = (Qt.SortOrder.DescendingOrder if self._order == Qt.SortOrder.AscendingOrder
                           else Qt.SortOrder.AscendingOrder)
            self._apply_sort()
        else:
            self.sort_combo.setCurrentIndex(max(self.sort_combo.findData(mode), 0))  # sorts ascending

    def _apply_sort(self) -> None:
        mode = self.sort_mode()
        self.model.resort_pinned()
        self.proxy.set_sort_mode(mode, self._order)
        col = next((c for c, m in COLUMN_SORT.items() if m == mode), -1)
        hh = self.table.horizontalHeader()
        hh.blockSignals(True)
        hh.setSortIndicatorShown(col >= 0)
        hh.setSortIndicator(max(col, 0), self._order)
        hh.blockSignals(False)
        cur = self.table.currentIndex()
        if cur.isValid():
            self.table.scrollTo(cur)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.proxy.mapToSource(current).row() if current.isValid() else -1
        self._update_detail(row)
        self.current_changed.emit(row)

    @Slot(QModelIndex, QModelIndex)
    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: Any = None) -> None:
        if list(roles or []) != [Qt.ItemDataRole.DecorationRole]:  # not our own pixmap update
            self._schedule_thumbnails()  # a row may have new thumbnail bytes
        cur = self.current_source_row()
        if top.row() <= cur <= bottom.row():
            self._update_detail(cur)

    def _update_detail(self, row: int) -> None:
        if row < 0:
            self.detail.setText("")
            return
        r = self.model.rows[row]
        text = f"{r.path.name} — {self.model.status_text(r, self.model.ai_shown(r))}"
        if r.error:
            text += f": {r.error}"
        elif r.withheld() and self.model.ai_shown(r):  # the gate's reason is part of the AI's answer
            text += f" — {r.withheld()}"
        self.detail.setText(text)
