"""The main window's actions: reviewer, opening (dialogs, drops), confirming, drafts, the model's state, export, help.

A mixin of :class:`~xray_desktop.ui.main_window.MainWindow`, kept apart so that the window
module stays about layout and wiring; every method here uses only the window's attributes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog

from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis, WorkerFailure
from xray_desktop.records import StoreError, dialect
from xray_desktop.records.export import export_reads
from xray_desktop.records.identity import COLLISION_WARNING
from xray_desktop.records.reads import FIRST_IMPRESSION
from xray_desktop.review import NotReady, ReviewSession, form_problem, wants_reading
from xray_desktop.ui.dialogs import (
    ExportDialog,
    ReviewerDialog,
    TagsDialog,
    TextDialog,
    model_card_html,
    shortcuts_html,
)
from xray_desktop.ui.reads_watch import ReadsWatcher, apply_arrived
from xray_desktop.ui.review_keys import is_typing
from xray_desktop.ui.study_list import Status
from xray_desktop.ui.viewer_only import refusal
from xray_desktop.ui.workers import ReadSaver

log = logging.getLogger(__name__)


class WindowActions:
    """Mixin: user actions of the review window (see the module docstring)."""

    # Attributes provided by MainWindow (declared for readers and type checkers).
    settings: Any
    store: Any
    model: Any
    list_panel: Any
    viewer: Any
    diagnosis_panel: Any
    prediction_panel: Any
    inference: Any
    batch: Any
    export_options_provider: Any
    session: ReviewSession
    _cache: Any
    model_status: Any
    receiver: Any  # ui.dicom_receive.ReceiveController
    discard_drafts_provider: Any
    store_link: Any  # ui/viewer_only.py: retrying the reads database (None when it is attached)

    def ensure_reviewer(self) -> str:
        """The reviewer's name, asking for it once when it is not set."""
        name = self.settings.get(keys.REVIEWER).strip()
        if not name:
            name = self.change_reviewer()
        return name

    def change_reviewer(self) -> str:
        dlg = ReviewerDialog(self.settings.get(keys.REVIEWER), self)
        if dlg.exec() and dlg.name():
            self.settings.set(keys.REVIEWER, dlg.name())
            self.settings.sync()
            self.notifier.notify(f"Reviewer: {dlg.name()}", 4000)
        self.activateWindow()  # the reading keys' shortcuts need the window active again
        return self.settings.get(keys.REVIEWER).strip()

    def choose_database(self) -> None:
        """File -> Reads database...: the SQLite file or PostgreSQL URL used from the next start."""
        current = str(self.settings.get(keys.DB_LOCATION))
        text, ok = QInputDialog.getText(
            self, "Reads database", "An SQLite file, or postgresql://USER@HOST/DATABASE (the password goes in "
            "~/.pgpass).\nEmpty: the default. Used from the next start.", text=current)
        self.activateWindow()
        if not ok or text.strip() == current:
            return
        problem = dialect.setting_problem(text.strip())
        if problem:
            self.notifier.message_box("Reads database", f"Not saved: {problem}", warning=True)
            return
        self.settings.set(keys.DB_LOCATION, text.strip() or None)
        self.settings.sync()
        override = " (XRAY_DESKTOP_DB overrides it on this machine)" if os.environ.get(keys.ENV_DB) else ""
        self.notifier.notify(f"Reads database saved: used from the next start{override}", 6000)

    def configure_receive(self) -> None:
        """File -> DICOM receive…: AE title, port, interface, allowed callers, folder, on/off."""
        self.receiver.configure()

    def open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open studies", self.settings.get(keys.LAST_DIR),
                                                "Images (*.dcm *.dicom *.png *.jpg *.jpeg);;All files (*)")
        if files:
            self.settings.set(keys.LAST_DIR, str(Path(files[0]).parent))
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.settings.get(keys.LAST_DIR))
        if folder:
            self.settings.set(keys.LAST_DIR, folder)
            self.open_paths([folder])

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open files and folders exactly as a drop does."""
        paths = [Path(p) for p in paths if str(p)]
        if not paths:
            return
        for p in paths:
            if p.is_dir():
                self._remember_folder(p)
        self.batch.add_paths(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def _remember_folder(self, folder: Path) -> None:
        recent = [f for f in self.settings.get(keys.RECENT_FOLDERS) if f != str(folder)]
        self.settings.set(keys.RECENT_FOLDERS, [str(folder), *recent][:8])
        self.refresh_recent_menu()

    def refresh_recent_menu(self) -> None:
        menu = getattr(self, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        for folder in self.settings.get(keys.RECENT_FOLDERS):
            menu.addAction(folder, lambda f=folder: self.open_paths([f]))
        menu.setEnabled(bool(menu.actions()))

    def _set_diagnosis(self, d: Diagnosis) -> None:
        if self.diagnosis_panel.isEnabled():
            self.diagnosis_panel.set_diagnosis(d)

    def confirm(self) -> bool:
        """Save the read now (committed before anything else happens) and go to the next study."""
        row, panel = self.session.row, self.diagnosis_panel
        if row >= 0 and panel.isEnabled() and self.saver is None and self.store_link is not None:
            self.notifier.notify(refusal(self), 0, dialog=True, title="Diagnosis not saved",
                                 log_text="confirm refused: viewer only, reads database unreachable",
                                 level=logging.WARNING)
            return False
        if row < 0 or not panel.isEnabled() or self.saver is None or self.saver.saving:  # one save at a time
            return False
        draft = panel.state()
        problem = form_problem(draft)
        if problem:  # before asking for a name: the form is what the reader must fix
            self.notifier.notify(problem, 5000)
            return False
        try:  # the session decides what is recorded (no AI fields for a refused study)
            read_input = self.session.read_input(self.ensure_reviewer(), draft)
        except NotReady as exc:
            self.notifier.notify(str(exc), 5000)
            return False
        r = self.model.rows[row]
        try:
            read = self.saver.save(read_input)  # durable on return; the window keeps painting meanwhile
        except StoreError as exc:  # the form keeps its values: the reader can try again
            self.notifier.notify(f"The diagnosis could not be saved: {exc}", 0, dialog=True,
                                 title="Diagnosis not saved", log_text=f"saving a read failed: {exc}",
                                 level=logging.ERROR)
            return False
        self.session.saved(r.home)
        panel.mark_saved()  # moving on must not keep the saved values as a "draft"
        self.leave_text_field()  # the next study's "n" must not go into this one's note
        if read.study_key != r.key:  # the store found the UID taken by other content meanwhile
            r.key, r.warning = read.study_key, COLLISION_WARNING
        if read.role == FIRST_IMPRESSION:  # read first: the AI is revealed, the final call is next
            self.first_impression_saved(row, read)
            return True
        self.final_saved(r.read, read)
        # The next study to read, in the order on screen before this one's new status re-sorts it.
        nxt = self.list_panel.next_row_where(row, self._wants_reading)  # the session's rule, the panel's order
        r.read, r.status = read, Status.CONFIRMED
        self.model.touch(row)
        self.model.flush()  # show it at once: the reader's action, not a batch update
        self.notifier.notify(f"Saved: {read.final_diagnosis.value.capitalize()} — {r.name}", 4000)
        self._go_to_next_unconfirmed(row, nxt)
        return True

    def use_store(self, store: Any, since: int | None = None) -> None:
        """Save reads to ``store`` and watch it for reads confirmed elsewhere (from id ``since``:
        None, its head now; 0, every read, for a window that started without it)."""
        self.store = self.batch.store = store
        self.saver = ReadSaver(store.path)
        self.reads_watch = ReadsWatcher(store, self, since=since) if hasattr(store, "reader") else None
        if self.reads_watch is not None:  # reads confirmed on other workstations (department mode)
            self.reads_watch.arrived.connect(self.on_reads_arrived)
            self.reads_watch.caught_up.connect(self.on_reads_caught_up)  # only when started ``since``
            self.reads_watch.start()

    def on_reads_caught_up(self, reads: list[Any]) -> None:
        """Every read stored while the window had no database: rows shown meanwhile learn of theirs."""
        rows = apply_arrived(self.model.rows, reads)
        for row in rows:
            self.model.touch(row)
        self.model.flush()
        if self.session.row in rows:
            self._refresh_diagnosis_panel(self.session.row)
        log.info("caught up on %d reads after connecting (%d rows confirmed)", len(reads), len(rows))

    def on_reads_arrived(self, reads: list[Any]) -> None:
        """Reads confirmed elsewhere (``ui/reads_watch.py``): their rows show as confirmed at once."""
        if self.saver is not None and self.saver.saving:  # our own read may be among them: after it lands
            QTimer.singleShot(50, lambda: self.on_reads_arrived(reads))
            return
        rows = apply_arrived(self.model.rows, reads)
        for row in rows:
            self.model.touch(row)
        if rows:
            who = sorted({self.model.rows[row].read.reviewer for row in rows})
            self.notifier.notify(f"{len(rows)} stud{'y' if len(rows) == 1 else 'ies'} confirmed on another "
                                 f"workstation ({', '.join(who)})", 5000)

    def _wants_reading(self, row: int) -> bool:
        status = self.model.rows[row].status
        return wants_reading(confirmed=status == Status.CONFIRMED, failed=status == Status.ERROR)

    def _go_to_next_unconfirmed(self, row: int, nxt: int) -> None:
        if nxt >= 0:
            self.list_panel.select_source_row(nxt)
            return
        self.notifier.notify("All studies in the list are confirmed", 6000)
        if not self.list_panel.select_source_row(row):
            self._on_current_changed(self.list_panel.current_source_row())
        else:
            self._refresh_diagnosis_panel(row)

    # -- drafts ---------------------------------------------------------------------------
    def _keep_draft(self, row: int) -> None:
        panel = self.diagnosis_panel
        if 0 <= row < len(self.model.rows) and panel.isEnabled() and panel.is_dirty():
            r = self.model.rows[row]
            self.session.keep_draft(r.home, panel.state())
            self.notifier.notify(f"Unsaved draft kept for {r.name} (this session only)", 5000)

    def _discard_drafts_ok(self) -> bool:
        n = len(self.session.drafts)
        if self.discard_drafts_provider is not None:
            return self.discard_drafts_provider(n)
        return self.notifier.ask(
            "Unsaved drafts",
            f"{n} stud{'ies have' if n != 1 else 'y has'} an unconfirmed draft that will be lost. Quit anyway?")

    # -- model ----------------------------------------------------------------------------
    @Slot(object)
    def _on_model_loaded(self, info: Any) -> None:
        s = self.settings
        self.session.model_ready(info.version, info.sha256)
        # Per model (by SHA-256): a threshold chosen for one model never applies to another.
        self.prediction_panel.set_card(
            info.card, info.version,
            threshold=s.get_optional_float(keys.model_setting_key(keys.THRESHOLD, info.card.sha256)),
            op_name=s.get(keys.model_setting_key(keys.OPERATING_POINT, info.card.sha256)),
            site_profile=getattr(info, "site_profile", None),  # the points' source: card or this site's
            source=s.get(keys.model_setting_key(keys.POINT_SOURCE, info.card.sha256)))
        self.model_status.setText(f"AI model: {info.card.name} {info.version}")
        self.notifier.notify("AI model ready", 4000)
        self.model.set_threshold(self.prediction_panel.threshold())
        row = self.session.row
        if row >= 0 and not self.session.pred_rid:
            r = self.model.rows[row]
            cached = self._cache.get(r.path)
            if cached is not None and cached.prediction is None and not r.no_frontal:
                self._pred_path = r.path
                self.session.expect_prediction(self.inference.request(cached.study, heatmap=True))

    @Slot(object)
    def _on_model_failed(self, failure: WorkerFailure) -> None:
        text = failure.message  # final: shown as-is, never re-prefixed
        self.prediction_panel.set_unavailable(text)
        self.model_status.setText("AI unavailable")
        self.model_status.setToolTip(text)
        self.notifier.notify(f"{text} — the viewer still works", 15000)

    @Slot(float)
    def _on_threshold_changed(self, threshold: float) -> None:
        # The panel's controls are a view: the session holds the operating point in force.
        self.session.set_operating_point(threshold, self.prediction_panel.operating_point_name())
        self.model.set_threshold(threshold)
        self._set_model_setting(keys.THRESHOLD, threshold)
        if self.session.row >= 0:
            label = self.session.verdict().label
            self.diagnosis_panel.set_ai_label(self.session.shown_label())
            self.viewer.set_heatmap_positive(label == "PNEUMONIA")

    @Slot(str)
    def _on_operating_point_changed(self, name: str) -> None:
        self._set_model_setting(keys.OPERATING_POINT, name)

    @Slot(str)
    def _on_point_source_changed(self, kind: str) -> None:
        self._set_model_setting(keys.POINT_SOURCE, kind)

    def _set_model_setting(self, spec: tuple[str, Any], value: object) -> None:
        card = self.prediction_panel.card
        if card is not None:  # no model, no per-model setting to keep
            self.settings.set(keys.model_setting_key(spec, card.sha256), value)

    @Slot(float)
    def _on_prevalence_changed(self, fraction: float) -> None:
        self.settings.set(keys.PREVALENCE, fraction)

    # -- dialogs and menu actions ---------------------------------------------------------
    def show_tags(self) -> None:
        study = self.viewer.view.study() if self.session.row >= 0 else None  # the image on screen
        TagsDialog(study.tags if study is not None else [], self).exec()

    def show_model_card(self) -> None:
        info = self.inference.info
        if info is None:
            html = f"<p>{self.inference.error or 'AI model unavailable: the model is still loading'}</p>"
        else:
            html = model_card_html(info.card, info.version, info.sha256)
        TextDialog("About the AI model", html, self).exec()

    def show_site_performance(self) -> Any:
        """Help → Site performance…: the site report of the model in use (computed on a worker)."""
        from xray_desktop.ui.site_window import SiteWindow

        info = self.inference.info
        if info is None:
            self.notifier.notify("The site report needs the AI model's card: "
                                 f"{self.inference.error or 'the model is still loading'}", 8000)
            return None
        win = getattr(self, "site_window", None)
        if win is None or win.card is not info.card:
            win = SiteWindow(self.store, info.card, getattr(info, "site_profile", None), self,  # type: ignore[arg-type]
                             start_dir=self.settings.get(keys.LAST_DIR))
            self.site_window = win
        else:
            win.refresh()  # new reads may have been confirmed since
        win.show()
        win.raise_()
        return win

    def show_shortcuts(self) -> None:
        TextDialog("Keyboard shortcuts", shortcuts_html(), self).exec()

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(keys.log_dir())))

    def export_confirmed(self) -> int | None:
        """File → Export…: ask for options (or use the injected provider), write, say where."""
        if self.export_options_provider is not None:
            opts = self.export_options_provider()
        else:
            dlg = ExportDialog(self.settings.get(keys.LAST_DIR), self)
            opts = dlg.options() if dlg.exec() else None
        if opts is None:
            return None
        if self.store is None:
            self.notifier.notify("Export failed: no reads database is open (viewer only)", 10000)
            return None
        try:  # the same call as `xray-desktop export [--layout mrmc]`: byte-identical files
            result = export_reads(self.store, opts.path, all_history=opts.all_history, deidentify=opts.deidentify,
                                  layout=opts.layout)
        except (StoreError, OSError, ValueError) as exc:  # OSError: name the path, not the temp file beside it
            why = f"cannot write {opts.path}: {exc.strerror or exc}" if isinstance(exc, OSError) else exc
            self.notifier.notify(f"Export failed: {why}", 10000)
            return None
        n, noun = result.rows, "MRMC row" if opts.layout == "mrmc" else "read"
        msg = f"Exported {n} {noun}{'s' if n != 1 else ''} to {opts.path}" + \
            (" (the reads database holds no confirmed reads yet)" if n == 0 else "")
        self.notifier.notify(msg, 10000)
        if not result.chain.ok:  # written anyway (the reads may be the evidence), but said loudly
            msg = (f"{msg}\n\nWARNING: the audit trail failed verification ({result.chain.message}); "
                   "the export's anchor records it.")
        # Non-modal: the reader can keep working.
        self.last_export_box = self.notifier.message_box("Export finished", msg, warning=not result.chain.ok)
        return n

    def focus_work_list(self) -> None:
        """Put the keyboard focus on the work list (Esc from a text field, after a confirm)."""
        self.list_panel.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def leave_text_field(self) -> None:
        """If the focus is in a text field, move it to the work list: keys are commands again."""
        if is_typing(QApplication.focusWidget()):
            self.focus_work_list()
