"""The one set of decision rules (no Qt, no TensorFlow)."""

import math

import numpy as np
import pytest

from xray_desktop import decision
from xray_desktop.domain import Diagnosis


def test_gate_refusal_has_no_probability_and_no_label():
    v = decision.verdict(0.98, 0.5, gate_accepted=False, gate_reason="body part HEAD is not the chest")
    assert (v.assessed, v.probability, v.label) == (False, None, "")
    assert "HEAD" in v.reason


def test_out_of_scope_has_no_probability_and_no_label():
    v = decision.verdict(0.98, 0.5, gate_accepted=True, out_of_scope="outside intended use (age 62 y)")
    assert (v.assessed, v.probability, v.label) == (False, None, "")
    assert decision.ai_label(0.98, 0.5, True, out_of_scope="x") == ""


@pytest.mark.parametrize(
    ("p", "t", "label"), [(0.5, 0.5, "PNEUMONIA"), (0.4999, 0.5, "NORMAL"), (0.0, 0.0, "PNEUMONIA")]
)
def test_label_at_threshold_is_inclusive(p, t, label):
    assert decision.ai_label(p, t) == label


def test_no_answer_or_no_threshold():
    assert decision.verdict(None, 0.5).label == ""
    assert decision.verdict(float("nan"), 0.5).assessed is False
    v = decision.verdict(0.3, None)
    assert v.assessed and v.probability == 0.3 and v.label == ""


@pytest.mark.parametrize(
    ("diag", "label", "expected"),
    [
        (Diagnosis.PNEUMONIA, "PNEUMONIA", "agree"),
        ("NORMAL", "PNEUMONIA", "disagree"),
        (Diagnosis.OTHER, "NORMAL", "n/a"),
        (Diagnosis.INDETERMINATE, "PNEUMONIA", "n/a"),
        (Diagnosis.NORMAL, "", "n/a"),
        (None, "NORMAL", "n/a"),
    ],
)
def test_agreement(diag, label, expected):
    assert decision.agreement(diag, label) == expected


@pytest.mark.parametrize(
    ("p", "text"),
    [(1.0, "> 99.9 %"), (0.9995, "> 99.9 %"), (0.999, "99.9 %"), (0.0, "< 0.1 %"), (0.0004, "< 0.1 %"),
     (0.372, "37.2 %"), (None, "—"), (float("nan"), "—")],
)
def test_probability_is_never_shown_as_certain(p, text):
    assert decision.format_probability(p) == text


def test_roc_table_interpolates_and_clips():
    table = decision.RocTable(np.array([0.9, 0.1, 0.5]), np.array([0.5, 1.0, 0.8]), np.array([1.0, 0.2, 0.9]))
    r = table.rates_at(0.3, prevalence=0.5)
    assert r.sensitivity == pytest.approx(0.9) and r.specificity == pytest.approx(0.55)
    assert r.ppv == pytest.approx(0.45 / (0.45 + 0.225))
    assert table.rates_at(5.0).threshold == 0.9
    with pytest.raises(ValueError):
        decision.RocTable(np.array([0.5]), np.array([1.0]), np.array([1.0]))


def test_predictive_values_undefined_is_nan():
    ppv, npv = decision.predictive_values(0.0, 1.0, 0.3)
    assert math.isnan(ppv) and npv == pytest.approx(0.7 / 1.0)


def test_short_percent_never_rounds_to_100_or_0():
    assert decision.format_percent_short(0.9996) == "> 99.9"
    assert decision.format_percent_short(0.9951) == "99.5"
    assert decision.format_percent_short(0.0004) == "< 0.1"
    assert decision.format_percent_short(0.372) == "37"
    assert decision.format_percent_short(None) == ""


def test_words_for_a_study_without_an_ai_call():
    assert decision.out_of_scope_text("age 62 y") == "outside intended use (age 62 y)"
    assert decision.out_of_scope_text("outside intended use (age 62 y)") == "outside intended use (age 62 y)"
    assert decision.not_assessed_text(False, "CT", "age 62 y") == "refused by the input gate: CT"
    assert decision.not_assessed_text(True, "", "age 62 y") == "outside intended use (age 62 y)"
    assert decision.not_assessed_text(True) == ""
