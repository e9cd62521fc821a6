"""The model card: what the model is, its validation ROC, thresholds and calibration."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xray_desktop.decision import Rates, RocTable, predictive_values
from xray_desktop.io.age import format_age

__all__ = ["CardError", "ModelCard", "OperatingPoint", "Rates", "predictive_values"]

CARD_FILE = "model_card.json"
REQUIRED = ("name", "version", "file", "sha256", "input", "calibration", "roc", "operating_points",
            "default_operating_point")
# Intended ages, [from, to): in scope when from <= age < to (years). Optional: a card without it
# checks no age.
AGE_KEY = "intended_age_years"
# Named operating points every card must offer (the GUI shows them as presets).
OPERATING_POINTS = ("high-sensitivity", "balanced", "high-specificity")


class CardError(Exception):
    """The model card is missing or malformed; ``str()`` says what is wrong."""


@dataclass(frozen=True)
class OperatingPoint:
    """A named threshold on the calibrated probability, with its validation rates."""

    name: str
    threshold: float
    sensitivity: float
    specificity: float


class ModelCard:
    """A parsed ``model_card.json``; read-only."""

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
        self._spec = np.array([r["specificity"] for r in roc], dtype=np.float64)
        for name in OPERATING_POINTS:
            if name not in data["operating_points"]:
                raise CardError(f"model card has no '{name}' operating point")
        if data["default_operating_point"] not in data["operating_points"]:
            raise CardError("model card's default operating point is not among its operating points")
        self._ages = _age_range(data.get(AGE_KEY))

    @classmethod
    def load(cls, model_dir: Path) -> ModelCard:
        """Read and validate ``model_dir/model_card.json``."""
        path = Path(model_dir) / CARD_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CardError(f"no model card at {path}") from None
        except (OSError, ValueError) as exc:
            raise CardError(f"model card {path.name} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise CardError("model card is not a JSON object")
        try:
            return cls(data, path)
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"model card is malformed: {exc}") from None

    # -- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def sha256(self) -> str:
        return str(self.data["sha256"])

    @property
    def model_file(self) -> str:
        return str(self.data["file"])

    @property
    def temperature(self) -> float:
        return float(self.data["calibration"]["temperature"])

    @property
    def bias(self) -> float:
        return float(self.data["calibration"].get("bias", 0.0))

    @property
    def default_operating_point(self) -> str:
        return str(self.data["default_operating_point"])

    # -- intended use -----------------------------------------------------------------
    @property
    def intended_age_years(self) -> tuple[float, float] | None:
        """(from, to) in years, in scope when from <= age < to; None when the card sets no range."""
        return self._ages

    def out_of_scope(self, age_years: float | None) -> str:
        """Why a study is outside the intended use, e.g. "outside intended use (age 62 y)"; "" if not.

        An unknown age (PNG/JPEG, a DICOM without age or dates) is not out of scope: the
        reader knows the patient; the README says so.
        """
        if self._ages is None or age_years is None or not math.isfinite(age_years):
            return ""
        lo, hi = self._ages
        return "" if lo <= age_years < hi else f"outside intended use (age {format_age(age_years)})"

    # -- thresholds -----------------------------------------------------------------
    def roc_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds ascending, sensitivity, specificity) of the validation ROC."""
        return self._t.copy(), self._sens.copy(), self._spec.copy()

    def operating_point(self, name: str | None = None) -> OperatingPoint:
        """A named operating point (the card's default when ``name`` is None)."""
        name = name or self.default_operating_point
        try:
            op = self.data["operating_points"][name]
        except KeyError:
            known = ", ".join(sorted(self.data["operating_points"]))
            raise CardError(f"unknown operating point '{name}' (known: {known})") from None
        return OperatingPoint(name, float(op["threshold"]), float(op["sensitivity"]), float(op["specificity"]))

    def operating_points(self) -> list[OperatingPoint]:
        """Every named operating point, most sensitive first."""
        ops = [self.operating_point(n) for n in self.data["operating_points"]]
        return sorted(ops, key=lambda o: o.threshold)

    def rates_at(self, threshold: float, prevalence: float = 0.3) -> Rates:
        """Validation sensitivity/specificity at ``threshold`` (interpolated) and PPV/NPV."""
        return self.roc_table().rates_at(threshold, prevalence)

    def roc_table(self) -> RocTable:
        """The validation ROC as a :class:`~xray_desktop.decision.RocTable`."""
        return RocTable(self._t, self._sens, self._spec)

    def calibrate(self, logit: float | np.ndarray) -> np.ndarray:
        """Calibrated probability from a raw logit (temperature + bias fitted on validation)."""
        from xray_desktop.model.metrics import sigmoid

        return sigmoid((np.asarray(logit, dtype=np.float64) + self.bias) / self.temperature)


def _age_range(value: Any) -> tuple[float, float] | None:
    """The card's ``intended_age_years`` [from, to] as floats; CardError when malformed."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise CardError(f"model card's {AGE_KEY} must be [from, to] in years, not {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise CardError(f"model card's {AGE_KEY} must be [from, to] with 0 <= from < to, not {value!r}")
    return lo, hi
