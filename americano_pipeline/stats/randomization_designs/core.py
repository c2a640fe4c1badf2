"""What every single-case randomization test shares: result, reference set, extremeness, p-value, wording.

Why one module: the phase, alternating-treatments, multiple-baseline and changing-criterion tests differ only in
their reference set (the assignments the design's randomization could have produced) and their statistic. The
rules that make a p-value publishable are the same for all of them and live here once:
- exact when the reference set has at most ``n_permutations`` members: every member is evaluated and
  p = #(at least as extreme, observed included) / N;
- Monte Carlo otherwise: ``n_permutations`` members drawn uniformly with replacement, plus the observed one,
  p = (1 + #extreme draws) / (n_permutations + 1), never below 1/(n_permutations + 1);
- ties count as extreme within 1e-9 × max(1, largest |centred value|), so floating-point noise never drops one;
- ``RandomizationResult`` fields are plain JSON types.
The phase-length combinatorics (compositions of n into k parts of at least L) live here too because the phase
test and the changing-criterion test both randomize where phases change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numpy as np

ALTERNATIVES = ("greater", "less", "two-sided")
TIE_TOLERANCE = 1e-9
CONVENTIONAL_ALPHA = 0.05
PASSING_VERDICTS = ("meets", "meets with reservations")
VERDICT_TEXT = {
    "meets": "meets the WWC design standard",
    "meets with reservations": "meets the WWC design standard with reservations",
    "does not meet": "does not meet the WWC design standard",
}
TEST_TEXT = {"greater": "one-sided, B > A", "less": "one-sided, B < A", "two-sided": "two-sided"}


@dataclass(frozen=True)
class RandomizationResult:
    """Outcome of a single-case randomization test; ``to_dict()`` is the study app's JSON shape (DESIGN.md §4).

    ``effect_size`` and ``passes_sced_standards`` are defined per design in each test's docstring;
    ``n_assignments`` is always the full size of the reference set, also when the p-value is Monte Carlo.
    """

    observed_effect: float
    p_value: float
    effect_size: float | None
    interpretation: str
    permutation_distribution: tuple[float, ...]
    passes_sced_standards: bool
    n_assignments: int
    exact: bool

    def to_dict(self) -> dict:
        return {
            "observedEffect": self.observed_effect,
            "pValue": self.p_value,
            "effectSize": self.effect_size,
            "interpretation": self.interpretation,
            "permutationDistribution": list(self.permutation_distribution),
            "passesSCEDStandards": self.passes_sced_standards,
            "nAssignments": self.n_assignments,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class ReferenceSet:
    """A design's reference set: its exact size and how to list or uniformly sample its members.

    Members are rows of a 2-D integer or boolean array (phase lengths, start indices, condition labels); the
    design's statistic maps such an array to one value per row. ``enumerate`` is only called when ``size`` is at
    most ``n_permutations``, so it never has to build a set too large to hold.
    """

    size: int
    enumerate: Callable[[], np.ndarray]
    sample: Callable[[int, np.random.Generator], np.ndarray]

    def assignments(self, observed: np.ndarray, n_permutations: int, seed: int) -> tuple[np.ndarray, bool]:
        """Every member (exact) or the observed row followed by ``n_permutations`` seeded uniform draws."""
        if self.size <= n_permutations:
            return self.enumerate(), True
        draws = self.sample(n_permutations, np.random.default_rng(seed))
        return np.concatenate([observed, draws]), False


def tie_tolerance(centered: np.ndarray) -> float:
    """1e-9 × max(1, largest |value|) of the centred data the statistics are computed from."""
    return TIE_TOLERANCE * max(1.0, float(np.abs(centered).max()))


def extreme(distribution: np.ndarray, observed: float, alternative: str, tolerance: float) -> np.ndarray:
    """Which statistics are at least as extreme as ``observed`` ("greater": larger, "less": smaller)."""
    if alternative == "greater":
        return distribution >= observed - tolerance
    if alternative == "less":
        return distribution <= observed + tolerance
    return np.abs(distribution) >= abs(observed) - tolerance


def p_value(distribution: np.ndarray, observed: float, alternative: str, tolerance: float) -> float:
    """Share of the distribution (observed assignment included) at least as extreme as the observed statistic."""
    return int(extreme(distribution, observed, alternative, tolerance).sum()) / distribution.size


def make_result(
    *, observed: float, p: float, effect_size: float | None, interpretation: str, distribution: np.ndarray,
    verdict: str, n_assignments: int, exact: bool,
) -> RandomizationResult:
    """The result with every field as a plain JSON type (no numpy scalars)."""
    return RandomizationResult(
        observed_effect=float(observed),
        p_value=float(p),
        effect_size=None if effect_size is None else float(effect_size),
        interpretation=interpretation,
        permutation_distribution=tuple(distribution.tolist()),
        passes_sced_standards=verdict in PASSING_VERDICTS,
        n_assignments=int(n_assignments),
        exact=bool(exact),
    )


def difference_text(observed: float, measure: str) -> str:
    """'The outcome was 3 higher under B than under A (<measure>' — the opening of a B-vs-A interpretation."""
    direction = "higher" if observed > 0 else "lower" if observed < 0 else "no different"
    size = "" if observed == 0 else f"{abs(observed):.3g} "
    return f"The outcome was {size}{direction} under B than under A ({measure}"


def cohens_d_text(d: float | None) -> str:
    """How an interpretation names the pooled-SD Cohen's d, or says why there is none."""
    return f"Cohen's d = {d:.2f}" if d is not None else "Cohen's d undefined: no variation"


def source_text(n_assignments: int, exact: bool, n_draws: int, members: str) -> str:
    """Where the p-value comes from: all members of the reference set, or how many random draws among them."""
    if exact:
        return f"exact over all {n_assignments:,} {members}"
    return f"Monte Carlo from {n_draws:,} random draws among {n_assignments:,} {members}"


def attainability_caveats(n_assignments: int, exact: bool, noun: str) -> list[str]:
    """The caveat an exact test owes its reader when its smallest attainable p is above 0.05."""
    if exact and 1 / n_assignments > CONVENTIONAL_ALPHA:
        return [f"with {n_assignments} {noun} no p below {1 / n_assignments:.3g} is attainable"]
    return []


def interpretation_text(opening: str, p: float, test: str, source: str, caveats: list[str]) -> str:
    """One sentence of effect, p and its source, then the caveats a reader needs to judge them."""
    return f"{opening}, randomization p = {p:.3g} ({test}, {source}). Caveats: {'; '.join(caveats)}."


def count_admissible_assignments(n_observations: int, n_phases: int, min_phase_length: int) -> int:
    """C(n − kL + k − 1, k − 1): placements of k phases of at least L points each on n observations."""
    slack = n_observations - n_phases * min_phase_length
    return comb(slack + n_phases - 1, n_phases - 1) if slack >= 0 else 0


def enumerate_phase_lengths(n_observations: int, n_phases: int, min_phase_length: int) -> np.ndarray:
    """Every admissible assignment as a row of phase lengths (each >= L, summing to n), lexicographic order.

    Built by extending all partial rows one phase at a time (a loop over the k phases, not over assignments).
    """
    slack = n_observations - n_phases * min_phase_length
    rows = np.zeros((1, 0), dtype=np.int64)
    remaining = np.array([slack], dtype=np.int64)
    for _ in range(n_phases - 1):
        choices = remaining + 1
        first = np.repeat(np.cumsum(choices) - choices, choices)
        extra = np.arange(choices.sum()) - first
        rows = np.column_stack([np.repeat(rows, choices, axis=0), extra])
        remaining = np.repeat(remaining, choices) - extra
    return np.column_stack([rows, remaining]) + min_phase_length


def sample_phase_lengths(
    n_observations: int, n_phases: int, min_phase_length: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` admissible assignments drawn uniformly (with replacement) from all of them.

    Stars and bars: an assignment is a (k − 1)-subset of the slack + k − 1 slots; the subset is drawn without
    replacement one bar at a time, the j-th draw indexing the slots not taken yet, which makes every subset
    equally likely. Memory is O(size·k) whatever n is.
    """
    slack = n_observations - n_phases * min_phase_length
    slots = slack + n_phases - 1
    bars = np.empty((size, n_phases - 1), dtype=np.int64)
    for j in range(n_phases - 1):
        pick = rng.integers(0, slots - j, size=size)
        for taken in np.sort(bars[:, :j], axis=1).T:
            pick += pick >= taken
        bars[:, j] = pick
    bars.sort(axis=1)
    edges = np.column_stack([np.full(size, -1), bars, np.full(size, slots)])
    return np.diff(edges, axis=1) - 1 + min_phase_length


def phase_reference_set(n_observations: int, n_phases: int, min_phase_length: int) -> ReferenceSet:
    """Every split of n observations into k phases of at least L points, as rows of phase lengths."""
    return ReferenceSet(
        size=count_admissible_assignments(n_observations, n_phases, min_phase_length),
        enumerate=lambda: enumerate_phase_lengths(n_observations, n_phases, min_phase_length),
        sample=lambda size, rng: sample_phase_lengths(n_observations, n_phases, min_phase_length, size, rng),
    )
