"""argparse value types shared by every sub-command: one message style for a bad number."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(
    low: int, high: int | None = None, what: str = "a whole number", name: str = ""
) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers in [low, high] (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"{low}..{high}"
            raise argparse.ArgumentTypeError(f"{name + ' ' if name else ''}must be {span}, got {value}")
        return value

    return parse


def fraction(name: str, *, zero_ok: bool = True) -> Callable[[str], float]:
    """An argparse ``type`` accepting a number in [0, 1] (or (0, 1] without ``zero_ok``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not ((0.0 <= value if zero_ok else 0.0 < value) and value <= 1.0):
            low = "between 0" if zero_ok else "above 0"
            raise argparse.ArgumentTypeError(f"{name} must be {low} and at most 1, got {value}")
        return value

    return parse
