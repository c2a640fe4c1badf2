"""Detected change points against the planned phase changes of the design.

Conventions: distances are in calendar days, signed as detected minus planned (positive: the data changed after
the planned date). A planned change is "matched" when a detected change lies within ``tolerance_days`` of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _iso(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def _nearest(day: pd.Timestamp, candidates: list[pd.Timestamp]) -> tuple[str | None, int | None]:
    if not candidates:
        return None, None
    best = min(candidates, key=lambda other: (abs((day - other).days), other))
    return _iso(best), int((day - best).days)


def compare_change_points(detected: list[pd.Timestamp], planned: list[pd.Timestamp], tolerance_days: int) -> dict:
    """Each detected change's nearest planned change and vice versa, with signed day distances (module doc)."""
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
    return {
        "toleranceDays": int(tolerance_days),
        "detected": detected_rows,
        "planned": planned_rows,
        "matchedPlanned": sum(row["matched"] for row in planned_rows),
        "unmatchedDetected": sum(d > tolerance_days for d in distances),
        "meanAbsoluteDistanceDays": float(np.mean(distances)) if distances else None,
    }
