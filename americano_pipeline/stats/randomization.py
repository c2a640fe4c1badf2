"""Single-case randomization test for phase designs (AB, ABA, ABAB, ...), as SCRT does it.

Why this null distribution: in a randomized phase design the random element is *where the phases change*, not
which observation gets which label (Onghena 1992; Bulté & Onghena 2008, R package SCRT). So the reference set is
every placement of the k − 1 phase-change points that keeps the observed order of conditions and gives every
phase at least L points: with n observations there are C(n − kL + k − 1, k − 1) of them (stars and bars on the
slack n − kL). A free shuffle of labels would break the serial structure and overstate significance.

Conventions:
- statistic "mean_difference" = pooled B mean − pooled A mean; "phase_mean_difference" = mean of the B phase
  means − mean of the A phase means. alternative "greater" counts statistics >= observed, "less" <= observed,
  "two-sided" |statistic| >= |observed|, with a tie tolerance of 1e-9 × max(1, largest |centred value|) so
  floating-point noise never drops a tie (the data are centred first; both statistics are shift-invariant).
- Exact when the number of admissible assignments N <= n_permutations: p = #(extreme, observed included) / N.
  Otherwise Monte Carlo: n_permutations assignments drawn uniformly with replacement from the admissible set,
  plus the observed one, p = (1 + #extreme draws) / (n_permutations + 1) >= 1/(n_permutations + 1).
  permutationDistribution holds every admissible statistic (exact; lexicographic in the phase lengths) or the
  observed statistic followed by the draws (Monte Carlo); nAssignments is always the full count N.
- Every assignment's statistic comes from cumulative sums of the series (one vectorised pass; no Python loop
  over assignments).
- effectSize is the pipeline's one Cohen's d (``effect_sizes.cohens_d``), reported by
  ``single_case_effect_sizes`` under the name ``cohens_d``: all B observations vs all A observations with the
  pooled SD, d = (mean_B − mean_A) / sqrt(((n_A − 1)·s_A² + (n_B − 1)·s_B²) / (n_A + n_B − 2)), no small-sample
  correction; ``None`` (JSON null) when that SD is zero. One definition in both places, so the two reports never
  show two different "d" for the same data; the effect sizes' SMD_pooled (Hedges-corrected, within each AB pair,
  averaged over pairs) is a different index under its own name. Why this d rather than SMD_pooled: effectSize is
  public API specified as Cohen's d, and keeping its definition keeps every reported value; it ignores serial
  dependence, so read it as descriptive.
- passesSCEDStandards is True when the WWC verdict (``standards.wwc_verdict``) is "meets" or "meets with
  reservations": reservations still satisfy the standard, they only cap the evidence rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from americano_pipeline.stats.effect_sizes import cohens_d
from americano_pipeline.stats.phases import PhaseBlock, parse_series
from americano_pipeline.stats.validation import check_choice, check_positive_int
from americano_pipeline.stats.standards import wwc_verdict

STATISTICS = ("mean_difference", "phase_mean_difference")
ALTERNATIVES = ("greater", "less", "two-sided")
TIE_TOLERANCE = 1e-9
PASSING_VERDICTS = ("meets", "meets with reservations")
VERDICT_TEXT = {
    "meets": "meets the WWC design standard",
    "meets with reservations": "meets the WWC design standard with reservations",
    "does not meet": "does not meet the WWC design standard",
}


@dataclass(frozen=True)
class RandomizationResult:
    """Outcome of ``phase_randomization_test``; ``to_dict()`` is the study app's JSON shape (DESIGN.md §4)."""

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


def _statistics(cumulative: np.ndarray, lengths: np.ndarray, is_b: np.ndarray, statistic: str) -> np.ndarray:
    ends = np.cumsum(lengths, axis=1)
    sums = cumulative[ends] - cumulative[ends - lengths]
    if statistic == "mean_difference":
        mean_b = sums[:, is_b].sum(axis=1) / lengths[:, is_b].sum(axis=1)
        mean_a = sums[:, ~is_b].sum(axis=1) / lengths[:, ~is_b].sum(axis=1)
        return mean_b - mean_a
    means = sums / lengths
    return means[:, is_b].mean(axis=1) - means[:, ~is_b].mean(axis=1)


def _extreme(distribution: np.ndarray, observed: float, alternative: str, tolerance: float) -> np.ndarray:
    if alternative == "greater":
        return distribution >= observed - tolerance
    if alternative == "less":
        return distribution <= observed + tolerance
    return np.abs(distribution) >= abs(observed) - tolerance


def _interpretation(
    *, observed: float, d: float | None, p: float, statistic: str, alternative: str, n_assignments: int,
    n_draws: int | None, blocks: tuple[PhaseBlock, ...], verdict: str,
) -> str:
    direction = "higher" if observed > 0 else "lower" if observed < 0 else "no different"
    size = "" if observed == 0 else f"{abs(observed):.3g} "
    measure = "pooled means" if statistic == "mean_difference" else "mean of phase means"
    d_text = f"Cohen's d = {d:.2f}" if d is not None else "Cohen's d undefined: no variation"
    test = {"greater": "one-sided, B > A", "less": "one-sided, B < A", "two-sided": "two-sided"}[alternative]
    source = (
        f"exact over all {n_assignments:,} admissible phase-change placements"
        if n_draws is None
        else f"Monte Carlo from {n_draws:,} random draws among {n_assignments:,} admissible phase-change placements"
    )
    shortest = min(block.length for block in blocks)
    caveats = [
        f"the design {VERDICT_TEXT[verdict]} ({len(blocks)} phases, shortest {shortest} points)",
        "the p-value is only valid if the phase changes were randomly chosen among these placements in advance",
    ]
    if n_draws is None and 1 / n_assignments > 0.05:
        caveats.append(f"with {n_assignments} placements no p below {1 / n_assignments:.3g} is attainable")
    return (
        f"The outcome was {size}{direction} under B than under A ({measure}; {d_text}), "
        f"randomization p = {p:.3g} ({test}, {source}). Caveats: {'; '.join(caveats)}."
    )


def phase_randomization_test(
    values,
    phases,
    *,
    min_phase_length: int = 3,
    statistic: str = "mean_difference",
    alternative: str = "greater",
    n_permutations: int = 10_000,
    seed: int = 0,
) -> RandomizationResult:
    """SCRT-style randomization test of B vs A over all admissible phase-change placements (see module doc).

    values: outcomes in time order; phases: one "A"/"B" label per value forming contiguous phases, each at
    least ``min_phase_length`` long. Raises ``ValueError`` for bad labels or values (``phases.parse_series``),
    an unknown ``statistic``/``alternative``, or ``n_permutations``/``min_phase_length`` below 1.
    """
    check_choice(statistic, "statistic", STATISTICS)
    check_choice(alternative, "alternative", ALTERNATIVES)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    numbers, blocks = parse_series(values, phases, min_phase_length=min_phase_length)
    n, k = numbers.size, len(blocks)
    observed_lengths = np.array([[block.length for block in blocks]], dtype=np.int64)
    is_b = np.array([block.label == "B" for block in blocks])
    centered = numbers - numbers.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(centered)])

    n_assignments = count_admissible_assignments(n, k, min_phase_length)
    exact = n_assignments <= n_permutations
    if exact:
        lengths = enumerate_phase_lengths(n, k, min_phase_length)
    else:
        draws = sample_phase_lengths(n, k, min_phase_length, n_permutations, np.random.default_rng(seed))
        lengths = np.vstack([observed_lengths, draws])
    distribution = _statistics(cumulative, lengths, is_b, statistic)
    observed = float(_statistics(cumulative, observed_lengths, is_b, statistic)[0])
    tolerance = TIE_TOLERANCE * max(1.0, float(np.abs(centered).max()))
    p_value = int(_extreme(distribution, observed, alternative, tolerance).sum()) / distribution.size

    labels = np.repeat([block.label for block in blocks], observed_lengths[0])
    d = cohens_d(numbers[labels == "A"], numbers[labels == "B"])
    verdict, _ = wwc_verdict(blocks)
    return RandomizationResult(
        observed_effect=observed,
        p_value=float(p_value),
        effect_size=d,
        interpretation=_interpretation(
            observed=observed, d=d, p=p_value, statistic=statistic, alternative=alternative,
            n_assignments=n_assignments, n_draws=None if exact else n_permutations, blocks=blocks, verdict=verdict,
        ),
        permutation_distribution=tuple(distribution.tolist()),
        passes_sced_standards=verdict in PASSING_VERDICTS,
        n_assignments=int(n_assignments),
        exact=bool(exact),
    )
