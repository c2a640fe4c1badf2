"""Input checks shared by the time-series methods (ITS, change points).

Why a module of its own: every method must reject the same bad series with the same specific message
(which date, which value), and must never silently shift observations across a missing period.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

_SHOWN = 5


def _listed(values) -> str:
    shown = ", ".join(str(v) for v in list(values)[:_SHOWN])
    more = len(values) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def date_label(ts: pd.Timestamp) -> str:
    """ISO date for midnight timestamps (daily/weekly data), full ISO timestamp otherwise."""
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise ValueError naming the argument when it is not a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` when it is one of ``choices``; otherwise raise ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def regular_series(series: pd.Series, *, name: str = "series", min_length: int = 2) -> pd.Series:
    """Return ``series`` as float64 on a sorted, duplicate-free, gap-free DatetimeIndex with a frequency.

    Raises ``ValueError`` naming the offending dates/values when the index is not datetime-like, is unsorted,
    has duplicates, when values are missing or not finite, when the series is shorter than ``min_length``,
    or when periods are missing. Missing periods are an explicit error, never filled or shifted: the caller
    decides what an absent day means for its metric (a zero count, or a gap to drop) before calling.
    The frequency is inferred from the index (``pd.infer_freq``), so daily, weekly, hourly or monthly data
    all work; with fewer than three points the single step between them is used.
    """
    if not isinstance(series, pd.Series):
        raise ValueError(f"{name} must be a pandas Series indexed by date, got {type(series).__name__}")
    try:
        index = pd.DatetimeIndex(series.index)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be indexed by dates; its index could not be read as dates: {exc}") from None
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if len(index) < min_length:
        raise ValueError(f"{name} has {len(index)} observations; at least {min_length} are needed")
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ValueError(f"{name} has duplicated dates: {_listed([date_label(d) for d in duplicated.unique()])}")
    if not index.is_monotonic_increasing:
        position = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise ValueError(
            f"{name} dates are not sorted: {date_label(index[position])} (position {position}) comes after "
            f"{date_label(index[position - 1])}; sort the series by date first"
        )
    values = pd.to_numeric(pd.Series(series.to_numpy(), index=index), errors="coerce").astype("float64")
    bad = values[~np.isfinite(values.to_numpy())]
    if len(bad):
        raise ValueError(
            f"{name} has {len(bad)} missing or non-finite values on "
            f"{_listed([date_label(d) for d in bad.index])}; fill or drop them explicitly before the analysis"
        )
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is None:
        step = index[1:] - index[:-1]
        smallest = step.min()
        expected = pd.date_range(index[0], index[-1], freq=smallest)
        missing = expected.difference(index)
        if len(missing) or len(expected) != len(index):
            raise ValueError(
                f"{name} is not regularly spaced: {len(missing)} missing periods at a step of {smallest} "
                f"({_listed([date_label(d) for d in missing])}); add the missing periods explicitly "
                "(with the value that absence means for the metric) or analyse a gap-free range"
            )
        freq = pd.tseries.frequencies.to_offset(smallest)
    values.index = pd.DatetimeIndex(index, freq=freq)
    return values
