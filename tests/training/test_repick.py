"""Re-picking model 2's operating points on stressed scores (pure parts; no TensorFlow)."""

import json
from pathlib import Path

import numpy as np
import pytest

from xray_desktop.model import metrics
from xray_desktop.model.spec import ModelSpec
from xray_desktop.training import repick
from xray_desktop.training.card_text import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def _scores(seed: int, n_pos: int = 300, n_neg: int = 100, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    logit = np.r_[rng.normal(2.5, 1.2, n_pos), rng.normal(-2.5 + shift, 1.2, n_neg)]
    return y, 1 / (1 + np.exp(-logit))


def test_default_is_the_most_sensitive_threshold_at_the_specificity_floor():
    ys, ps = _scores(1, shift=0.3)
    t = repick.most_sensitive_at_specificity(ys, ps, 0.99)
    c = metrics.confusion_at(ys, ps, t)
    assert c["specificity"] >= 0.99
    # no threshold keeping the floor is more sensitive
    best = max(r["sensitivity"] for r in metrics.roc_table(ys, ps) if r["specificity"] >= 0.99)
    assert c["sensitivity"] == best


def test_points_use_only_the_stressed_scores_and_are_ordered():
    yc, pc = _scores(2)
    ys, ps = _scores(3, shift=0.3)
    ops = repick.pick_operating_points(yc, pc, ys, ps, 0.99)
    # changing the CLEAN scores moves no threshold
    ops2 = repick.pick_operating_points(yc, np.clip(pc * 0.5, 0, 1), ys, ps, 0.99)
    assert [o["threshold"] for o in ops.values()] == [o["threshold"] for o in ops2.values()]
    t = [ops[n]["threshold"] for n in ("high-sensitivity", "balanced", "high-specificity")]
    assert t == sorted(t)
    b = ops["balanced"]
    assert b["stressed_specificity"] >= 0.99 and "stressed specificity >= 99%" in b["rule"]
    assert b["sensitivity"] == metrics.confusion_at(yc, pc, b["threshold"])["sensitivity"]  # clean figure
    lo, hi = b["stressed_sensitivity_wilson95"]
    assert lo < b["stressed_sensitivity"] < hi
    k = round(b["stressed_sensitivity"] * 300)
    assert (lo, hi) == pytest.approx(metrics.wilson(k, 300))
    assert ops["high-sensitivity"]["stressed_sensitivity"] >= 0.99


def test_rewrite_keeps_the_schema_adds_ages_and_renders():
    cards = [json.loads(p.read_text()) for p in (ROOT / "resources/models/model_card.json",
                                                  ROOT / "candidates/model-2.0.0/model_card.json") if p.exists()]
    card = next((c for c in cards if "validation_stressed" in c), None)
    if card is None:
        pytest.skip("no model-2 card in this checkout")
    card.pop("intended_age_years", None)
    yc, pc = _scores(4, 200, 100)
    ys, ps = _scores(5, 600, 300, shift=0.3)
    groups = [f"p{i // 2}" for i in range(300)]
    new = repick.rewrite_card(card, yc, pc, ys, ps, groups, list(np.repeat(groups, 3)), 0.99, "python -m "
                              "xray_desktop.training.repick --model-dir X --data Y")
    spec = ModelSpec.from_card(new)
    assert spec.default_operating_point == "balanced" and spec.intended_age_years == (1, 6)
    b = new["operating_points"]["balanced"]
    assert new["validation_stressed"]["specificity"]["value"] == pytest.approx(b["stressed_specificity"])
    assert "at least 99%" in new["default_point_note"] and "0.816" in new["default_point_note"]
    text = render_markdown(new)
    assert "most sensitive threshold with stressed specificity >= 99%" in text
    assert "operating points re-picked, same weights" in text and "Intended ages: 1 to under 6" in text


def test_cli_refuses_a_card_without_stressed_validation(tmp_path, capsys):
    (tmp_path / "model_card.json").write_text(json.dumps({"name": "x"}))
    assert repick.main(["--model-dir", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "not a model-2 card" in capsys.readouterr().err
    assert repick.main(["--model-dir", str(tmp_path), "--data", str(tmp_path),
                        "--min-stressed-specificity", "1.5"]) == 2


def test_point_rows_make_the_clean_table_exact_at_each_threshold():
    yc, pc = _scores(6)
    ys, ps = _scores(7, shift=0.3)
    ops = repick.pick_operating_points(yc, pc, ys, ps, 0.99)
    roc = repick.with_point_rows(metrics.roc_table(yc, pc), ops)
    t = np.array([r["threshold"] for r in roc])
    sens, spec = np.array([r["sensitivity"] for r in roc]), np.array([r["specificity"] for r in roc])
    assert np.all(np.diff(t) > 0) and np.all(np.diff(sens) <= 0) and np.all(np.diff(spec) >= 0)
    for op in ops.values():
        i = int(np.flatnonzero(t == op["threshold"])[0])
        c = metrics.confusion_at(yc, pc, op["threshold"])
        assert (sens[i], spec[i]) == (c["sensitivity"], c["specificity"])


def test_dry_run_measures_against_the_card_and_writes_nothing(tmp_path, monkeypatch, capsys):
    card = json.loads((ROOT / "resources/models/model_card.json").read_text())
    y, p = _scores(3)
    ys, ps = np.repeat(y, 2), np.repeat(p, 2)
    gate = {"validation_acceptance": 1.0, "stressed_validation_acceptance": 0.99, "probe_rejection": 0.98,
            "probes": {"inverted film": {"n": 100, "rejected": 1.0}}}
    monkeypatch.setattr(repick, "_measure", lambda *a: (y, p, ys, ps, list(range(len(y))), [], gate))
    card["validation_stressed"]["auc"]["value"] = float(metrics.roc_auc(ys, ps))
    path = tmp_path / "model_card.json"
    path.write_text(json.dumps(card))
    before = path.read_bytes()
    assert repick.main(["--model-dir", str(tmp_path), "--data", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: stressed AUC" in out and "inverted film: rejected 1.0000 of 100" in out
    assert path.read_bytes() == before and not (tmp_path / "MODEL_CARD.md").exists()
    card["validation_stressed"]["auc"]["value"] += 0.01  # scores of another model: says so, exit 1
    path.write_text(json.dumps(card))
    assert repick.main(["--model-dir", str(tmp_path), "--data", str(tmp_path), "--dry-run"]) == 1
