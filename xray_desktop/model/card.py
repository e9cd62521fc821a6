"""The model card: what the model is, its validation ROC, thresholds and calibration."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.decision import Rates, RocTable, predictive_values
from xray_desktop.io.age import format_age
from xray_desktop.model.spec import AGE_KEY, OPERATING_POINTS, CardError, ModelSpec, OperatingPoint
from xray_desktop.settings import PREVALENCE

__all__ = ["AGE_KEY", "OPERATING_POINTS", "CardError", "ModelCard", "ModelSpec", "OperatingPoint", "Rates",
           "predictive_values"]

CARD_FILE = "model_card.json"
REQUIRED = ("name", "version", "file", "sha256", "input", "calibration", "roc", "operating_points",
            "default_operating_point")


def read_json_object(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object in ``path`` (a model card, a site profile); ``error`` with one line otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"no {what} at {path}") from None
    except (OSError, ValueError) as exc:
        raise error(f"{what} {path.name} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path.name} is not a {what} (not a JSON object)")
    return data


class ModelCard:
    """A parsed ``model_card.json``; read-only.

    ``spec`` holds the typed entries the code uses (``model/spec.py``); ``data`` the whole
    card, for the documentation sections shown to people.
    """

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise CardError(f"model card lacks {', '.join(missing)}")
        self.data = data
        self.path = path
        roc = sorted(data["roc"], key=lambda r: r["threshold"])
        if len(roc) < 2:
            raise CardError("model card ROC table has fewer than two rows")
        self._t = np.array([r["threshold"] for r in roc], dtype=np.float64)
        self._sens = np.array([r["sensitivity"] for r in roc], dtype=np.float64)
        self._specificity = np.array([r["specificity"] for r in roc], dtype=np.float64)
        self.spec = ModelSpec.from_card(data)

    @classmethod
    def load(cls, model_dir: Path) -> ModelCard:
        """Read and validate ``model_dir/model_card.json``."""
        path = Path(model_dir) / CARD_FILE
        data = read_json_object(path, "model card", CardError)
        try:
            return cls(data, path)
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"model card is malformed: {exc}") from None

    # -- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def sha256(self) -> str:
        return self.spec.sha256

    @property
    def model_file(self) -> str:
        return self.spec.file

    @property
    def temperature(self) -> float:
        return self.spec.temperature

    @property
    def bias(self) -> float:
        return self.spec.bias

    @property
    def default_operating_point(self) -> str:
        return self.spec.default_operating_point

    # -- intended use -----------------------------------------------------------------
    @property
    def intended_age_years(self) -> tuple[float, float] | None:
        """(from, to) in years, in scope when from <= age < to; None when the card sets no range."""
        return self.spec.intended_age_years

    def out_of_scope(self, age_years: float | None) -> str:
        """Why a study is outside the intended use, e.g. "outside intended use (age 62 y)"; "" if not.

        An unknown age (PNG/JPEG, a DICOM without age or dates) is not out of scope: the
        reader knows the patient; the README says so.
        """
        ages = self.spec.intended_age_years
        if ages is None or age_years is None or not math.isfinite(age_years):
            return ""
        lo, hi = ages
        return "" if lo <= age_years < hi else f"outside intended use (age {format_age(age_years)})"

    # -- thresholds -----------------------------------------------------------------
    def roc_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds ascending, sensitivity, specificity) of the validation ROC."""
        return self._t.copy(), self._sens.copy(), self._specificity.copy()

    def operating_point(self, name: str | None = None) -> OperatingPoint:
        """A named operating point (the card's default when ``name`` is None)."""
        return self.spec.operating_point(name or self.default_operating_point)

    def operating_points(self) -> list[OperatingPoint]:
        """Every named operating point, most sensitive first."""
        return sorted(self.spec.operating_points, key=lambda o: o.threshold)

    def rates_at(self, threshold: float, prevalence: float = PREVALENCE[1]) -> Rates:
        """Validation sensitivity/specificity at ``threshold`` (interpolated) and PPV/NPV."""
        return self.roc_table().rates_at(threshold, prevalence)

    def roc_table(self) -> RocTable:
        """The validation ROC as a :class:`~xray_desktop.decision.RocTable`."""
        return RocTable(self._t, self._sens, self._specificity)

    def calibrate(self, logit: float | np.ndarray) -> np.ndarray:
        """Calibrated probability from a raw logit (temperature + bias fitted on validation)."""
        from xray_desktop.model.metrics import sigmoid

        return sigmoid((np.asarray(logit, dtype=np.float64) + self.bias) / self.temperature)

