"""Per-observation phase labels → contiguous phases and AB pairs, shared by every single-case method.

Why a module of its own: the randomization test, the single-case effect sizes and the WWC design standard all
read the same ``phases`` argument (one label per observation, "A" = control/baseline, "B" = treatment, in time
order) and must reject the same bad input with the same specific message. Positions in messages are 0-based
indices into the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.validation import check_positive_int, regular_series

LABELS = ("A", "B")


@dataclass(frozen=True)
class PhaseBlock:
    """One contiguous block of identical labels: observations ``start`` .. ``stop - 1`` (0-based)."""

    number: int
    label: str
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    def describe(self) -> str:
        where = f"position {self.start}" if self.length == 1 else f"positions {self.start}-{self.stop - 1}"
        points = "1 point" if self.length == 1 else f"{self.length} points"
        return f"phase {self.number} ({self.label!r}, {where}, {points})"


def parse_phases(phases, *, min_phase_length: int = 1) -> tuple[PhaseBlock, ...]:
    """Split per-observation labels into contiguous phases (AB, ABA, ABAB, BABA, ...).

    Raises ``ValueError`` for an empty sequence, a label other than "A"/"B" (naming position and label), a design
    with only one condition, or a phase shorter than ``min_phase_length`` (naming phase number, label, positions
    and length).
    """
    min_phase_length = check_positive_int(min_phase_length, "min_phase_length")
    labels = list(phases.to_numpy() if isinstance(phases, pd.Series) else phases)
    if not labels:
        raise ValueError("phases is empty; give one label ('A' or 'B') per observation")
    for position, label in enumerate(labels):
        if not isinstance(label, str) or label not in LABELS:
            raise ValueError(
                f"phases has label {label!r} at position {position}; every label must be 'A' (control/baseline) "
                "or 'B' (treatment)"
            )
    present = sorted(set(labels))
    if len(present) < 2:
        raise ValueError(
            f"phases has only condition {present[0]!r} ({len(labels)} observations); a phase design needs both "
            "'A' and 'B'"
        )
    changes = [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    edges = [0, *changes, len(labels)]
    blocks = tuple(
        PhaseBlock(number=j + 1, label=labels[start], start=start, stop=stop)
        for j, (start, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    )
    for block in blocks:
        if block.length < min_phase_length:
            raise ValueError(
                f"{block.describe()} is shorter than min_phase_length={min_phase_length}; lengthen that phase "
                "or lower min_phase_length"
            )
    return blocks


def parse_series(values, phases, *, min_phase_length: int = 1) -> tuple[np.ndarray, tuple[PhaseBlock, ...]]:
    """Validate outcome ``values`` (time order) together with their ``phases``; return floats and the phases.

    A ``pd.Series`` indexed by dates goes through the shared ``regular_series`` validator (sorted, no duplicates,
    no missing periods), because the designs count observations, so a silently missing day would move a phase
    change. Raises ``ValueError`` for a length mismatch, non-numeric or non-finite values (naming the position),
    and everything ``parse_phases`` rejects.
    """
    if isinstance(values, pd.Series) and isinstance(values.index, pd.DatetimeIndex):
        if isinstance(phases, pd.Series) and not phases.index.equals(values.index):
            raise ValueError("phases and values are both Series but their indexes differ; align them by date first")
        values = regular_series(values, name="values", min_length=2)
    raw = list(values.to_numpy() if isinstance(values, pd.Series) else np.ravel(np.asarray(values, dtype=object)))
    n_phases = len(phases)
    if len(raw) != n_phases:
        raise ValueError(f"values has {len(raw)} observations but phases has {n_phases}; give one label per value")
    numbers = np.empty(len(raw), dtype=float)
    for position, value in enumerate(raw):
        try:
            numbers[position] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"values has non-numeric value {value!r} at position {position}") from None
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        shown = ", ".join(f"{numbers[i]} at position {i}" for i in bad[:5])
        raise ValueError(f"values has {bad.size} missing or non-finite values ({shown}); drop or fill them first")
    return numbers, parse_phases(phases, min_phase_length=min_phase_length)


def ab_pairs(blocks: Sequence[PhaseBlock]) -> list[tuple[PhaseBlock, PhaseBlock]]:
    """AB pairs as SingleCaseES forms them: pair i = the i-th A phase with the B phase right after it.

    A leading B phase (BABA) or a trailing A phase (ABA) has no partner and is left out. Raises ``ValueError``
    when no A phase is followed by a B phase (a BA design), since every pairwise effect size needs a baseline
    before its treatment phase.
    """
    pairs = [(first, second) for first, second in zip(blocks[:-1], blocks[1:]) if first.label == "A"]
    if not pairs:
        raise ValueError(
            f"no A phase is followed by a B phase in {''.join(b.label for b in blocks)}; the effect sizes compare "
            "each baseline (A) with the treatment (B) phase that follows it"
        )
    return pairs
