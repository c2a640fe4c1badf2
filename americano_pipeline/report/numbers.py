"""Numbers for display: 3 significant digits (the raw values stay in ``result.json``)."""

from __future__ import annotations

import math

DIGITS = 3


def sig(value, digits: int = DIGITS) -> str:
    """``value`` rounded to ``digits`` significant digits, trailing zeros dropped (0.05, not 0.0500), in scientific
    notation below 1e-4 (integers and booleans as they are; ``None`` as an em dash)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4:
        return f"{value:.{digits - 1}e}"
    rounded = round(value, digits - 1 - magnitude)
    if digits - 1 - magnitude <= 0:
        return f"{int(rounded):,}"
    text = f"{rounded:.{digits - 1 - magnitude}f}".rstrip("0").rstrip(".")
    return "0" if float(text) == 0 else text


def interval(bounds, digits: int = DIGITS) -> str:
    """``[lo, hi]`` as ``"lo to hi"``; an em dash when there is none."""
    if not bounds or len(bounds) != 2 or any(b is None for b in bounds):
        return "—"
    return f"{sig(bounds[0], digits)} to {sig(bounds[1], digits)}"


def p_value(value) -> str:
    return "—" if value is None else sig(float(value))
