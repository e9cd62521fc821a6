"""The main window's actions: reviewer, opening dialogs, confirming, drafts, the model's state, export, help.

A mixin of :class:`~xray_desktop.ui.main_window.MainWindow`, kept apart so that the window
module stays about layout and wiring; every method here uses only the window's attributes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from xray_desktop import decision
from xray_desktop import settings as keys
from xray_desktop.domain import Diagnosis, WorkerFailure
from xray_desktop.records import ReadInput, StoreError
from xray_desktop.records.export import export_reads
from xray_desktop.records.identity import COLLISION_WARNING
from xray_desktop.ui.dialogs import (
    ExportDialog,
    ReviewerDialog,
    TagsDialog,
    TextDialog,
    model_card_html,
    shortcuts_html,
)
from xray_desktop.ui.review_keys import is_typing
from xray_desktop.ui.study_list import Status

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
    export_options_provider: Any
    _current_row: int
    _shown: Any
    _cache: Any
    drafts: dict[Path, Any]
    model_status: Any
    _pred_rid: int
    discard_drafts_provider: Any

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
        row, panel = self._current_row, self.diagnosis_panel
        if row < 0 or not panel.isEnabled() or self.saver is None or self.saver.saving:  # one save at a time
            return False
        problem = panel.problem()
        if problem:
            self.notifier.notify(problem, 5000)
            return False
        reviewer = self.ensure_reviewer()
        if not reviewer:
            self.notifier.notify("Enter your name to confirm diagnoses", 5000)
            return False
        r, threshold, info = self.model.rows[row], self._threshold(), self.inference.info
        md = r.metadata
        gate = "" if r.gate_accepted is None else ("accepted" if r.gate_accepted else f"rejected: {r.gate_reason}")
        if r.gate_accepted and r.out_of_scope:
            gate = f"accepted; {decision.out_of_scope_text(r.out_of_scope)}"
        # A refused or out-of-scope study had no AI call: its read carries no AI fields.
        v = r.verdict(threshold)
        assessed = v.assessed and threshold is not None
        read_input = ReadInput(
            reviewer=reviewer, study_key=r.key, file_path=str(r.path), file_sha256=r.sha256,
            final_diagnosis=panel.diagnosis(), confidence=int(panel.confidence() or 0),
            patient_id=md.patient_id if md else "", patient_name=md.patient_name if md else "",
            birth_date=md.birth_date if md else "", study_date=md.study_date if md else "",
            accession=md.accession if md else "",
            ai_probability=v.probability if assessed else None, threshold=threshold if assessed else None,
            operating_point=self.prediction_panel.operating_point_name() if assessed else "",
            ai_label=v.label if assessed else "", model_version=info.version if info else "",
            model_sha256=info.sha256 if info else "", gate_result=gate, note=panel.note(),
            time_spent_ms=int(self._shown.elapsed()) if self._shown.isValid() else 0,
            supersedes=r.read.id if r.read is not None else None, other_finding=panel.other_finding(),
        )
        try:
            read = self.saver.save(read_input)  # durable on return; the window keeps painting meanwhile
        except StoreError as exc:
            log.error("saving a read failed: %s", exc)
            QMessageBox.critical(self, "Diagnosis not saved", f"The diagnosis could not be saved:\n{exc}")
            return False
        self.drafts.pop(r.path, None)
        panel.mark_saved()  # moving on must not keep the saved values as a "draft"
        self.leave_text_field()  # the next study's "n" must not go into this one's note
        # The next study to read, in the order on screen before this one's new status re-sorts it.
        nxt = self.list_panel.next_row_where(
            row, lambda cand: self.model.rows[cand].status not in (Status.CONFIRMED, Status.ERROR))
        if read.study_key != r.key:  # the store found the UID taken by other content meanwhile
            r.key, r.warning = read.study_key, COLLISION_WARNING
        r.read, r.status = read, Status.CONFIRMED
        self.model.touch(row)
        self.model.flush()  # show it at once: the reader's action, not a batch update
        self.notifier.notify(f"Saved: {read.final_diagnosis.value.capitalize()} — {r.name}", 4000)
        self._go_to_next_unconfirmed(row, nxt)
        return True

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
            self.drafts[r.path] = panel.state()
            self.notifier.notify(f"Unsaved draft kept for {r.name} (this session only)", 5000)

    def _discard_drafts_ok(self) -> bool:
        n = len(self.drafts)
        if self.discard_drafts_provider is not None:
            return self.discard_drafts_provider(n)
        answer = QMessageBox.question(
            self, "Unsaved drafts",
            f"{n} stud{'ies have' if n != 1 else 'y has'} an unconfirmed draft that will be lost. Quit anyway?")
        return answer == QMessageBox.StandardButton.Yes

    # -- model ----------------------------------------------------------------------------
    @Slot(object)
    def _on_model_loaded(self, info: Any) -> None:
        s = self.settings
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
        row = self._current_row
        if row >= 0 and not self._pred_rid:
            cached = self._cache.get(self.model.rows[row].path)
            if cached is not None and cached.prediction is None:
                self._pred_rid = self.inference.request(cached.study, heatmap=True)

    @Slot(object)
    def _on_model_failed(self, failure: WorkerFailure) -> None:
        text = failure.message  # final: shown as-is, never re-prefixed
        self.prediction_panel.set_unavailable(text)
        self.model_status.setText("AI unavailable")
        self.model_status.setToolTip(text)
        self.notifier.notify(f"{text} — the viewer still works", 15000)

    def _threshold(self) -> float | None:
        return self.prediction_panel.threshold() if self.inference.state == "ready" else None

    @Slot(float)
    def _on_threshold_changed(self, threshold: float) -> None:
        self.model.set_threshold(threshold)
        self._set_model_setting(keys.THRESHOLD, threshold)
        if self._current_row >= 0:
            label = self.model.rows[self._current_row].ai_label(self._threshold())
            self.diagnosis_panel.set_ai_label(label)
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
        cached = self._cache.get(self.model.rows[self._current_row].path) if self._current_row >= 0 else None
        TagsDialog(cached.study.tags if cached else [], self).exec()

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
        try:
            result = export_reads(self.store, opts.path, all_history=opts.all_history, deidentify=opts.deidentify)
        except (StoreError, OSError, ValueError) as exc:
            self.notifier.notify(f"Export failed: {exc}", 10000)
            return None
        n = result.rows
        msg = f"Exported {n} read{'s' if n != 1 else ''} to {opts.path}"
        self.notifier.notify(msg, 10000)
        icon = QMessageBox.Icon.Information
        if not result.chain.ok:  # written anyway (the reads may be the evidence), but said loudly
            icon, msg = QMessageBox.Icon.Warning, (f"{msg}\n\nWARNING: the audit trail failed verification "
                                                   f"({result.chain.message}); the export's anchor records it.")
        box = QMessageBox(icon, "Export finished", msg, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()  # non-blocking: the reader can keep working
        self.last_export_box = box
        return n

    def focus_work_list(self) -> None:
        """Put the keyboard focus on the work list (Esc from a text field, after a confirm)."""
        self.list_panel.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def leave_text_field(self) -> None:
        """If the focus is in a text field, move it to the work list: keys are commands again."""
        if is_typing(QApplication.focusWidget()):
            self.focus_work_list()
