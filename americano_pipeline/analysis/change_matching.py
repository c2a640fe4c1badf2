"""Detected change points against the planned phase changes of the design.

Conventions: distances are in calendar days, signed as detected minus planned (positive: the data changed after
the planned date). A planned change is "matched" when a detected change lies within ``tolerance_days`` of it.

"Matched" alone is no evidence: with three planned changes and a 3-day tolerance, a few changes anywhere in a
40-day series match one of them often (on null AR(0.3) series, 44% of the time). So the comparison also gives
``matchedByChanceProbability``: the probability that as many detected changes as were found, placed uniformly at
random, would match at least as many planned changes. "At random" means uniformly over every admissible
segmentation the detector could have returned: k change points at series positions with every segment at least
``min_segment_length`` observations long. It is computed exactly, by a dynamic programme over the position of the
latest change and the number of planned changes matched so far (a new change matches exactly the planned changes
within tolerance of it that are not within tolerance of the previous one: both windows move forward in time),
so no sampling error. ``expectedMatchedByChance`` is the mean number matched under the same placement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _iso(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def _nearest(day: pd.Timestamp, candidates: list[pd.Timestamp]) -> tuple[str | None, int | None]:
    if not candidates:
        return None, None
    best = min(candidates, key=lambda other: (abs((day - other).days), other))
    return _iso(best), int((day - best).days)


def compare_change_points(detected: list[pd.Timestamp], planned: list[pd.Timestamp], tolerance_days: int, *,
                          dates: Sequence[pd.Timestamp], min_segment_length: int) -> dict:
    """Each detected change's nearest planned change and vice versa, with signed day distances, and the chance
    of matching as many planned changes by random placement (module doc).

    ``dates`` are the analysed series' dates (the positions a change can start at) and ``min_segment_length``
    the detector's minimum segment length.
    """
    detected_rows = []
    for day in detected:
        nearest, distance = _nearest(day, planned)
        detected_rows.append({"date": _iso(day), "nearestPlanned": nearest, "distanceDays": distance})
    planned_rows = []
    for day in planned:
        nearest, distance = _nearest(day, detected)
        planned_rows.append({
            "date": _iso(day), "nearestDetected": nearest,
            "distanceDays": None if distance is None else -distance,
            "matched": distance is not None and abs(distance) <= tolerance_days,
        })
    distances = [abs(row["distanceDays"]) for row in detected_rows if row["distanceDays"] is not None]
    matched = sum(row["matched"] for row in planned_rows)
    chance = matched_by_chance(len(detected), planned, tolerance_days, dates=dates,
                               min_segment_length=min_segment_length)
    return {
        "toleranceDays": int(tolerance_days),
        "detected": detected_rows,
        "planned": planned_rows,
        "matchedPlanned": matched,
        "matchedByChanceProbability": float(chance[matched:].sum()),
        "expectedMatchedByChance": float(np.arange(len(chance)) @ chance),
        "unmatchedDetected": sum(d > tolerance_days for d in distances),
        "meanAbsoluteDistanceDays": float(np.mean(distances)) if distances else None,
    }


def matched_by_chance(n_detected: int, planned: list[pd.Timestamp], tolerance_days: int, *,
                      dates: Sequence[pd.Timestamp], min_segment_length: int) -> np.ndarray:
    """P(c planned changes matched), c = 0..len(planned), for ``n_detected`` changes placed uniformly over the
    admissible segmentations of ``dates`` (module doc). Raises ``ValueError`` when none has that many changes."""
    index = pd.DatetimeIndex(dates)
    n, gap, size = len(index), int(min_segment_length), len(planned) + 1
    if n_detected == 0:
        return np.eye(size)[0]
    days = np.asarray((index - index[0]).days)
    targets = np.sort(np.asarray((pd.DatetimeIndex(planned) - index[0]).days))
    first = np.searchsorted(targets, days - tolerance_days, side="left")  # planned within tolerance of each
    last = np.searchsorted(targets, days + tolerance_days, side="right")  # position: targets[first:last]
    newly = np.maximum(0, last[None, :] - np.maximum(first[None, :], last[:, None]))  # [previous, next]
    position = np.arange(n)
    follows = position[None, :] - position[:, None] >= gap
    counts = np.zeros((n, size))  # placements of the changes so far ending at a position, by planned matched
    allowed = position >= gap
    counts[position[allowed], (last - first)[allowed]] = 1.0
    for _ in range(n_detected - 1):
        extended = np.zeros_like(counts)
        for step in range(size):
            extended[:, step:] += (follows & (newly == step)).T.astype(float) @ counts[:, :size - step]
        counts = extended
    total = counts[position <= n - gap].sum(axis=0)
    if total.sum() == 0:
        raise ValueError(f"{n_detected} changes with segments of at least {gap} do not fit in {n} observations")
    return total / total.sum()
