"""Issue 14.1 in the GUI: a work-list row is a study; the AI reads its frontal image; one read per study."""

from __future__ import annotations

import sys
from pathlib import Path

import pydicom
import pytest
from fakes import FakeClassifier, write_png
from helpers import open_and_wait, select, settled
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from xray_desktop.domain import Diagnosis
from xray_desktop.ui.study_list import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from io_helpers import study_dicom

S1, S2 = "1.2.826.0.1.3680043.8.498.101", "1.2.826.0.1.3680043.8.498.102"


class Recording(FakeClassifier):
    """The fake classifier, recording which files it was asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def predict(self, study, heatmap=True):  # type: ignore[no-untyped-def]
        self.paths.append(study.path.name)
        return super().predict(study, heatmap)


@pytest.fixture
def recording_window(make_window):
    def make():
        holder: list[Recording] = []

        def factory() -> Recording:
            holder.append(Recording())
            return holder[0]

        w = make_window(classifier_factory=factory)
        w.clf = holder[0]
        return w

    return make


def sop(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_pa_and_lateral_are_one_row_and_the_ai_reads_only_the_pa(qtbot, recording_window, tmp_path):
    lat = study_dicom(tmp_path / "in" / "a_lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    pa = study_dicom(tmp_path / "in" / "b_pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    r = w.model.rows[0]
    assert [im.path for im in r.images] == [pa, lat] and r.path == pa and r.key == S1
    assert r.status == Status.AI_READY and r.probability is not None
    assert set(w.clf.paths) == {"b_pa.dcm"}  # the lateral is shown, never scored (batch + viewer ask about the PA)
    assert w.model.index(0, 6).data() == "2 PA/LL"
    assert r.thumbnail  # the frontal's thumbnail
    select(qtbot, w, 0)
    assert w.viewer.view.study().path == pa and w.viewer.strip.isVisible()
    assert [b.text() for b in w.viewer.strip_buttons] == ["1/2 PA · AI", "2/2 LL"]
    note = w.prediction_panel.ai_image_label.text()
    assert note.startswith("AI read image 1/2") and "only frontal (PA) image" in note and "1 lateral" in note
    assert set(w.clf.paths) == {"b_pa.dcm"}


def test_a_mixed_folder_lists_one_row_per_study(qtbot, make_window, tmp_path):
    root = tmp_path / "in"
    study_dicom(root / "x" / "1.dcm", S1, series=1, instance=1, view="PA", seed=1)
    study_dicom(root / "y" / "2.dcm", S1, series=2, instance=1, view="LL", seed=2)
    study_dicom(root / "x" / "3.dcm", S2, series=1, instance=1, view="AP", seed=3)
    write_png(root / "film.png", 0.4)
    (root / "broken.dcm").write_bytes(b"not a dicom at all")
    (root / "notes.txt").write_text("hello")
    w = make_window()
    open_and_wait(qtbot, w, [root], 4)
    by_images = sorted((len(r.images), r.status.value, r.path.name) for r in w.model.rows)
    assert by_images == [(1, "AI ready", "3.dcm"), (1, "AI ready", "film.png"), (1, "error", "broken.dcm"),
                         (2, "AI ready", "1.dcm")]


def test_a_study_spread_over_two_folders_added_one_after_the_other(qtbot, recording_window, tmp_path):
    """The lateral comes first (not assessed: no frontal image); the PA in the second folder joins and is read."""
    lat = study_dicom(tmp_path / "f1" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    pa = study_dicom(tmp_path / "f2" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "f1"], 1)
    r = w.model.rows[0]
    assert r.status == Status.REJECTED and r.no_frontal and r.probability is None and w.clf.paths == []
    assert w.model.index(0, 4).data() == "Not assessed" and "no frontal image" in r.ai_reason
    w.open_paths([tmp_path / "f2"])
    qtbot.waitUntil(lambda: len(r.images) == 2 and settled(w), timeout=10_000)
    assert len(w.model.rows) == 1 and r.path == pa and [im.path for im in r.images] == [pa, lat]
    assert r.status == Status.AI_READY and r.probability is not None and set(w.clf.paths) == {"pa.dcm"}
    assert w.model.index(0, 6).data() == "2 PA/LL"


def test_a_later_lateral_joins_the_row_one_file_at_a_time(qtbot, recording_window, tmp_path):
    """As the DICOM receiver calls it: ``BatchController.add_paths`` with one new file."""
    pa = study_dicom(tmp_path / "rx" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w = recording_window()
    open_and_wait(qtbot, w, [pa], 1)
    select(qtbot, w, 0)
    p0 = w.model.rows[0].probability
    lat = study_dicom(tmp_path / "rx" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    w.batch.add_paths([lat])
    r = w.model.rows[0]
    qtbot.waitUntil(lambda: len(r.images) == 2 and settled(w), timeout=10_000)
    assert len(w.model.rows) == 1 and r.path == pa and r.probability == p0
    assert w.clf.paths.count("lat.dcm") == 0  # joined, shown, not scored
    assert [b.text() for b in w.viewer.strip_buttons if b.isVisible()] == ["1/2 PA · AI", "2/2 LL"]
    w.batch.add_paths([lat])  # the same file again (a re-sent instance): nothing new
    qtbot.waitUntil(lambda: settled(w), timeout=5000)
    assert len(w.model.rows) == 1 and len(r.images) == 2


def test_a_pa_arriving_after_the_lateral_is_read_by_the_ai_on_screen(qtbot, recording_window, tmp_path):
    lat = study_dicom(tmp_path / "rx" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    w = recording_window()
    open_and_wait(qtbot, w, [lat], 1)
    w.list_panel.select_source_row(0)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None, timeout=5000)
    panel = w.prediction_panel
    assert not panel.ai_image_label.isVisible() and "no frontal image (views: LL)" in panel.gate_label.text()
    assert panel.probability_label.text() == "Not assessed" and panel.ai_label.text() == "Not assessed (input gate)"
    pa = study_dicom(tmp_path / "rx" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w.batch.add_paths([pa])
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None and w.viewer.view.study().path == pa
                    and w.viewer.view.has_heatmap(), timeout=10_000)
    r = w.model.rows[0]
    assert r.status == Status.AI_READY and w.prediction_panel.ai_image_label.text().startswith("AI read image 1/2")


def test_brackets_step_through_the_images_and_the_heat_map_is_only_on_the_ai_image(qtbot, make_window, tmp_path):
    pa = study_dicom(tmp_path / "in" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    lat = study_dicom(tmp_path / "in" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    w = make_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    select(qtbot, w, 0)
    view = w.viewer.view
    assert view.study().path == pa and view.has_heatmap()
    w.list_panel.table.setFocus()
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: view.study() is not None and view.study().path == lat, timeout=5000)
    assert not view.has_heatmap() and w.viewer.strip_buttons[1].isChecked()
    assert w.list_panel.current_source_row() == 0  # still the same study
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_BracketRight)  # at the end: stays
    assert view.study().path == lat
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_BracketLeft)
    qtbot.waitUntil(lambda: view.study() is not None and view.study().path == pa and view.has_heatmap(),
                    timeout=5000)
    w.viewer.strip_buttons[1].click()  # the strip's buttons do the same
    qtbot.waitUntil(lambda: view.study() is not None and view.study().path == lat, timeout=5000)


def test_confirm_stores_one_read_with_every_image_and_a_new_list_finds_it(qtbot, make_window, store, tmp_path):
    pa = study_dicom(tmp_path / "in" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    lat = study_dicom(tmp_path / "in" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    w = make_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.PNEUMONIA)
    w.diagnosis_panel.set_confidence(4)
    assert w.confirm()
    (read,) = store.reads()
    r = w.model.rows[0]
    assert read.study_key == S1 and read.file_path == str(pa) and read.file_sha256 == r.sha256
    assert read.image_keys == f"{sop(pa)} {sop(lat)}"
    assert read.image_sha256s.split() == [h for _, h in r.image_ids] and len(set(read.image_sha256s.split())) == 2
    assert read.ai_probability is not None and read.gate_result == "accepted"
    w.close()
    w2 = make_window()  # the lookup at load time (identity.lookup_study, on the loader thread)
    open_and_wait(qtbot, w2, [tmp_path / "in"], 1)
    assert w2.model.rows[0].status == Status.CONFIRMED and w2.model.rows[0].read.id == read.id


def test_a_gate_refused_pa_falls_back_to_the_ap(qtbot, recording_window, tmp_path):
    """The fake gate refuses files named 'ood…': the PA is refused, the AP of the study is read."""
    refused = study_dicom(tmp_path / "in" / "ood_pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    ap = study_dicom(tmp_path / "in" / "ap.dcm", S1, series=1, instance=2, view="AP", seed=3)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    r = w.model.rows[0]
    assert r.path == ap and refused in r.refused and r.status == Status.AI_READY and r.probability is not None
    assert list(dict.fromkeys(w.clf.paths)) == ["ood_pa.dcm", "ap.dcm"]  # the batch's and the viewer's
    select(qtbot, w, 0)
    assert w.viewer.view.study().path == ap and w.viewer.view.has_heatmap()
    note = w.prediction_panel.ai_image_label.text()
    assert note.startswith("AI read image 2/2") and "not used: not a frontal chest radiograph" in note
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    assert w.confirm()
    read = w.store.reads()[-1]
    assert read.file_path == str(ap) and read.image_keys == f"{sop(refused)} {sop(ap)}"


def test_the_viewer_first_on_a_refused_pa_moves_to_the_ap(qtbot, recording_window, tmp_path):
    """The reader is on the study before the batch: the viewer's own answer triggers the fallback."""
    study_dicom(tmp_path / "in" / "ood_pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    ap = study_dicom(tmp_path / "in" / "ap.dcm", S1, series=1, instance=2, view="AP", seed=3)
    w = recording_window()
    w.open_paths([tmp_path / "in"])
    qtbot.waitUntil(lambda: bool(w.model.rows), timeout=5000)
    w.list_panel.select_source_row(0)
    qtbot.waitUntil(lambda: settled(w) and w.viewer.view.study() is not None
                    and w.viewer.view.study().path == ap and w.viewer.view.has_heatmap(), timeout=10_000)
    assert w.model.rows[0].status == Status.AI_READY and "ap.dcm" in w.clf.paths


def test_png_files_are_single_image_studies(qtbot, make_window, store, tmp_path):
    folder = tmp_path / "png"
    write_png(folder / "a.png", 0.3)
    write_png(folder / "b.png", 0.6)
    w = make_window()
    open_and_wait(qtbot, w, [folder], 2)
    assert all(len(r.images) == 1 and r.key == r.sha256 for r in w.model.rows)
    select(qtbot, w, 0)
    assert not w.viewer.strip.isVisible() and not w.prediction_panel.ai_image_label.isVisible()
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    assert w.confirm()
    (read,) = store.reads()
    assert read.study_key == read.file_sha256 == read.image_keys == read.image_sha256s


def test_a_pa_that_does_not_load_gives_way_to_the_ap(qtbot, make_window, tmp_path):
    pa = study_dicom(tmp_path / "in" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    pa.write_bytes(pa.read_bytes()[:-1500])  # the header reads, the pixels do not
    ap = study_dicom(tmp_path / "in" / "ap.dcm", S1, series=1, instance=2, view="AP", seed=3)
    w = make_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    r = w.model.rows[0]
    assert r.path == ap and r.refused[pa].startswith("cannot load") and r.status == Status.AI_READY
    select(qtbot, w, 0)
    assert w.viewer.view.study().path == ap
    QTest.keyClick(w.list_panel.table, Qt.Key.Key_BracketLeft)  # the broken PA: a message, the study stays
    qtbot.waitUntil(lambda: w.viewer.view.study() is None and "Cannot show pa.dcm" in w.viewer.message.text(),
                    timeout=5000)
    assert r.status == Status.AI_READY and not r.error


def test_a_lateral_only_study_asks_nothing_and_says_why(qtbot, recording_window, tmp_path):
    study_dicom(tmp_path / "in" / "a.dcm", S1, series=1, instance=1, view="PA", seed=2)
    study_dicom(tmp_path / "in" / "b_lat.dcm", S2, series=1, instance=1, view="LL", seed=1)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 2)
    select(qtbot, w, 0)
    w.list_panel.select_source_row(1)
    qtbot.waitUntil(lambda: w.viewer.view.study() is not None and w.viewer.view.study().path.name == "b_lat.dcm",
                    timeout=5000)
    assert "b_lat.dcm" not in w.clf.paths and not w.viewer.view.has_heatmap()
    assert w.prediction_panel.status_label.text().startswith("Model ")
    assert w.model.rows[1].status == Status.REJECTED and w.model.index(1, 4).data() == "Not assessed"


def test_a_study_split_over_scan_chunks_is_one_row_read_on_its_pa(qtbot, recording_window, tmp_path, monkeypatch):
    """The scan reports files in chunks; a study whose files fall into several joins one row."""
    from xray_desktop.ui.workers import ScanTask

    monkeypatch.setattr(ScanTask, "CHUNK", 1)
    study_dicom(tmp_path / "in" / "a_lat.dcm", S1, series=3, instance=1, view="LL", seed=1)
    study_dicom(tmp_path / "in" / "b_ap.dcm", S1, series=2, instance=1, view="AP", seed=3)
    pa = study_dicom(tmp_path / "in" / "c_pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    r = w.model.rows[0]
    assert len(r.images) == 3 and r.path == pa and r.status == Status.AI_READY
    assert w.model.index(0, 6).data() == "3 PA/AP/LL" and "a_lat.dcm" not in w.clf.paths


def test_a_better_image_joining_a_confirmed_study_keeps_the_read(qtbot, recording_window, tmp_path):
    """Confirmed on the lateral-only study; a PA arriving later is listed, not analysed again."""
    lat = study_dicom(tmp_path / "rx" / "lat.dcm", S1, series=2, instance=1, view="LL", seed=1)
    w = recording_window()
    open_and_wait(qtbot, w, [lat], 1)
    select(qtbot, w, 0)
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(2)
    assert w.confirm()
    read = w.model.rows[0].read
    assert read.gate_result.startswith("rejected: no frontal image") and read.ai_probability is None
    pa = study_dicom(tmp_path / "rx" / "pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    w.batch.add_paths([pa])
    r = w.model.rows[0]
    qtbot.waitUntil(lambda: len(r.images) == 2 and settled(w), timeout=10_000)
    assert r.status == Status.CONFIRMED and r.read is read and r.path == lat and "pa.dcm" not in w.clf.paths


def test_read_first_hides_which_image_the_gate_refused_until_the_first_impression(
        qtbot, recording_window, settings_store, tmp_path):
    """Why the PA was not used is the input gate's answer: hidden in read-first mode like the rest."""
    from xray_desktop import settings as keys

    settings_store.set(keys.READ_FIRST, True)
    study_dicom(tmp_path / "in" / "ood_pa.dcm", S1, series=1, instance=1, view="PA", seed=2)
    study_dicom(tmp_path / "in" / "ap.dcm", S1, series=1, instance=2, view="AP", seed=3)
    w = recording_window()
    open_and_wait(qtbot, w, [tmp_path / "in"], 1)
    select(qtbot, w, 0)
    qtbot.waitUntil(lambda: w.model.rows[0].probability is not None, timeout=5000)
    tip = w.model.data(w.model.index(0, 6), Qt.ItemDataRole.ToolTipRole)
    assert w.prediction_panel.ai_image_label.text() == "" and "not a frontal" not in tip
    w.diagnosis_panel.set_diagnosis(Diagnosis.NORMAL)
    w.diagnosis_panel.set_confidence(3)
    assert w.confirm()  # the first impression: the AI is revealed on the same study
    assert w.prediction_panel.ai_image_label.text().startswith("AI read image 2/2")
