"""Issue 19.1 and 19.6: predict's CSV file handling and its UID-collision note (no TensorFlow)."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.ui.fakes import make_card
from xray_desktop.cli import main
from xray_desktop.domain import GateResult, Prediction, Study
from xray_desktop.model import classifier as classifier_mod
from xray_desktop.model.commands import COLUMNS
from xray_desktop.records.atomic import STALE_TEMP_S

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from io_helpers import build_dataset, chest_like, write


class _Clf:
    version = "9.9-fake"
    sha256 = "f" * 64
    card = make_card()  # the operating points come from the card (model.operating_points)

    def predict_many(self, studies: Iterable[Study], batch_size: int = 16, heatmap: bool = True
                     ) -> Iterator[Prediction]:
        for s in studies:
            yield Prediction(float(s.pixels.mean()), -0.5, None, GateResult(True), self.version, "f" * 64, 1.0)


@pytest.fixture(autouse=True)
def fake_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_mod.Classifier, "load", classmethod(lambda cls, *a, **k: _Clf()))


@pytest.fixture
def studies(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    ds = build_dataset(chest_like(40, 32))
    write(ds, folder / "a.dcm")
    ds.PixelData = chest_like(40, 32, seed=7).tobytes()  # same UID, other pixels: a collision
    write(ds, folder / "b.dcm")
    write(build_dataset(chest_like(40, 32, seed=3)), folder / "c.dcm")
    return folder


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {Path(r["path"]).name: r for r in csv.DictReader(fh)}


def test_uid_collision_is_a_note_in_predict_csv(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert main(["predict", str(studies), "--csv", str(out)]) == 0
    rows = _rows(out)
    with out.open(newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == COLUMNS  # the column set is unchanged
    assert rows["a.dcm"]["error"] == "" and rows["c.dcm"]["error"] == ""
    assert rows["b.dcm"]["status"] == "ok"
    assert rows["b.dcm"]["error"].startswith(f"UID collision: same SOP Instance UID as {studies / 'a.dcm'}")
    assert rows["b.dcm"]["logit"] == "-0.500000"  # a number stays a number (not '-0.5)


def test_symlink_at_the_output_is_refused_not_followed(studies: Path, tmp_path: Path, capsys) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    assert main(["predict", str(studies), "--csv", str(link)]) == 1
    assert "is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "keep me" and link.is_symlink()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_leftovers_of_a_killed_run_are_cleaned_and_output_is_private(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    stale, fresh = tmp_path / ".out.csv.k1ll3d.tmp", tmp_path / ".out.csv.running.tmp"
    for p in (stale, fresh):
        p.write_text("path,patient_id\n/x/DOE_JOHN.dcm,PID-1\n")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    assert main(["predict", str(studies), "--csv", str(out)]) == 0
    assert not stale.exists() and fresh.exists()  # a run elsewhere may still own the fresh one
    if os.name == "posix":
        assert out.stat().st_mode & 0o777 == 0o600
    assert len(_rows(out)) == 3 and np.isfinite(float(_rows(out)["a.dcm"]["probability"]))
