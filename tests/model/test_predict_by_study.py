"""Issue 14.1: ``predict --by-study`` writes one row per study; the AI reads the chosen frontal image."""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.ui.fakes import make_card
from xray_desktop.cli import main
from xray_desktop.domain import GateResult, Prediction, Study
from xray_desktop.io.studies import LATERAL_VIEWS
from xray_desktop.model import classifier as classifier_mod
from xray_desktop.model.by_study import STUDY_EXTRA
from xray_desktop.model.commands import COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))
from io_helpers import build_dataset, chest_like, png_bytes, study_dicom, write
from test_csv_numbers import assert_numeric_columns_parse

S = [f"1.2.826.0.1.3680043.8.498.{i}" for i in range(10)]
NUMERIC = {"probability", "threshold", "logit", "ood_score", "elapsed_ms", "n_images"}


class _Clf:
    """Refuses laterals (the real gate's rule) and any file named ``blank*`` (as if blank)."""

    version = "9.9-fake"
    sha256 = "f" * 64
    card = make_card()

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict_many(self, studies: Iterable[Study], batch_size: int = 16, heatmap: bool = True
                     ) -> Iterator[Prediction]:
        for s in studies:
            self.seen.append(s.path.name)
            lateral = s.metadata.view_position.upper() in LATERAL_VIEWS
            gate = GateResult(False, "image is blank or nearly uniform", 99.0) if s.path.name.startswith("blank") \
                else GateResult(not lateral, "LL view: frontal films only" if lateral else "", 1.25)
            yield Prediction(0.8, -0.5, None, gate, self.version, self.sha256, 1.0)


@pytest.fixture
def clf(monkeypatch: pytest.MonkeyPatch) -> _Clf:
    fake = _Clf()
    monkeypatch.setattr(classifier_mod.Classifier, "load", classmethod(lambda cls, *a, **k: fake))
    return fake


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    # S0: AP (1,1), PA (1,2), lateral (2,1), spread over folders, names out of order
    study_dicom(root / "x" / "lat.dcm", S[0], series=2, instance=1, view="LL", seed=1)
    study_dicom(root / "b" / "zz_pa.dcm", S[0], series=1, instance=2, view="PA", seed=2)
    study_dicom(root / "c" / "aa_ap.dcm", S[0], series=1, instance=1, view="AP", seed=3)
    # S1: the PA is refused by the gate, so the AI reads the AP
    study_dicom(root / "d" / "blank_pa.dcm", S[1], series=1, instance=1, view="PA", seed=4)
    study_dicom(root / "d" / "ap.dcm", S[1], series=1, instance=2, view="AP", seed=5)
    # S2: lateral only; S3: its only frontal refused
    study_dicom(root / "e" / "lat.dcm", S[2], view="LATERAL", seed=6)
    study_dicom(root / "f" / "blank.dcm", S[3], view="PA", seed=7)
    # S4: a header but no pixels (cannot load)
    ds = build_dataset(chest_like(8, 8), StudyInstanceUID=S[4], ViewPosition="PA")
    del ds.PixelData
    (root / "g").mkdir()
    write(ds, root / "g" / "nopix.dcm")
    # a PNG (its own study) and a file that is no image
    (root / "h").mkdir()
    (root / "h" / "film.png").write_bytes(png_bytes(chest_like(32, 32, top=255).astype(np.uint8)))
    (root / "notes.txt").write_text("hello")
    return root


def _run(folder: Path, tmp_path: Path, *extra: str) -> dict[str, dict[str, str]]:
    out = tmp_path / "out.csv"
    assert main(["predict", str(folder), "--csv", str(out), "--threshold", "0.5", *extra]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == ((*COLUMNS, *STUDY_EXTRA) if extra else COLUMNS)
    return {r["study_key"] or Path(r["path"]).name: r for r in rows} if extra else {r["path"]: r for r in rows}


def test_one_row_per_study_with_the_frontal_image_read(clf: _Clf, folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rows = _run(folder, tmp_path, "--by-study")
    png = folder / "h" / "film.png"
    sha = hashlib.sha256(png.read_bytes()).hexdigest()
    assert set(rows) == {*S[:5], sha, "notes.txt"}

    r = rows[S[0]]
    assert (r["status"], r["study_uid"], r["n_images"], r["views"]) == ("ok", S[0], "3", "AP, PA, LL")
    assert r["ai_image"] == r["path"] == str(folder / "b" / "zz_pa.dcm") and r["probability"] == "0.800000"
    assert r["ai_label"] == "PNEUMONIA" and r["error"] == ""
    assert r["file_sha256"] == hashlib.sha256(Path(r["ai_image"]).read_bytes()).hexdigest()
    assert "series 1, image 2 (PA): of 2 frontal images (PA, AP)" in r["ai_image_reason"]
    assert r["ai_image_reason"].endswith("; 1 lateral view shown, not scored")

    r = rows[S[1]]
    assert (r["status"], r["ai_image"]) == ("ok", str(folder / "d" / "ap.dcm"))
    assert "(PA) not used: image is blank or nearly uniform" in r["ai_image_reason"]

    r = rows[S[2]]  # lateral only: not assessed, and the lateral was never given to the model
    assert (r["status"], r["probability"], r["ai_label"], r["ai_image"]) == ("rejected", "", "", "")
    assert r["error"] == "not assessed: no frontal image (views: LATERAL); 1 lateral view shown, not scored"

    r = rows[S[3]]  # every frontal refused: not assessed, the gate's columns kept
    assert (r["status"], r["probability"], r["logit"], r["ai_image"], r["ood_score"]) == ("rejected", "", "", "",
                                                                                           "99.000")
    assert r["error"].startswith("not assessed: no frontal image the AI could read;")
    assert "blank or nearly uniform" in r["error"]

    r = rows[S[4]]  # cannot load: an error row with the loader's reason
    assert r["status"] == "error" and "cannot load (DICOM has no pixel data" in r["error"]

    r = rows[sha]
    assert (r["status"], r["study_uid"], r["n_images"], r["ai_image"]) == ("ok", "", "1", str(png))
    assert r["ai_image_reason"] == "the study's only image"
    r = rows["notes.txt"]
    assert r["status"] == "error" and r["error"] and r["study_key"] == "" and r["n_images"] == "1"

    assert "lat.dcm" not in clf.seen  # laterals are shown, not scored
    assert "Traceback" not in capsys.readouterr().err
    assert assert_numeric_columns_parse(tmp_path / "out.csv", NUMERIC) >= 7 + 3 * 3


def test_without_the_flag_predict_is_per_file_as_before(clf: _Clf, folder: Path, tmp_path: Path) -> None:
    rows = _run(folder, tmp_path)
    assert len(rows) == 10  # every file its own row, the lateral scored (and refused) as today
    assert rows[str(folder / "x" / "lat.dcm")]["status"] == "rejected"
    assert rows[str(folder / "notes.txt")]["status"] == "error"


def test_by_study_batches_stay_in_study_order(clf: _Clf, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(5):
        study_dicom(root / f"s{i}" / "blank.dcm", S[i], view="PA", seed=i)  # refused: a second round
        study_dicom(root / f"s{i}" / "pa.dcm", S[i], instance=2, view="PA", seed=10 + i)
    out = tmp_path / "out.csv"
    assert main(["predict", str(root), "--csv", str(out), "--threshold", "0.5", "--by-study"]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["study_uid"] for r in rows] == S[:5]
    assert all(r["status"] == "ok" and r["ai_image"].endswith("pa.dcm") for r in rows)


def test_by_study_with_the_tiny_keras_model_and_sr(tmp_path: Path) -> None:
    """The real Classifier (tiny model) and --dicom-sr: the SR references the image the AI read."""
    pytest.importorskip("keras")
    pytest.importorskip("highdicom")
    import pydicom

    from tests.model.tiny_model import build_tiny_model_dir

    model = build_tiny_model_dir(tmp_path / "model")
    assert main(["model", "trust", str(model)]) == 0
    root = tmp_path / "in"
    # (the SR writer needs the patient/study module's type 2 elements: reported at merge)
    module = {"PatientBirthDate": "20200101", "PatientSex": "F", "StudyTime": "101500", "StudyID": "S1",
              "AccessionNumber": "A1", "ReferringPhysicianName": "REF^DOC"}
    pa = study_dicom(root / "pa.dcm", S[0], series=1, instance=1, view="PA", seed=1, **module)
    study_dicom(root / "lat.dcm", S[0], series=2, instance=1, view="LL", seed=2, **module)
    out, sr = tmp_path / "out.csv", tmp_path / "sr"
    assert main(["predict", str(root), "--csv", str(out), "--model-dir", str(model), "--by-study",
                 "--dicom-sr", str(sr)]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["n_images"], row["ai_image"]) == ("2", str(pa))
    if row["status"] == "ok":  # the tiny model's gate may refuse a synthetic film; then no SR
        (sr_file,) = sorted(sr.rglob("*.dcm"))
        ref = pydicom.dcmread(sr_file)
        assert ref.StudyInstanceUID == S[0]
