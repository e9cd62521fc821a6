"""The typed model spec read from the card (#16.4), and per-model settings keys."""

from __future__ import annotations

import json
import re

import pytest

from tests.model.tiny_model import synthetic_card
from xray_desktop import settings
from xray_desktop.model.card import CardError, ModelCard
from xray_desktop.model.preprocess import INPUT_SIZE, PREPROCESSING_DESCRIPTION
from xray_desktop.model.spec import SPEC_VERSION, InputSpec, ModelSpec, OperatingPoint
from xray_desktop.resources import model_dir


def test_spec_is_typed_and_matches_the_card() -> None:
    card = ModelCard(synthetic_card(intended_age_years=[1, 6]))
    spec = card.spec
    assert spec.spec_version == 1 == SPEC_VERSION
    assert spec.input == InputSpec(size=INPUT_SIZE, preprocessing=PREPROCESSING_DESCRIPTION)
    assert spec.operating_point("balanced") == OperatingPoint("balanced", 0.5, 0.875, 0.707)
    assert all(isinstance(op.threshold, float) for op in spec.operating_points)
    assert (spec.temperature, spec.bias, spec.intended_age_years) == (1.0, 0.0, (1.0, 6.0))
    assert (card.name, card.version, card.sha256, card.model_file) == (spec.name, spec.version, spec.sha256, spec.file)


def test_bundled_card_spec_agrees_with_the_code() -> None:
    if not (model_dir() / "model_card.json").exists():
        pytest.skip("no bundled model yet")
    spec = ModelCard.load(model_dir()).spec
    assert spec.input == InputSpec() and spec.spec_version == 1
    assert spec.default_operating_point == "balanced"


@pytest.mark.parametrize(("entry", "value", "words"), [
    ("size", 224, "input size 224 disagrees with this program's preprocessing (192 x 192)"),
    ("size", None, "input size None disagrees"),
    ("channels", 3, "input channels 3 disagree"),
    ("range", [0.0, 1.0], "input range [0.0, 1.0] disagrees"),
    ("function", "other.preprocess", "input function 'other.preprocess' is not this program's"),
    ("preprocessing", "resize to 224x224, ImageNet mean/std", "input preprocessing disagrees"),
])  # fmt: skip
def test_a_card_whose_input_disagrees_with_preprocess_is_refused(tmp_path, entry, value, words) -> None:
    data = synthetic_card()
    data["input"] = {**data["input"], entry: value}
    with pytest.raises(CardError, match=re.escape(words)):
        ModelCard(data)
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    with pytest.raises(CardError, match="input"):
        ModelCard.load(tmp_path)


def test_full_input_entry_as_finalize_writes_it_is_accepted() -> None:
    entry = {"size": INPUT_SIZE, "channels": 1, "range": [-1.0, 1.0],
             "preprocessing": PREPROCESSING_DESCRIPTION,
             "function": "xray_desktop.model.preprocess.preprocess"}
    assert ModelCard(synthetic_card(input=entry)).spec.input == InputSpec()


def test_spec_version_newer_than_the_code_is_refused_and_extra_keys_are_ignored() -> None:
    ensemble = {"members": [{"file": "m2.keras", "sha256": "1" * 64}], "combine": "mean-logit"}
    card = ModelCard(synthetic_card(spec_version=SPEC_VERSION, ensemble=ensemble, future_section={"x": 1}))
    assert card.spec.spec_version == SPEC_VERSION
    with pytest.raises(CardError, match=f"spec_version {SPEC_VERSION + 1}, newer than this program"):
        ModelCard(synthetic_card(spec_version=SPEC_VERSION + 1))
    for bad in (0, "1", True, 1.0):
        with pytest.raises(CardError, match="spec_version must be a positive integer"):
            ModelCard(synthetic_card(spec_version=bad))


@pytest.mark.parametrize(("change", "words"), [
    ({"calibration": {"temperature": 0.0}}, "temperature must be positive"),
    ({"calibration": 1.0}, "calibration must be an object"),
    ({"calibration": {"temperature": "1"}}, "temperature must be a finite number"),
    ({"calibration": {"temperature": 1.0, "bias": float("nan")}}, "bias must be a finite number"),
    ({"default_operating_point": "fast"}, "default operating point is not among"),
])  # fmt: skip
def test_malformed_calibration_and_operating_points_are_refused(change, words) -> None:
    with pytest.raises(CardError, match=words):
        ModelCard(synthetic_card(**change))


def test_operating_point_figures_are_typed_and_bounded() -> None:
    data = synthetic_card()
    data["operating_points"]["balanced"] = {"threshold": 1.5, "sensitivity": 0.9, "specificity": 0.9}
    with pytest.raises(CardError, match="'balanced' has figures outside"):
        ModelCard(data)
    data["operating_points"]["balanced"] = {"threshold": "0.5", "sensitivity": 0.9, "specificity": 0.9}
    with pytest.raises(CardError, match="'balanced' threshold must be a finite number"):
        ModelCard(data)
    del data["operating_points"]["high-specificity"]
    with pytest.raises(CardError, match="no 'high-specificity' operating point"):
        ModelSpec.from_card(data)


def test_per_model_settings_never_share_a_key() -> None:
    a, b = "ab" * 32, "CD" * 32
    key_a = settings.model_setting_key(settings.THRESHOLD, a)
    assert key_a == (f"models/{a}/ai/threshold", None)
    assert settings.model_setting_key(settings.THRESHOLD, b)[0] == f"models/{'cd' * 32}/ai/threshold"
    assert settings.model_setting_key(settings.OPERATING_POINT, a) == (f"models/{a}/ai/operating_point", "")
    assert key_a[0] != settings.THRESHOLD[0]  # the old global value belongs to no model
    with pytest.raises(ValueError, match="not a per-model setting"):
        settings.model_setting_key(settings.PREVALENCE, a)
    for bad in ("", "abc", "g" * 64):
        with pytest.raises(ValueError, match="SHA-256"):
            settings.model_setting_key(settings.THRESHOLD, bad)
