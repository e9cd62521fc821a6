"""The model spec: the typed, versioned part of the model card that the code relies on.

``model_card.json`` (written by ``training/finalize.py``) is mostly documentation; the code
relies on a few entries only: the model's identity, its input, its calibration, its named
operating points and its intended ages. ``ModelSpec.from_card`` reads those, types them and
checks them, raising ``CardError`` with what is wrong. A card's ``input`` must agree with
``model.preprocess`` (size, channels, value range, the function and its description): a
model trained on other preprocessing would give confident nonsense, so it is refused.

Other keys (documentation, an ensemble's members, future sections) are ignored here, so a
newer card still loads as long as its ``spec_version`` is one this code understands. A card
without ``spec_version`` is version 1 (the bundled card predates the key; adding it would
change the pinned card identity in ``model/trust.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xray_desktop.model.preprocess import INPUT_SIZE, PREPROCESSING_DESCRIPTION

SPEC_VERSION = 1
PREPROCESS_FUNCTION = "xray_desktop.model.preprocess.preprocess"
INPUT_CHANNELS = 1
INPUT_RANGE = (-1.0, 1.0)
# Intended ages, [from, to): in scope when from <= age < to (years). Optional.
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


@dataclass(frozen=True)
class InputSpec:
    """What the model takes: checked equal to ``model.preprocess`` when read from a card."""

    size: int = INPUT_SIZE
    channels: int = INPUT_CHANNELS
    value_range: tuple[float, float] = INPUT_RANGE
    function: str = PREPROCESS_FUNCTION
    preprocessing: str = PREPROCESSING_DESCRIPTION


@dataclass(frozen=True)
class ModelSpec:
    """The card entries the code uses, typed. Build with ``from_card``."""

    spec_version: int
    name: str
    version: str
    file: str
    sha256: str
    input: InputSpec
    temperature: float
    bias: float
    operating_points: tuple[OperatingPoint, ...]  # in the card's order
    default_operating_point: str
    intended_age_years: tuple[float, float] | None

    @classmethod
    def from_card(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Read and check the spec in a card's JSON object; CardError says what is wrong."""
        version = data.get("spec_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise CardError(f"model card's spec_version must be a positive integer, not {version!r}")
        if version > SPEC_VERSION:
            raise CardError(f"model card has spec_version {version}, newer than this program understands "
                            f"({SPEC_VERSION}); please update xray_desktop")
        ops = _operating_points(data["operating_points"])
        default = str(data["default_operating_point"])
        if default not in {op.name for op in ops}:
            raise CardError("model card's default operating point is not among its operating points")
        return cls(
            spec_version=version, name=str(data["name"]), version=str(data["version"]), file=str(data["file"]),
            sha256=str(data["sha256"]), input=_input(data["input"]), temperature=_temperature(data["calibration"]),
            bias=_number(data["calibration"].get("bias", 0.0), "calibration bias"), operating_points=ops,
            default_operating_point=default, intended_age_years=age_range(data.get(AGE_KEY)),
        )  # fmt: skip

    def operating_point(self, name: str) -> OperatingPoint:
        """The named operating point; CardError naming the known ones otherwise."""
        for op in self.operating_points:
            if op.name == name:
                return op
        known = ", ".join(sorted(op.name for op in self.operating_points))
        raise CardError(f"unknown operating point '{name}' (known: {known})")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CardError(f"model card's {what} must be a finite number, not {value!r}")
    return float(value)


def _temperature(calibration: Any) -> float:
    if not isinstance(calibration, Mapping):
        raise CardError("model card's calibration must be an object")
    t = _number(calibration["temperature"], "calibration temperature")
    if t <= 0:
        raise CardError(f"model card's calibration temperature must be positive, not {t!r}")
    return t


def _input(value: Any) -> InputSpec:
    """The card's ``input``, refused unless it is what ``model.preprocess`` produces."""
    if not isinstance(value, Mapping):
        raise CardError("model card's input must be an object")
    code = InputSpec()
    size = value.get("size")
    if size != code.size:
        raise CardError(f"model card's input size {size!r} disagrees with this program's preprocessing "
                        f"({code.size} x {code.size}); the model needs other code")
    channels = value.get("channels", code.channels)
    if channels != code.channels:
        raise CardError(f"model card's input channels {channels!r} disagree with this program's preprocessing "
                        f"({code.channels})")
    lo_hi = value.get("range", list(code.value_range))
    if not isinstance(lo_hi, list | tuple) or list(lo_hi) != list(code.value_range):
        raise CardError(f"model card's input range {lo_hi!r} disagrees with this program's preprocessing "
                        f"({list(code.value_range)})")
    function = value.get("function", code.function)
    if function != code.function:
        raise CardError(f"model card's input function {function!r} is not this program's preprocessing "
                        f"({code.function})")
    described = value.get("preprocessing", code.preprocessing)
    if described != code.preprocessing:
        raise CardError("model card's input preprocessing disagrees with this program's preprocessing "
                        f"({code.preprocessing!r}); the model needs other code")
    return code


def _operating_points(value: Any) -> tuple[OperatingPoint, ...]:
    if not isinstance(value, Mapping):
        raise CardError("model card's operating_points must be an object")
    for name in OPERATING_POINTS:
        if name not in value:
            raise CardError(f"model card has no '{name}' operating point")
    ops = []
    for name, op in value.items():
        figures = [_number(op[k], f"operating point '{name}' {k}") for k in ("threshold", "sensitivity", "specificity")]
        if not all(0.0 <= f <= 1.0 for f in figures):
            raise CardError(f"model card's operating point '{name}' has figures outside [0, 1]")
        ops.append(OperatingPoint(str(name), *figures))
    return tuple(ops)


def age_range(value: Any) -> tuple[float, float] | None:
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
