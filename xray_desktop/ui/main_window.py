"""The review workstation window: work list | viewer | AI + diagnosis panels."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from xray_desktop import settings as keys
from xray_desktop.records import StoreError
from xray_desktop.review import ReviewSession
from xray_desktop.ui.batch import BatchController
from xray_desktop.ui.diagnosis_panel import DiagnosisPanel
from xray_desktop.ui.dialogs import (
    ExportOptions,
)
from xray_desktop.ui.dicom_receive import ReceiveController
from xray_desktop.ui.image_view import ModelInputView
from xray_desktop.ui.menus import build_menus
from xray_desktop.ui.notify import Notifier
from xray_desktop.ui.prediction_panel import PredictionPanel
from xray_desktop.ui.review_keys import ReviewKeyFilter, build_shortcuts
from xray_desktop.ui.second_look import SecondLookActions
from xray_desktop.ui.settings_store import SettingsStore
from xray_desktop.ui.study_display import StudyDisplay, _Cached
from xray_desktop.ui.study_list import Status, StudyListModel
from xray_desktop.ui.study_list_panel import StudyListPanel
from xray_desktop.ui.study_view import StudyImages
from xray_desktop.ui.viewer_only import start_viewer_only
from xray_desktop.ui.viewer_panel import ViewerPanel
from xray_desktop.ui.window_actions import WindowActions
from xray_desktop.ui.workers import (
    ClassifierLike,
    InferenceService,
    LoadSignals,
    make_pool,
)

log = logging.getLogger(__name__)


class MainWindow(SecondLookActions, WindowActions, StudyDisplay, StudyImages, QMainWindow):
    """Wires the work list, viewer, AI panel and diagnosis panel to the workers and the store."""

    store_attached = Signal(object)  # a viewer-only window reached its database (ui/viewer_only.py)

    def __init__(self, settings: SettingsStore, store: Any,
                 classifier_factory: Callable[[], ClassifierLike] | None,
                 parent: QWidget | None = None, *, reconnect_to: Any = None, offline_reason: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("X-ray review")
        self.setAcceptDrops(True)
        self.settings, self.store = settings, store
        # Tests set this to skip the file dialog: returns the options, or None to cancel.
        self.export_options_provider: Callable[[], ExportOptions | None] | None = None
        # Tests set this to answer "quit and lose n unsaved drafts?" without a dialog.
        self.discard_drafts_provider: Callable[[int], bool] | None = None
        self._cache: OrderedDict[Path, _Cached] = OrderedDict()
        # The image of the current study on screen (its index in the row's images, its path),
        # whether the load awaited is the study's first view, and the image a prediction is for.
        self._image_idx = 0
        self._view_path: Path | None = None
        self._view_first = True
        self._pred_path: Path | None = None
        self._ai_path: Path | None = None  # the current study's AI image when it was last shown
        # What the reader is on, the operating point, drafts, the request ids awaited (review.py).
        self.session = ReviewSession()
        self._started = False

        self.model = StudyListModel(self)
        self.model.ai_shown = self.session.ai_visible  # read-first: the list asks the session's gate too
        self.list_panel = StudyListPanel(self.model)
        self.viewer = ViewerPanel()
        self.prediction_panel = PredictionPanel()
        self.prediction_panel.display_rule = self.session.ai_display  # the session's mode decides
        self.model_input_view = ModelInputView()
        self.diagnosis_panel = DiagnosisPanel()
        self.notifier = Notifier(self)  # every message to the user goes through here (ui/notify.py)
        self.inference = InferenceService(classifier_factory, self)
        self.batch = BatchController(self.model, self.inference, store, self)
        self.view_pool = make_pool(1)
        self.saver: Any = None  # both set by use_store (window_actions.py)
        self.reads_watch: Any = None
        self.view_signals = LoadSignals(self)
        self._build_layout()
        build_menus(self)
        self.shortcuts = build_shortcuts(self)
        self.model_status = QLabel("AI model: not started")
        self.statusBar().addPermanentWidget(self.model_status)
        self.receiver = ReceiveController(self, settings, self.batch.add_paths, self.statusBar())  # DICOM receive
        self._connect()
        self._restore_settings()
        self.key_filter = ReviewKeyFilter(self)  # review keys from anywhere in the window
        if store is not None:
            self.use_store(store)
        self.store_link: Any = None
        if store is None and reconnect_to is not None:  # its server is down: a viewer until it answers
            start_viewer_only(self, reconnect_to, offline_reason)

    # -- construction ---------------------------------------------------------------------
    def _build_layout(self) -> None:
        right_top = QWidget()
        rl = QVBoxLayout(right_top)
        rl.setContentsMargins(0, 0, 0, 0)
        # "What the model saw" right under the verdict, above the fold (issue 17.12).
        self.prediction_panel.insert_after_summary(self.model_input_view)
        rl.addWidget(self.prediction_panel)
        self.about_model_button = QPushButton("Model card and intended use…")
        self.about_model_button.clicked.connect(self.show_model_card)
        rl.addWidget(self.about_model_button)
        scroll = QScrollArea()
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # texts wrap instead
        self.ai_scroll = scroll
        scroll.setWidget(right_top)
        scroll.setWidgetResizable(True)
        # Without a horizontal scroll bar the column must never be narrower than the AI panel
        # (the operating-point buttons were cut off when a saved layout squeezed it).
        scroll.setMinimumWidth(right_top.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(scroll)
        self.right_splitter.addWidget(self.diagnosis_panel)
        self.right_splitter.setSizes([480, 300])
        self.right_splitter.setStretchFactor(0, 1)
        self.right_splitter.setCollapsible(1, False)  # the diagnosis form and Confirm always show
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.list_panel)
        self.splitter.addWidget(self.viewer)
        self.splitter.addWidget(self.right_splitter)
        self.splitter.setStretchFactor(0, 1)  # a wider screen shows more work-list columns...
        self.splitter.setStretchFactor(1, 3)  # ...and mostly a bigger image
        for i in range(3):
            self.splitter.setCollapsible(i, False)
        self.splitter.setSizes([440, 580, 340])
        self.setCentralWidget(self.splitter)
        self.resize(1366, 768)

    def _connect(self) -> None:
        self.list_panel.current_changed.connect(self._on_current_changed)
        self.list_panel.cancel_requested.connect(self.batch.cancel)
        self.model.rowsInserted.connect(self._on_rows_inserted)
        self.batch.progress_changed.connect(self.list_panel.set_progress)
        self.batch.row_loaded.connect(self._on_row_loaded)
        self.batch.study_changed.connect(self._on_study_changed)
        self.viewer.image_requested.connect(self.show_image)
        self.batch.skipped.connect(self._on_skipped)
        self.batch.finished.connect(self._on_batch_finished)
        self.view_signals.loaded.connect(self._on_view_loaded)
        self.view_signals.failed.connect(self._on_view_failed)
        self.inference.model_loaded.connect(self._on_model_loaded)
        self.inference.model_failed.connect(self._on_model_failed)
        self.inference.prediction_ready.connect(self._on_prediction_ready)
        self.inference.failed.connect(self._on_prediction_failed)
        self.prediction_panel.threshold_changed.connect(self._on_threshold_changed)
        self.prediction_panel.operating_point_changed.connect(self._on_operating_point_changed)
        self.prediction_panel.point_source_changed.connect(self._on_point_source_changed)
        self.prediction_panel.prevalence_changed.connect(self._on_prevalence_changed)
        self.diagnosis_panel.confirm_requested.connect(self.confirm)
        self.viewer.tags_requested.connect(self.show_tags)
        self.viewer.heatmap_opacity_changed.connect(lambda v: self.settings.set(keys.HEATMAP_OPACITY, v))
        self.viewer.metadata_toggled.connect(lambda on: self.settings.set(keys.METADATA_VISIBLE, on))
        self.list_panel.sort_combo.currentIndexChanged.connect(
            lambda _i: self.settings.set(keys.WORKLIST_SORT, self.list_panel.sort_mode()))
        self.list_panel.unconfirmed_check.toggled.connect(lambda on: self.settings.set(keys.UNCONFIRMED_ONLY, on))
        self.list_panel.second_look_combo.currentIndexChanged.connect(self.on_second_look_changed)

    def _restore_settings(self) -> None:
        s = self.settings
        for spec, restore in ((keys.GEOMETRY, self.restoreGeometry), (keys.WINDOW_STATE, self.restoreState),
                              (keys.SPLITTER, self.splitter.restoreState),
                              (keys.RIGHT_SPLITTER, self.right_splitter.restoreState),
                              (keys.WORKLIST_HEADER, self.list_panel.table.horizontalHeader().restoreState)):
            value = s.get(spec)
            if value is not None:
                restore(value)
        self.viewer.auto_heatmap = bool(s.get(keys.HEATMAP_VISIBLE))
        self.viewer.set_heatmap_opacity(s.get(keys.HEATMAP_OPACITY))
        self.viewer.set_metadata_visible(s.get(keys.METADATA_VISIBLE))
        self.prediction_panel.set_prevalence(s.get(keys.PREVALENCE))
        self.list_panel.set_sort_mode(s.get(keys.WORKLIST_SORT))
        self.list_panel.unconfirmed_check.setChecked(s.get(keys.UNCONFIRMED_ONLY))
        self.session.read_first = bool(s.get(keys.READ_FIRST))
        self.action_read_first.blockSignals(True)  # restoring is not the reader switching it
        self.action_read_first.setChecked(self.session.read_first)
        self.action_read_first.blockSignals(False)
        self.refresh_recent_menu()

    # -- start-up -------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._started:
            self._started = True
            self.list_panel.table.setFocus()  # keyboard-first: arrows and letters work at once
            # After the first paint: the window is on screen before TensorFlow is imported.
            QTimer.singleShot(0, self.start_inference)
            QTimer.singleShot(0, self.receiver.start_if_enabled)  # only when enabled in the settings

    def start_inference(self) -> None:
        """Load the model on the worker thread (idempotent)."""
        if self.inference.state == "idle":
            self.model_status.setText("AI model: loading…")
            self.notifier.notify("Loading the AI model…", 5000)
            self.prediction_panel.set_loading()
            self.inference.start()
        elif self.inference.state == "failed":
            assert self.inference.failure is not None  # "failed" always has one
            self._on_model_failed(self.inference.failure)

    # -- selection and viewing ------------------------------------------------------------
    @Slot(int)
    def _on_current_changed(self, row: int) -> None:
        self._keep_draft(self.session.row)
        focus = QApplication.focusWidget()
        if focus is not None and self.diagnosis_panel.isAncestorOf(focus):
            self.leave_text_field()  # never carry the reader's typing into the next study's form
        self.session.select(row, self.model.rows[row] if row >= 0 else None)  # earlier requests are stale now
        self.model.pin(row)  # results arriving for this row must not move it under the reader
        self.viewer.show_study(None, "")  # blank while loading, not the "drop files" hint
        self.model_input_view.set_input(None)
        self.prediction_panel.set_prediction(None)
        if row < 0:
            self.diagnosis_panel.setEnabled(False)
            self.viewer.show_study(None)
            return
        r = self.model.rows[row]
        self._refresh_diagnosis_panel(row, keep_input=False)
        self._image_idx = r.ai_index  # a study opens on the image the AI reads (the frontal)
        self._ai_path = r.path
        self._show_strip(row)
        if r.status == Status.ERROR:
            self.viewer.show_study(None, f"Cannot show {r.path.name}: {r.error}")
            return
        self._load_image(row, r.path, first=True)

    def _refresh_diagnosis_panel(self, row: int, keep_input: bool = True) -> None:
        r = self.model.rows[row]
        panel = self.diagnosis_panel
        # What the reader typed on this study survives a refresh (its key arriving, a confirm
        # elsewhere); a draft left earlier in the session comes back when they return to it.
        draft = (panel.state() if keep_input and panel.isEnabled() and panel.is_dirty()
                 else self.session.draft_for(r.home))
        panel.setEnabled(bool(r.key))
        history: list[Any] = []
        if r.read is not None and self.store is not None:
            try:
                history = self.store.history(r.key)
            except StoreError as exc:
                self.notifier.notify(f"Could not read the history: {exc}", 8000)
        panel.show_read(r.read, history)
        if draft is not None:
            panel.restore_draft(draft)
        panel.set_ai_label(self.session.shown_label(r))
        panel.set_stage(self.session.pending_role(r))  # read first: first impression, then the final

    @Slot(object, object, object)
    def _on_rows_inserted(self, *_args: Any) -> None:
        if self.list_panel.current_source_row() < 0:
            QTimer.singleShot(0, self._select_first_if_none)

    def _select_first_if_none(self) -> None:
        if self.list_panel.current_source_row() < 0:
            self.list_panel.step(0)

    # -- diagnosis ------------------------------------------------------------------------
    @Slot(int)
    def _on_skipped(self, n: int) -> None:
        self.notifier.notify(f"{n} non-image file{'s' if n != 1 else ''} skipped", 5000)

    @Slot()
    def _on_batch_finished(self) -> None:
        self.list_panel.set_progress(0, 0)

    # -- keys and closing -----------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._keep_draft(self.session.row)
        if self.session.drafts and not getattr(self, "_shut", False) and not self._discard_drafts_ok():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save the layout, stop every thread (idempotent). Reads are already committed."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self.key_filter.detach()
        s = self.settings
        s.set(keys.GEOMETRY, self.saveGeometry())
        s.set(keys.WINDOW_STATE, self.saveState())
        s.set(keys.SPLITTER, self.splitter.saveState())
        s.set(keys.RIGHT_SPLITTER, self.right_splitter.saveState())
        s.set(keys.WORKLIST_HEADER, self.list_panel.table.horizontalHeader().saveState())
        s.sync()
        if getattr(self, "site_window", None) is not None:
            self.site_window.shutdown()
        self.stop_second_look()
        self.receiver.shutdown()  # no more arrivals; the port is free when it returns
        self.view_pool.clear()  # first: its loads use the batch's reader connections
        self.view_pool.waitForDone(2000)
        if self.store_link is not None:
            self.store_link.stop()
        if self.reads_watch is not None:
            self.reads_watch.stop()
        self.batch.shutdown()
        self.inference.shutdown()
        if self.saver is not None:
            self.saver.close()  # a commit in flight completes first

