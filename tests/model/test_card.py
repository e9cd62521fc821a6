import json

import numpy as np
import pytest

from tests.model.tiny_model import synthetic_card
from xray_desktop.model.card import CardError, ModelCard, predictive_values
from xray_desktop.resources import model_dir


def test_rates_interpolate_between_roc_rows():
    card = ModelCard(synthetic_card())
    r = card.rates_at(0.505)
    assert r.sensitivity == pytest.approx(1 - 0.505**3, abs=1e-3)
    assert r.specificity == pytest.approx(np.sqrt(0.505), abs=1e-3)
    assert card.rates_at(-1).threshold == 0.0  # clamped into the table


def test_operating_points_and_default():
    card = ModelCard(synthetic_card())
    assert card.operating_point().name == "balanced"
    assert [o.name for o in card.operating_points()] == ["high-sensitivity", "balanced", "high-specificity"]
    with pytest.raises(CardError, match="unknown operating point 'nope'"):
        card.operating_point("nope")


def test_predictive_values_bayes():
    ppv, npv = predictive_values(0.9, 0.8, 0.3)
    assert ppv == pytest.approx(0.27 / (0.27 + 0.14))
    assert npv == pytest.approx(0.56 / (0.56 + 0.03))


@pytest.mark.parametrize("drop", ["roc", "operating_points", "sha256"])
def test_malformed_card_is_refused_with_reason(tmp_path, drop):
    data = synthetic_card()
    del data[drop]
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match=drop):
        ModelCard.load(tmp_path)


def test_missing_and_garbage_card(tmp_path):
    with pytest.raises(CardError, match="no model card"):
        ModelCard.load(tmp_path)
    (tmp_path / "model_card.json").write_text("{nope")
    with pytest.raises(CardError, match="unreadable"):
        ModelCard.load(tmp_path)


def bundled():
    if not (model_dir() / "model_card.json").exists():
        pytest.skip("no bundled model yet")
    return ModelCard.load(model_dir())


def test_bundled_card_roc_is_monotone_and_operating_points_match_it():
    card = bundled()
    t, sens, spec = card.roc_points()
    assert np.all(np.diff(t) > 0)
    assert np.all(np.diff(sens) <= 0) and np.all(np.diff(spec) >= 0)
    for op in card.operating_points():
        i = int(np.flatnonzero(t == op.threshold)[0])
        assert (sens[i], spec[i]) == pytest.approx((op.sensitivity, op.specificity))
    assert card.operating_point("high-sensitivity").sensitivity >= 0.95
    assert card.operating_point().sensitivity >= 0.95


def test_bundled_card_documents_what_the_issue_asks():
    d = bundled().data
    for key in ("auc", "sensitivity", "specificity", "accuracy", "brier", "ece"):
        lo, hi = d["validation"][key]["ci95"]
        assert lo <= d["validation"][key]["value"] <= hi
    assert d["training"]["command"].startswith("python -m xray_desktop.training")
    assert d["gate"]["validation_acceptance"] >= 0.99
    assert "standalone" in d["intended_use"]
    assert (model_dir() / "MODEL_CARD.md").read_text().startswith("# Model card")
    assert (model_dir() / "model_card.json").stat().st_size > 0
    assert (model_dir() / d["file"]).stat().st_size < 25e6


def test_intended_age_range_and_out_of_scope_reason():
    """Issue #17.9: the card holds the intended ages; outside them a study is out of scope."""
    card = ModelCard(synthetic_card(intended_age_years=[1, 6]))
    assert card.intended_age_years == (1.0, 6.0)
    assert card.out_of_scope(62.0) == "outside intended use (age 62 y)"
    assert card.out_of_scope(0.5) == "outside intended use (age 6 mo)"
    assert card.out_of_scope(6.0) == "outside intended use (age 6 y)"  # the 6th birthday is out
    for inside in (1.0, 3.2, 5.99):
        assert card.out_of_scope(inside) == ""
    assert card.out_of_scope(None) == ""  # unknown age: the reader knows the patient
    assert card.out_of_scope(float("nan")) == ""
    legacy = ModelCard(synthetic_card())
    assert legacy.intended_age_years is None and legacy.out_of_scope(62.0) == ""


@pytest.mark.parametrize("bad", [[6, 1], [1], "1-5", [-1, 5], [1, float("inf")], [None, 5]])
def test_malformed_age_range_is_refused(bad):
    with pytest.raises(CardError, match="intended_age_years"):
        ModelCard(synthetic_card(intended_age_years=bad))


def test_bundled_card_states_the_intended_ages():
    card = bundled()
    assert card.intended_age_years == (1.0, 6.0)
    assert card.out_of_scope(62.0) and not card.out_of_scope(3.0)
    assert "Intended ages: 1 to under 6 years" in (model_dir() / "MODEL_CARD.md").read_text()
