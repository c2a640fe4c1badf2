"""Where the accrued data of a protocol stand against its group-sequential boundaries.

Conventions:
- The sequential statistic is the Welch z of the B-vs-A mean difference,
  z = (mean_B - mean_A) / sqrt(s_A^2/n_A + s_B^2/n_B), on the phase-design observations in time order (washout
  and unmeasured days excluded), evaluated on the first n_k observations at every planned look k the data have
  reached and on all observations now. It treats days as independent, so with autocorrelated outcomes it
  overstates |z|; read it as a monitoring aid, and the randomization test as the confirmatory analysis.
- A look "crosses" when |z| >= its critical value (``sides=2``) or z >= it (``sides=1``, B > A). As in any
  group-sequential plan, the first crossing look is where the trial could have stopped.
"""

from __future__ import annotations

import numpy as np


def welch_z(values: np.ndarray, labels: np.ndarray) -> float | None:
    """Welch z of mean(B) - mean(A); None when a condition has fewer than 2 values or both have no spread."""
    a, b = values[labels == "A"], values[labels == "B"]
    if a.size < 2 or b.size < 2:
        return None
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return float((b.mean() - a.mean()) / se) if se > 0 else None


def _crosses(z: float | None, critical: float, sides: int) -> bool:
    return z is not None and (abs(z) if sides == 2 else z) >= critical


def accrual_position(values, labels, boundaries: list[dict], sides: int) -> dict:
    """z at every reached look and now, the current look's boundary, and whether (and where) it was crossed.

    ``boundaries`` are ``SequentialResult.to_dict()["boundaries"]`` ({"n", "criticalValue", ...}).
    """
    values, labels = np.asarray(values, dtype=float), np.asarray(labels)
    n_observed = int(values.size)
    looks = []
    for number, boundary in enumerate(boundaries, start=1):
        if boundary["n"] > n_observed:
            break
        z = welch_z(values[: boundary["n"]], labels[: boundary["n"]])
        looks.append({"look": number, "n": boundary["n"], "criticalValue": boundary["criticalValue"], "z": z,
                      "crossed": _crosses(z, boundary["criticalValue"], sides)})
    first_crossing = next((look["look"] for look in looks if look["crossed"]), None)
    current = looks[-1] if looks else None
    z_now = welch_z(values, labels)
    return {
        "nObserved": n_observed,
        "nA": int((labels == "A").sum()),
        "nB": int((labels == "B").sum()),
        "z": z_now,
        "currentLook": None if current is None else current["look"],
        "currentCriticalValue": None if current is None else current["criticalValue"],
        "crossedNow": current is not None and _crosses(z_now, current["criticalValue"], sides),
        "firstCrossingLook": first_crossing,
        "looks": looks,
        "nextLookN": next((b["n"] for b in boundaries if b["n"] > n_observed), None),
    }
