"""DICOM receive in the window: its settings, the File -> DICOM receive… dialog, the status-bar line.

The listener is ``net.receive.Receiver`` behind ``workers.ReceiverService`` (its own
threads). Each stored file reaches the GUI thread as one queued signal and becomes one
``BatchController.add_paths([path])`` call, exactly as a dropped file, nothing heavier.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from xray_desktop import settings as keys
from xray_desktop.net.config import ReceiverConfig, ReceiverError, check_ae_title, check_port, parse_ae_list
from xray_desktop.ui.settings_store import SettingsStore
from xray_desktop.ui.workers import ReceiverService

log = logging.getLogger(__name__)
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")


@dataclass(frozen=True)
class ReceiveOptions:
    """The receive settings as the dialog edits them (see ``settings.RECEIVE_*``)."""

    enabled: bool = keys.RECEIVE_ENABLED[1]
    ae_title: str = keys.RECEIVE_AE_TITLE[1]
    port: int = keys.RECEIVE_PORT[1]
    bind: str = keys.RECEIVE_BIND[1]
    allowed: str = keys.RECEIVE_ALLOWED_AETS[1]  # comma-separated calling AE titles; "" = any
    folder: str = keys.RECEIVE_FOLDER[1]  # "" = settings.received_dir()

    _SPECS = (("enabled", keys.RECEIVE_ENABLED), ("ae_title", keys.RECEIVE_AE_TITLE), ("port", keys.RECEIVE_PORT),
              ("bind", keys.RECEIVE_BIND), ("allowed", keys.RECEIVE_ALLOWED_AETS), ("folder", keys.RECEIVE_FOLDER))

    @classmethod
    def load(cls, settings: SettingsStore) -> ReceiveOptions:
        return cls(**{name: settings.get(spec) for name, spec in cls._SPECS})

    def save(self, settings: SettingsStore) -> None:
        for name, spec in self._SPECS:
            settings.set(spec, getattr(self, name))
        settings.sync()

    def problem(self) -> str:
        """What is wrong with these values, in one line; "" when they can be used."""
        try:
            check_ae_title(self.ae_title)
            check_port(self.port)
            parse_ae_list(self.allowed)
        except ReceiverError as exc:
            return str(exc)
        if self.bind.strip() and not _valid_host(self.bind.strip()):
            return f"interface must be an IP address of this computer or a host name, got {self.bind!r}"
        return ""

    def folder_path(self) -> Path:
        return Path(self.folder).expanduser() if self.folder.strip() else keys.received_dir()

    def config(self) -> ReceiverConfig:
        """The receiver's configuration (call only when ``problem()`` is "")."""
        return ReceiverConfig(self.folder_path(), port=check_port(self.port), ae_title=check_ae_title(self.ae_title),
                              bind=self.bind.strip(), allowed_calling_aets=parse_ae_list(self.allowed))


def _valid_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST.fullmatch(text))


class ReceiveDialog(QDialog):
    """Edits the receive settings; OK stays disabled while a value is invalid (and says why)."""

    def __init__(self, options: ReceiveOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM receive")
        self.enabled = QCheckBox("Receive images from a PACS or modality (DICOM C-STORE)")
        self.enabled.setChecked(options.enabled)
        self.ae_title = QLineEdit(options.ae_title)
        self.ae_title.setMaxLength(16)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(min(max(int(options.port), 1), 65535))
        self.bind = QLineEdit(options.bind)
        self.bind.setPlaceholderText("all interfaces")
        self.allowed = QLineEdit(options.allowed)
        self.allowed.setPlaceholderText("any; e.g. PACS1, CR_ROOM2")
        self.folder = QLineEdit(options.folder)
        self.folder.setPlaceholderText(str(keys.received_dir()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("AE title (called):", self.ae_title)
        form.addRow("Port:", self.port)
        form.addRow("Interface:", self.bind)
        form.addRow("Allowed calling AE titles:", self.allowed)
        form.addRow("Receive folder:", folder_row)
        hint = QLabel("On the PACS, add this workstation as a DICOM destination: this AE title, this computer's "
                      "address and the port. Open the port in the firewall for the PACS only. Received studies "
                      "join the work list and are analysed as they arrive.")
        hint.setWordWrap(True)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        lay = QVBoxLayout(self)
        lay.addWidget(self.enabled)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(self.problem_label)
        lay.addWidget(buttons)
        for edit in (self.ae_title, self.bind, self.allowed, self.folder):
            edit.textChanged.connect(self._validate)
        self.port.valueChanged.connect(self._validate)
        self.enabled.toggled.connect(self._validate)
        self.resize(560, self.sizeHint().height())
        self._validate()

    def options(self) -> ReceiveOptions:
        return ReceiveOptions(self.enabled.isChecked(), self.ae_title.text(), self.port.value(),
                              self.bind.text().strip(), self.allowed.text().strip(), self.folder.text().strip())

    @Slot()
    def _validate(self, *_args: Any) -> None:
        problem = self.options().problem()
        self.problem_label.setText(problem)
        self.ok_button.setEnabled(not problem)

    @Slot()
    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Receive folder", str(self.options().folder_path()))
        if folder:
            self.folder.setText(folder)


class ReceiveController(QObject):
    """Starts the listener at window start when enabled, applies the dialog, shows the status-bar line."""

    def __init__(self, window: Any, settings: SettingsStore, add_paths: Callable[[list[str | Path]], None],
                 status_bar: QStatusBar) -> None:
        super().__init__(window)
        self.window, self.settings, self.add_paths = window, settings, add_paths
        # Tests set this to skip the dialog: given the current options, returns new ones or None (cancel).
        self.options_provider: Callable[[ReceiveOptions], ReceiveOptions | None] | None = None
        self.service = ReceiverService(self)
        self.label = QLabel()
        self.label.hide()
        status_bar.addPermanentWidget(self.label)
        self.count = 0
        self.listening: tuple[str, int] | None = None
        self.last_error = ""
        self.service.received.connect(self._on_received)
        self.service.started.connect(self._on_started)
        self.service.failed.connect(self._on_failed)
        self.service.stopped.connect(self._on_stopped)
        self.service.problem.connect(self._on_problem)

    def start_if_enabled(self) -> None:
        """Window start: listen when the settings say so (off by default)."""
        self._apply(ReceiveOptions.load(self.settings))

    def configure(self) -> None:
        """File -> DICOM receive…: edit, save, and start / restart / stop the listener."""
        current = ReceiveOptions.load(self.settings)
        if self.options_provider is not None:
            new = self.options_provider(current)
        else:
            dialog = ReceiveDialog(current, self.window)
            new = dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None
        if new is None:
            return
        new = replace(new, ae_title=new.ae_title.strip())
        if new.problem():  # the dialog refuses these; a provider might not
            self._tell(f"Not saved: {new.problem()}")
            return
        new.save(self.settings)
        if new != current or (new.enabled and self.listening is None):
            self._apply(new)

    def shutdown(self) -> None:
        """Stop listening and wait for it (the port is free afterwards)."""
        self.service.shutdown()

    def _apply(self, options: ReceiveOptions) -> None:
        if not options.enabled:
            self.service.stop()
            self.label.hide()  # also an "off (error)" line: off is what was asked for
            return
        problem = options.problem()
        if problem:
            self._on_failed(problem)
            return
        self.label.setText(f"DICOM receive: starting on port {options.port}…")
        self.label.show()
        self.service.start(options.config())

    def _tell(self, text: str) -> None:
        self.window.notifier.notify(text, 0, dialog=True, title="DICOM receive")

    def _update_label(self) -> None:
        if self.listening is not None:
            ae, port = self.listening
            self.label.setText(f"Receiving on {ae}@{port} · {self.count} received")
            self.label.show()

    @Slot(str)
    def _on_received(self, path: str) -> None:
        if self.service.closed:
            return  # delivered after the window began closing: the batch is gone
        self.count += 1
        self._update_label()
        self.add_paths([path])  # as a drop: the batch scans and analyses it off the GUI thread

    @Slot(str, int)
    def _on_started(self, ae: str, port: int) -> None:
        self.listening, self.last_error = (ae, port), ""
        self._update_label()
        self.window.notifier.notify(f"Receiving DICOM on {ae}@{port}", 6000)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.listening, self.last_error = None, message
        self.label.setText("DICOM receive: off (error)")
        self.label.show()
        hint = ""
        if "ermission denied" in message:
            hint = " Ports below 1024 need administrator rights: use 11112, or forward the port."
        elif "in use" in message:
            hint = " Another program (or another copy of this one) listens there: choose another port."
        self._tell(f"DICOM receive is off: {message}.{hint} Change it in File → DICOM receive…")

    @Slot()
    def _on_stopped(self) -> None:
        self.listening = None
        self.label.hide()

    @Slot(str)
    def _on_problem(self, message: str) -> None:
        self.window.notifier.notify(f"DICOM receive: {message}", 8000)
