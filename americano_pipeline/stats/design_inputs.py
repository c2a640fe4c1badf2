"""Inputs of the single-case designs beyond phase reversals: outcome values, condition labels, phase plans.

Why a module of its own: the randomization tests of these designs and their WWC design standards read the same
arguments and must reject the same bad input with the same specific message, naming the argument (``conditions``,
``tiers[2]``, ``criteria[1]``), the position and the value. ``phases.parse_series`` does the same for reversal
designs, but its messages name ``phases`` and it requires contiguous phases, which alternating sequences, tiers
and changing-criterion plans are not. Positions are 0-based indices into the series.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from americano_pipeline.stats.phases import LABELS
from americano_pipeline.stats.validation import check_positive_int, regular_series


@dataclass(frozen=True)
class Run:
    """The longest run of one label: ``length`` observations from ``start`` (0-based)."""

    label: str
    start: int
    length: int

    def describe(self) -> str:
        return f"{self.label!r} {self.length} times in a row (positions {self.start}-{self.start + self.length - 1})"


def finite_values(values, name: str = "values") -> np.ndarray:
    """Outcome ``values`` in time order as floats; ``ValueError`` naming ``name`` and the position otherwise.

    A date-indexed ``pd.Series`` first goes through the shared ``regular_series`` validator, because these designs
    count observations, so a silently missing day would shift every later assignment.
    """
    if isinstance(values, pd.Series) and isinstance(values.index, pd.DatetimeIndex):
        values = regular_series(values, name=name, min_length=2)
    raw = pd.Series(values.to_numpy() if isinstance(values, pd.Series) else np.ravel(np.asarray(values, dtype=object)))
    if raw.size < 2:
        raise ValueError(f"{name} has {raw.size} observations; at least 2 are needed")
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    unreadable = np.flatnonzero(np.isnan(numbers) & raw.notna().to_numpy())
    if unreadable.size:
        position = int(unreadable[0])
        raise ValueError(f"{name} has non-numeric value {raw[position]!r} at position {position}")
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        shown = ", ".join(f"{numbers[i]} at position {i}" for i in bad[:5])
        raise ValueError(f"{name} has {bad.size} missing or non-finite values ({shown}); drop or fill them first")
    return numbers


def parse_conditions(conditions, name: str = "conditions") -> np.ndarray:
    """One label per observation, "A" (control/baseline) or "B" (treatment), both present; as a string array."""
    labels = list(conditions.to_numpy() if isinstance(conditions, pd.Series) else conditions)
    if not labels:
        raise ValueError(f"{name} is empty; give one label ('A' or 'B') per observation")
    for position, label in enumerate(labels):
        if not isinstance(label, str) or label not in LABELS:
            raise ValueError(
                f"{name} has label {label!r} at position {position}; every label must be 'A' (control/baseline) "
                "or 'B' (treatment)"
            )
    if len(set(labels)) < 2:
        raise ValueError(f"{name} has only condition {labels[0]!r} ({len(labels)} observations); both 'A' and 'B' "
                         "are needed")
    return np.array(labels)


def longest_run(labels: np.ndarray) -> Run:
    """The first longest run of identical labels (what a run limit such as 'at most 2 in a row' is checked on)."""
    edges = np.concatenate([[0], np.flatnonzero(labels[1:] != labels[:-1]) + 1, [labels.size]])
    longest = int(np.argmax(np.diff(edges)))
    start = int(edges[longest])
    return Run(label=str(labels[start]), start=start, length=int(edges[longest + 1] - start))


def check_index(value, name: str) -> int:
    """``value`` as an int index, or ``ValueError`` naming the argument (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole-number index, got {value!r}")
    return int(value)


def parse_phase_plan(phase_lengths, criteria) -> tuple[np.ndarray, tuple[float | None, ...]]:
    """Changing-criterion phases in order: their lengths (whole numbers >= 1) and criteria (None = baseline).

    At least two phases; one criterion per phase, each a finite number or None; at least one criterion to score;
    adjacent phases with the same criterion are refused, since without a criterion change they are one phase.
    """
    lengths = np.array([check_positive_int(x, f"phase_lengths[{j}]") for j, x in enumerate(phase_lengths)])
    if lengths.size < 2:
        raise ValueError(f"phase_lengths has {lengths.size} phase; a changing-criterion design needs at least 2")
    levels = list(criteria)
    if len(levels) != lengths.size:
        raise ValueError(
            f"criteria has {len(levels)} entries but phase_lengths has {lengths.size}; give one criterion per phase "
            "(None for a baseline phase)"
        )
    for j, level in enumerate(levels):
        if level is not None and (isinstance(level, bool) or not isinstance(level, Real) or not np.isfinite(level)):
            raise ValueError(f"criteria[{j}] is {level!r}; a criterion must be a finite number, or None for a "
                             "baseline phase")
    if all(level is None for level in levels):
        raise ValueError("criteria are all None; at least one phase needs a criterion to score the series against")
    for j in range(1, len(levels)):
        if levels[j] == levels[j - 1]:
            raise ValueError(
                f"criteria[{j}] repeats criteria[{j - 1}] ({levels[j]!r}); adjacent phases need different criteria, "
                "otherwise they are one phase"
            )
    return lengths, tuple(None if level is None else float(level) for level in levels)
