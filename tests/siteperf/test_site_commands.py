"""site-calibrate and site-report end to end, on hand-made predictions, labels and reads (no TensorFlow)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.model.tiny_model import synthetic_card
from xray_desktop.cli import main
from xray_desktop.domain import Diagnosis
from xray_desktop.model import metrics
from xray_desktop.model.commands import COLUMNS
from xray_desktop.model.site_profile import SiteProfile, profiles_dir
from xray_desktop.records import ReadInput, Store

SHA = "ab" * 32
POS = np.linspace(0.41, 0.99, 60)  # 60 positives
NEG = np.linspace(0.0, 0.59, 60)  # 60 negatives


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    card = synthetic_card(SHA, training_data={"validation": {"images": 200, "pneumonia": 100, "normal": 100}},
                          validation={"auc": {"value": 0.99, "ci95": [0.98, 1.0]}, "ece": {"value": 0.02}})
    (d / "model_card.json").write_text(json.dumps(card))
    return d


def file_sha(i: int) -> str:
    return f"{i:064x}"


def write_predictions(path: Path, probs, model_sha: str = SHA, extra_rows=(), drop=()) -> None:
    cols = [c for c in COLUMNS if c not in drop]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols, extrasaction="ignore")
        w.writeheader()
        for i, p in enumerate(probs):
            w.writerow({"path": f"films/{i}.png", "status": "ok", "probability": f"{p:.6f}", "threshold": "0.5",
                        "model_version": "0.0.1-test", "file_sha256": file_sha(i), "model_sha256": model_sha,
                        "logit": "'-1.0", "ood_score": "1.5"})
        for row in extra_rows:
            w.writerow(row)


def write_labels(path: Path, labels, by="file_sha256") -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([by, "label"])
        for i, lab in enumerate(labels):
            w.writerow([file_sha(i) if by == "file_sha256" else f"films/{i}.png", lab])


@pytest.fixture
def archive(tmp_path):
    probs = np.r_[POS, NEG]
    labels = ["PNEUMONIA"] * 60 + ["normal "] * 60  # case and spaces forgiven
    extra = [
        {"path": "films/rej.png", "status": "rejected", "error": "lateral view", "probability": "0.9",
         "file_sha256": file_sha(500), "model_sha256": SHA},
        {"path": "films/bad.png", "status": "error", "error": "truncated", "file_sha256": "", "model_sha256": SHA},
        {"path": "films/copy.png", "status": "ok", "probability": "0.99", "file_sha256": file_sha(0),
         "model_sha256": SHA},  # the same file twice: one study
    ]
    write_predictions(tmp_path / "pred.csv", probs, extra_rows=extra)
    write_labels(tmp_path / "labels.csv", [*labels])
    with open(tmp_path / "labels.csv", "a", newline="") as fh:
        csv.writer(fh).writerows([[file_sha(500), "PNEUMONIA"], [file_sha(999), "NORMAL"]])
    return tmp_path / "pred.csv", tmp_path / "labels.csv"


def calibrate(model_dir, *args):
    return main(["site-calibrate", "--model-dir", str(model_dir), *map(str, args)])


def test_calibrate_from_a_labelled_archive_writes_a_profile(model_dir, archive, tmp_path, capsys):
    pred, labels = archive
    out = tmp_path / "profile.json"
    rc = calibrate(model_dir, "--predictions", pred, "--labels", labels, "--target-sensitivity", "0.9", "--out", out)
    text = capsys.readouterr().out
    assert rc == 0
    # 0.9 of 60 positives is 54: the 54th highest positive score, then halfway down to the next
    # score below it (the same calls, and no film sits on the threshold)
    scores = np.round(np.r_[POS, NEG], 6)
    best = round(float(np.sort(POS)[::-1][53]), 6)
    expected_t = (best + scores[scores < best].max()) / 2
    prof = SiteProfile.load(out)
    op = prof.point()
    assert op.threshold == pytest.approx(expected_t) and op.sensitivity == pytest.approx(54 / 60)
    assert prof.roc_table().rates_at(op.threshold).sensitivity == pytest.approx(54 / 60)
    assert op.sensitivity_ci == pytest.approx(metrics.wilson(54, 60))
    tn = int((NEG < expected_t).sum())
    assert op.specificity == pytest.approx(tn / 60) and op.specificity_ci == pytest.approx(metrics.wilson(tn, 60))
    d = prof.data
    assert d["model"]["sha256"] == SHA and d["n"] == {"studies": 120, "positive": 60, "negative": 60}
    assert d["source"]["kind"] == "labelled archive" and d["source"]["matched_by"] == "file_sha256"
    assert d["excluded"] == {"rejected by the input gate": 1, "no label": 1, "duplicate file": 1,
                             "labels without a prediction": 1}
    assert d["created_by"]["user"] is not None and d["created_at"]
    assert set(d["card_points_at_site"]) == {"high-sensitivity", "balanced", "high-specificity"}
    lo = metrics.wilson(54, 60)[0]
    assert f"the lower 95 % bound of sensitivity is {lo * 100:.1f} %" in text
    assert f"threshold {expected_t:.6f}" in text and "balanced" in text  # the card's points, before
    audit = [json.loads(x) for x in (profiles_dir() / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["profile_id"] == prof.profile_id and audit[-1]["path"] == str(out.resolve())


def test_calibrate_matches_labels_by_path_and_defaults_to_the_data_dir(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_predictions(tmp_path / "pred.csv", np.r_[POS, NEG])
    write_labels(tmp_path / "labels.csv", ["PNEUMONIA"] * 60 + ["NORMAL"] * 60, by="path")
    # the labels name ./films/..., the predictions films/...: the same files
    text = (tmp_path / "labels.csv").read_text().replace("films/", "./films/")
    (tmp_path / "labels.csv").write_text(text)
    assert calibrate(model_dir, "--predictions", "pred.csv", "--labels", "labels.csv",
                     "--target-sensitivity", "1") == 0
    made = list(profiles_dir().glob("site-*.json"))
    assert len(made) == 1
    prof = SiteProfile.load(made[0])
    assert prof.point().threshold == pytest.approx(0.405) and prof.point().sensitivity == 1.0  # 0.41 and 0.40
    assert prof.data["source"]["matched_by"] == "path"
    assert str(made[0]) in capsys.readouterr().out


def refused(capsys, rc):
    err = capsys.readouterr().err
    assert rc == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_refusals_have_one_line_reasons(model_dir, archive, tmp_path, capsys):
    pred, labels = archive
    base = ["--predictions", pred, "--labels", labels, "--target-sensitivity", "0.9", "--out", tmp_path / "p.json"]
    assert "only 60 PNEUMONIA cases, fewer than the 61" in refused(
        capsys, calibrate(model_dir, *base, "--min-positives", "61"))
    assert "only 60 NORMAL cases, fewer than the 70" in refused(
        capsys, calibrate(model_dir, *base, "--min-negatives", "70"))
    other = tmp_path / "other.csv"
    write_predictions(other, np.r_[POS, NEG], model_sha="cd" * 32)
    assert "predictions come from another model" in refused(
        capsys, calibrate(model_dir, "--predictions", other, "--labels", labels, "--target-sensitivity", "0.9"))
    nomatch = tmp_path / "nomatch.csv"
    nomatch.write_text("file_sha256,label\n" + "ff" * 32 + ",NORMAL\n")
    assert "no label in nomatch.csv matches a prediction" in refused(
        capsys, calibrate(model_dir, "--predictions", pred, "--labels", nomatch, "--target-sensitivity", "0.9"))
    old = tmp_path / "old.csv"
    write_predictions(old, np.r_[POS, NEG], drop=("model_sha256", "site_profile"))
    assert "does not say which model made it" in refused(
        capsys, calibrate(model_dir, "--predictions", old, "--labels", labels, "--target-sensitivity", "0.9"))
    bad = tmp_path / "bad.csv"
    bad.write_text("file_sha256,label\n" + file_sha(0) + ",OTHER\n")
    assert "line 2: label must be PNEUMONIA or NORMAL" in refused(
        capsys, calibrate(model_dir, "--predictions", pred, "--labels", bad, "--target-sensitivity", "0.9"))
    both = tmp_path / "both.csv"
    both.write_text(f"file_sha256,label\n{file_sha(0)},NORMAL\n{file_sha(0)},PNEUMONIA\n")
    assert "labelled both" in refused(
        capsys, calibrate(model_dir, "--predictions", pred, "--labels", both, "--target-sensitivity", "0.9"))
    assert "needs --labels" in refused(capsys, calibrate(model_dir, "--predictions", pred,
                                                         "--target-sensitivity", "0.9"))
    assert "no predictions file" in refused(
        capsys, calibrate(model_dir, "--predictions", tmp_path / "x.csv", "--labels", labels,
                          "--target-sensitivity", "0.9"))
    assert not (tmp_path / "p.json").exists() and not profiles_dir().exists()


@pytest.mark.parametrize("args", [["--target-sensitivity", "0.9"], ["--db", "x", "--predictions", "y",
                                  "--target-sensitivity", "0.9"], ["--db", "x", "--target-sensitivity", "1.5"],
                                  ["--db", "x"], ["--db", "x", "--target-sensitivity", "0.9", "--min-positives", "0"]])
def test_calibrate_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["site-calibrate", *args])
    assert exc.value.code == 2


# -- from confirmed reads -------------------------------------------------------------------

def read(i: int, diagnosis: str, p: float | None, **changes) -> ReadInput:
    values = dict(reviewer="dr_a", study_key=f"study-{i}", file_path=f"/s/{i}.dcm", file_sha256=file_sha(i),
                  final_diagnosis=Diagnosis(diagnosis), confidence=4, ai_probability=p,
                  threshold=0.5, ai_label="", model_version="0.0.1-test", model_sha256=SHA)
    values.update(changes)
    return ReadInput(**values)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "reads.sqlite3"
    with Store.open(path) as store:
        first = store.add_reads([read(i, "NORMAL", float(p)) for i, p in enumerate(POS)])  # to be amended
        store.add_reads([r.to_input(final_diagnosis=Diagnosis.PNEUMONIA, supersedes=r.id) for r in first])
        store.add_reads([read(100 + i, "NORMAL", float(p), reviewer="dr_b") for i, p in enumerate(NEG)])
        store.add_reads([
            read(300, "INDETERMINATE", 0.5), read(301, "OTHER", 0.2, other_finding="effusion"),
            read(302, "PNEUMONIA", None), read(303, "PNEUMONIA", 0.1, model_sha256="cd" * 32),
        ])
    return path


def report_json(capsys, *args) -> dict:
    assert main(["site-report", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_site_report_json_contract_from_latest_reads(model_dir, db, capsys):
    rep = report_json(capsys, "--db", db, "--model-dir", model_dir)
    # superseded reads out; INDETERMINATE/OTHER, no probability and another model left out
    assert (rep["n_reads"], rep["n_positive"], rep["n_negative"]) == (120, 60, 60)
    assert rep["excluded"] == {"earlier reads of the same study (superseded)": 60, "not PNEUMONIA/NORMAL": 2,
                               "no AI probability": 1, "another model": 1}
    assert "not ground truth" in rep["reference_standard"]
    auc, ci = metrics.auc_delong(np.r_[np.ones(60), np.zeros(60)], np.r_[POS, NEG])
    assert rep["auc"] == pytest.approx(auc) and rep["auc_ci"] == pytest.approx(list(ci))
    assert set(rep["operating_points"]) == {"high-sensitivity", "balanced", "high-specificity"}
    for op in rep["operating_points"].values():
        assert {"threshold", "sensitivity", "specificity", "sensitivity_ci", "specificity_ci"} <= set(op)
    bal = rep["operating_points"]["balanced"]
    c = metrics.confusion(np.r_[np.ones(60), np.zeros(60)], np.r_[POS, NEG], 0.5)
    assert bal["threshold"] == 0.5 and bal["sensitivity"] == pytest.approx(c.sensitivity)
    assert bal["specificity_ci"] == pytest.approx(list(metrics.wilson(c.tn, 60)))
    assert bal["validation_sensitivity"] == pytest.approx(1 - 0.5**3)
    assert rep["calibration"]["ece"] == pytest.approx(metrics.ece(np.r_[np.ones(60), np.zeros(60)], np.r_[POS, NEG]))
    assert sum(rep["drift"]["probability"]["site"]["count"]) == 120
    assert sum(rep["drift"]["probability"]["validation"]["count"]) == 200  # rebuilt from the card's ROC


def test_site_report_warns_when_a_site_ci_excludes_the_validation_figure(model_dir, db, capsys):
    rep = report_json(capsys, "--db", db, "--model-dir", model_dir)
    # high-specificity (t = 0.8): site sensitivity 20/60 = 0.33 (0.22–0.46), card says 0.488
    hs = rep["operating_points"]["high-specificity"]
    assert hs["sensitivity_ci"][1] < hs["validation_sensitivity"]
    assert any("'high-specificity'" in w and "sensitivity" in w and "excludes the validation figure" in w
               for w in rep["warnings"])
    assert main(["site-report", "--db", str(db), "--model-dir", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "WARNING: 'high-specificity'" in out and "agreement with the reader, not ground truth" in out


def test_site_report_filters_by_reviewer_and_day(model_dir, db, capsys):
    rep = report_json(capsys, "--db", db, "--model-dir", model_dir, "--reviewer", "dr_b")
    assert (rep["n_reads"], rep["n_positive"]) == (60, 0) and rep["auc"] is None and rep["auc_ci"] == [None, None]
    assert rep["operating_points"]["balanced"]["sensitivity"] is None  # undefined, not 0
    rep = report_json(capsys, "--db", db, "--model-dir", model_dir, "--since", "2999-01-01")
    assert rep["n_reads"] == 0 and rep["excluded"]["before --since"] == 124
    assert main(["site-report", "--db", str(db), "--since", "yesterday"]) == 1
    assert "--since must be a date" in capsys.readouterr().err


def test_site_report_html_and_site_profile(model_dir, db, tmp_path, capsys):
    assert calibrate(model_dir, "--db", db, "--target-sensitivity", "0.95") == 0
    capsys.readouterr()
    out = tmp_path / "report.html"
    rep = report_json(capsys, "--db", db, "--model-dir", model_dir, "--html", out)
    site = rep["operating_points"]["site"]  # the newest profile for this model, from the data dir
    assert site["source"] == "site" and site["origin"] == "site (n = 120)" and site["sensitivity"] >= 0.95
    page = out.read_text()
    # ROC, reliability, probability; no gate-score plot: the reads database keeps no gate score
    assert page.count("data:image/png;base64,") == 3
    assert "not ground truth" in page and "site (n = 120)" in page and "http" not in page.split("<body>")[1]
    assert main(["site-report", "--db", str(db), "--model-dir", str(model_dir)]) == 0
    assert f"Site profile in force: {rep['site_profile']['profile_id']} (n = 120)" in capsys.readouterr().out


def test_site_report_without_a_database_is_one_line(model_dir, tmp_path, capsys):
    rc = main(["site-report", "--db", str(tmp_path / "none.sqlite3"), "--model-dir", str(model_dir)])
    assert "no reads database" in refused(capsys, rc)
    rc = main(["site-report", "--db", str(tmp_path), "--model-dir", str(tmp_path / "nomodel")])
    assert "no model card" in refused(capsys, rc)


def test_site_commands_import_neither_qt_nor_tensorflow():
    code = ("import sys, xray_desktop.cli, xray_desktop.siteperf.commands, xray_desktop.siteperf.html, "
            "xray_desktop.model.operating_points; xray_desktop.cli.build_parser(); "
            "bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr



def test_html_of_an_archive_has_the_gate_score_plot(model_dir, archive):
    from xray_desktop.model.card import ModelCard
    from xray_desktop.siteperf.data import cases_from_archive
    from xray_desktop.siteperf.html import render_html
    from xray_desktop.siteperf.report import evaluate

    card = ModelCard.load(model_dir)
    cases = cases_from_archive(*archive, SHA)
    rep = evaluate(cases, card)
    assert sum(rep["drift"]["gate_score"]["site"]["count"]) == 120
    assert render_html(rep, card, cases).count("data:image/png;base64,") == 4


def test_site_report_from_a_labelled_archive(model_dir, archive, capsys):
    pred, labels = archive
    rep = report_json(capsys, "--predictions", pred, "--labels", labels, "--model-dir", model_dir)
    assert (rep["n_reads"], rep["n_positive"], rep["n_negative"]) == (120, 60, 60)
    assert rep["reference_standard"] == "the archive's labels" and "gate_score" in rep["drift"]
    rc = main(["site-report", "--predictions", str(pred), "--model-dir", str(model_dir)])
    assert "needs --labels" in refused(capsys, rc)
    rc = main(["site-report", "--predictions", str(pred), "--labels", str(labels), "--reviewer", "x",
               "--model-dir", str(model_dir)])
    assert "go with --db" in refused(capsys, rc)


def test_calibrate_on_tiny_n_when_the_minimums_allow_it(model_dir, tmp_path, capsys):
    write_predictions(tmp_path / "pred.csv", [0.7, 0.2])
    write_labels(tmp_path / "labels.csv", ["PNEUMONIA", "NORMAL"])
    out = tmp_path / "p.json"
    assert calibrate(model_dir, "--predictions", tmp_path / "pred.csv", "--labels", tmp_path / "labels.csv",
                     "--target-sensitivity", "0.9", "--min-positives", "1", "--min-negatives", "1", "--out", out) == 0
    prof = SiteProfile.load(out)  # the undefined AUC CI is stored as null and reads back
    assert prof.data["auc"] == 1.0 and prof.data["auc_ci"] == [None, None]
    assert prof.point().threshold == pytest.approx(0.45) and prof.point().sensitivity_ci == metrics.wilson(1, 1)
    assert "only 1 positive and 1 negative cases: the intervals are wide" in capsys.readouterr().out


def test_site_report_refuses_an_explicit_profile_for_another_model(model_dir, db, tmp_path, capsys):
    from tests.model.test_operating_points import profile_fields
    from xray_desktop.model import site_profile

    path = site_profile.save(site_profile.new_profile_data(**profile_fields("cd" * 32)), tmp_path / "o.json")
    rc = main(["site-report", "--db", str(db), "--model-dir", str(model_dir), "--site-profile", str(path)])
    assert "made for another model" in refused(capsys, rc)
