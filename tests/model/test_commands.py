"""The headless CLI: predict's CSV contract, exit codes, selftest (tiny model built here)."""

import csv
import io
import json
import shutil

import pytest

from tests.model.test_classifier import chest_png
from tests.model.tiny_model import build_tiny_model_dir
from xray_desktop.cli import main

FIRST = ["path", "status", "error", "probability", "threshold", "ai_label", "model_version", "file_sha256"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("keras")
    d = build_tiny_model_dir(tmp_path_factory.mktemp("model"))
    # record the reference value the way the training pipeline does
    from xray_desktop.io import load_study
    from xray_desktop.model.classifier import Classifier

    clf = Classifier.load(d, require_trust=False)
    card = json.loads((d / "model_card.json").read_text())
    pred = clf.predict(load_study(d / "reference.png"))
    card["reference"] = {"image": "reference.png", "probability": pred.probability, "tolerance": 0.002,
                         "logit": pred.logit, "logit_tolerance": 0.01}
    (d / "model_card.json").write_text(json.dumps(card))
    return d


@pytest.fixture
def tiny_dir(tiny_model):
    """The tiny model, trusted in this test's per-user data folder (a custom model must be)."""
    assert main(["model", "trust", str(tiny_model)]) == 0
    return tiny_model


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "studies"
    (root / "sub").mkdir(parents=True)
    chest_png(root / "good1.png")
    chest_png(root / "sub" / "good2.png", lung_level=0.4)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "notes.txt").write_text("not an image")
    return root


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_folder_to_csv_every_file_gets_a_row(tiny_dir, folder, tmp_path, capsys):
    out = tmp_path / "out.csv"
    rc = main(["predict", str(folder), "--csv", str(out), "--model-dir", str(tiny_dir)])
    assert rc == 0
    text = out.read_text()
    assert text.splitlines()[0].split(",")[: len(FIRST)] == FIRST
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in read_csv(text)}
    assert set(rows) == {"good1.png", "good2.png", "broken.png", "notes.txt"}
    for name in ("good1.png", "good2.png"):
        r = rows[name]
        assert r["status"] == "ok" and r["error"] == ""
        p, t = float(r["probability"]), float(r["threshold"])
        assert r["ai_label"] == ("PNEUMONIA" if p >= t else "NORMAL")
        assert t == 0.5 and len(r["file_sha256"]) == 64
        assert r["model_version"].startswith("0.0.1-test (custom model, card sha256 ")
    assert rows["broken.png"]["status"] == "error" and rows["broken.png"]["error"]
    assert rows["notes.txt"]["status"] == "error" and "not a DICOM, PNG or JPEG" in rows["notes.txt"]["error"]
    assert "wrote 4 rows" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_predict_to_stdout_with_threshold_and_operating_point(tiny_dir, folder, capsys):
    assert main(["predict", str(folder / "good1.png"), "--threshold", "0", "--no-heatmap",
                 "--model-dir", str(tiny_dir)]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["ai_label"] == "PNEUMONIA" and float(rows[0]["threshold"]) == 0
    assert main(["predict", str(folder / "good1.png"), "--operating-point", "high-specificity",
                 "--model-dir", str(tiny_dir)]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert float(rows[0]["threshold"]) == 0.8 and rows[0]["operating_point"] == "high-specificity"


@pytest.mark.parametrize(
    "args",
    [
        ["predict"],
        ["predict", "x", "--threshold", "1.5"],
        ["predict", "x", "--threshold", "abc"],
        ["predict", "x", "--threshold", "0.3", "--operating-point", "balanced"],
        ["predict", "x", "--bogus"],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_unknown_operating_point_and_missing_model_exit_1(tiny_dir, folder, tmp_path, capsys):
    assert main(["predict", str(folder), "--operating-point", "nope", "--model-dir", str(tiny_dir)]) == 1
    assert "unknown operating point" in capsys.readouterr().err
    assert main(["predict", str(folder), "--model-dir", str(tmp_path / "none")]) == 1
    assert "no model folder" in capsys.readouterr().err


def test_selftest_passes_and_fails_clearly(tiny_dir, tmp_path, capsys):
    assert main(["selftest", "--model-dir", str(tiny_dir)]) == 0
    assert "selftest passed" in capsys.readouterr().out
    bad = tmp_path / "bad"
    shutil.copytree(tiny_dir, bad)
    card = json.loads((bad / "model_card.json").read_text())
    card["reference"]["probability"] += 0.1
    (bad / "model_card.json").write_text(json.dumps(card))
    assert main(["selftest", "--model-dir", str(bad)]) == 1
    assert "not the bundled model" in capsys.readouterr().err  # an edited card is another model
    assert main(["model", "trust", str(bad)]) == 0
    assert main(["selftest", "--model-dir", str(bad)]) == 1
    assert "selftest FAILED: reference probability" in capsys.readouterr().err
    card["reference"]["probability"] -= 0.1
    card["reference"]["logit"] += 0.05  # a change the saturated probability would hide
    (bad / "model_card.json").write_text(json.dumps(card))
    assert main(["model", "trust", str(bad)]) == 0
    assert main(["selftest", "--model-dir", str(bad)]) == 1
    assert "selftest FAILED: reference logit" in capsys.readouterr().err


def test_selftest_checks_the_department_and_network_libraries(tiny_dir, capsys, monkeypatch):
    """A frozen bundle without psycopg's libpq (or pynetdicom/highdicom) fails its selftest."""
    import sys

    assert main(["selftest", "--model-dir", str(tiny_dir)]) == 0
    out = capsys.readouterr().out
    assert "psycopg 3." in out and "libpq" in out and "pynetdicom" in out and "highdicom" in out
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the bundle lacked it
    assert main(["selftest", "--model-dir", str(tiny_dir)]) == 1
    assert "selftest FAILED: a bundled library does not load: ModuleNotFoundError" in capsys.readouterr().err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and "xray-desktop" in capsys.readouterr().out
    for cmd in ("predict", "selftest"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0


def test_predict_rows_keep_file_order_with_errors_between(tiny_dir, tmp_path):
    """Issue 18.9: an error row used to come out before the batch of good files above it."""
    root = tmp_path / "ordered"
    root.mkdir()
    chest_png(root / "a_good.png")
    (root / "b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    chest_png(root / "c_good.png", lung_level=0.4)
    out = tmp_path / "ordered.csv"
    assert main(["predict", str(root), "--csv", str(out), "--model-dir", str(tiny_dir)]) == 0
    names = [r["path"].rsplit("/", 1)[-1] for r in read_csv(out.read_text())]
    assert names == ["a_good.png", "b_broken.png", "c_good.png"]
