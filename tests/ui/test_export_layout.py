"""File → Export's layout choice: the reads CSV or the MRMC study CSV, the CLI's bytes either way."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from xray_desktop.domain import Diagnosis
from xray_desktop.records import ReadInput
from xray_desktop.records.export import MRMC_COLUMNS, READS_COLUMNS
from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
from xray_desktop.ui import window_actions
from xray_desktop.ui.dialogs import ExportDialog, ExportOptions


def _read(**changes: object) -> ReadInput:
    values: dict[str, object] = dict(
        reviewer="r1", study_key="1.2.840.1", file_path="/studies/a.dcm", file_sha256="ab" * 32,
        final_diagnosis=Diagnosis.PNEUMONIA, confidence=4, patient_name="DOE^JOHN", ai_probability=0.8125,
        threshold=0.42, operating_point="balanced", ai_label="PNEUMONIA", model_version="m-1", note="RLL",
    )  # fmt: skip
    values.update(changes)
    return ReadInput(**values)  # type: ignore[arg-type]


def _fill(store) -> None:
    """Two readers, two cases, every condition: an ordinary read, first impression, final, adjudication."""
    no_ai = dict(ai_probability=None, threshold=None, ai_label="", operating_point="")
    first = store.add_read(_read(study_key="c1", final_diagnosis=Diagnosis.NORMAL, confidence=3,
                                 role=FIRST_IMPRESSION, **no_ai))
    final = store.add_read(_read(study_key="c1", role=READ_FIRST_FINAL, supersedes=first.id, ai_probability=0.9))
    store.add_read(final.to_input(reviewer="r2", final_diagnosis=Diagnosis.NORMAL, confidence=5, role=ADJUDICATOR,
                                  supersedes=final.id))
    store.add_read(_read(study_key="c2", reviewer="r2", file_sha256="cd" * 32, confidence=2, ai_probability=0.25))


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def _cli(store, out: Path, layout: str, deidentify: bool) -> Path:
    from xray_desktop.cli import main

    argv = ["export", "--csv", str(out), "--db", str(store.path), "--layout", layout]
    assert main(argv + (["--deidentify"] if deidentify else [])) == 0
    return out


@pytest.mark.parametrize(("layout", "deidentify"), [("mrmc", False), ("mrmc", True), ("reads", False)])
def test_gui_export_is_byte_identical_to_the_cli(qtbot, make_window, store, tmp_path, layout, deidentify):
    _fill(store)
    w = make_window()
    gui = tmp_path / "gui.csv"
    w.export_options_provider = lambda: ExportOptions(gui, deidentify=deidentify, layout=layout)
    w.action_export.trigger()
    cli = _cli(store, tmp_path / "cli.csv", layout, deidentify)
    assert gui.read_bytes() == cli.read_bytes()
    assert (tmp_path / "gui.anchor.json").exists()
    if layout == "mrmc":
        assert _header(gui) == list(MRMC_COLUMNS)
        assert "Exported 4 MRMC rows to" in w.statusBar().currentMessage()  # r1: first + final; r2: adj + c2


def _dialog_choosing(monkeypatch, path: Path, label: str, history: bool = False) -> None:
    """Replace the dialog's exec (a modal loop offscreen tests cannot drive) with the reader's choices."""

    def exec_(dlg: ExportDialog) -> int:
        dlg.path_edit.setText(str(path))
        dlg.history_check.setChecked(history)
        dlg.layout_combo.setCurrentIndex(dlg.layout_combo.findText(label, Qt.MatchFlag.MatchStartsWith))
        return 1

    monkeypatch.setattr(window_actions.ExportDialog, "exec", exec_)


@pytest.mark.parametrize(("label", "columns"), [("MRMC study", MRMC_COLUMNS), ("Reads", READS_COLUMNS)])
def test_the_layout_chosen_in_the_dialog_is_the_layout_written(qtbot, make_window, store, tmp_path, monkeypatch,
                                                                label, columns):
    _fill(store)
    w = make_window()
    out = tmp_path / "chosen.csv"
    _dialog_choosing(monkeypatch, out, label)
    assert w.export_options_provider is None  # the real dialog path
    w.action_export.trigger()
    assert _header(out) == list(columns)


def test_mrmc_in_the_dialog_turns_off_all_history(qtbot, tmp_path, monkeypatch, make_window, store):
    """All history does not apply to MRMC (each reader's latest read per condition): disabled, not an error."""
    dlg = ExportDialog(str(tmp_path))
    qtbot.addWidget(dlg)
    dlg.history_check.setChecked(True)
    assert dlg.options().layout == "reads" and dlg.options().all_history
    dlg.layout_combo.setCurrentIndex(1)
    assert not dlg.history_check.isEnabled() and not dlg.history_check.isChecked()
    assert dlg.options() == ExportOptions(tmp_path / "reads.csv", all_history=False, deidentify=False, layout="mrmc")
    dlg.layout_combo.setCurrentIndex(0)
    assert dlg.history_check.isEnabled() and dlg.options().all_history

    _fill(store)
    w = make_window()
    _dialog_choosing(monkeypatch, tmp_path / "m.csv", "MRMC study", history=True)
    w.action_export.trigger()
    assert _header(tmp_path / "m.csv") == list(MRMC_COLUMNS)


@pytest.mark.parametrize("layout", ["reads", "mrmc"])
def test_unwritable_path_says_which_file_not_the_temp_file(qtbot, make_window, store, tmp_path, layout):
    _fill(store)
    w = make_window()
    for out, reason in ((tmp_path / "missing" / "o.csv", "No such file or directory"),
                        (tmp_path, "Is a directory")):
        w.export_options_provider = lambda out=out: ExportOptions(out, layout=layout)
        assert w.export_confirmed() is None
        msg = w.statusBar().currentMessage()
        assert msg == f"Export failed: cannot write {out}: {reason}", msg
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(("layout", "noun"), [("reads", "reads"), ("mrmc", "MRMC rows")])
def test_empty_database_writes_the_header_and_says_there_is_nothing(qtbot, make_window, store, tmp_path, layout,
                                                                     noun):
    w = make_window()
    out = tmp_path / "empty.csv"
    w.export_options_provider = lambda: ExportOptions(out, layout=layout)
    assert w.export_confirmed() == 0
    assert w.statusBar().currentMessage() == (f"Exported 0 {noun} to {out} "
                                              "(the reads database holds no confirmed reads yet)")
    assert out.read_bytes() == _cli(store, tmp_path / "cli.csv", layout, False).read_bytes()


def test_viewer_only_refuses_either_layout(qtbot, make_window, tmp_path):
    w = make_window()
    attached, w.store = w.store, None
    w.export_options_provider = lambda: ExportOptions(tmp_path / "m.csv", layout="mrmc")
    assert w.export_confirmed() is None
    assert w.statusBar().currentMessage() == "Export failed: no reads database is open (viewer only)"
    assert not (tmp_path / "m.csv").exists()
    w.store = attached
