"""Single-case randomization test for phase designs (AB, ABA, ABAB, ...), as SCRT does it.

Why this null distribution: in a randomized phase design the random element is *where the phases change*, not
which observation gets which label (Onghena 1992; Bulté & Onghena 2008, R package SCRT). So the reference set is
every placement of the k − 1 phase-change points that keeps the observed order of conditions and gives every
phase at least L points: with n observations there are C(n − kL + k − 1, k − 1) of them (stars and bars on the
slack n − kL). A free shuffle of labels would break the serial structure and overstate significance.

This module is also the one import point for every single-case randomization test: the alternating-treatments,
multiple-baseline and changing-criterion tests (package ``randomization_designs``, one module per design), their
reference-set counts and the registration arithmetic (can a design reach alpha?) are re-exported here. The
exact/Monte Carlo, tie and result conventions below are shared by all of them (``randomization_designs.core``).

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

import numpy as np

from americano_pipeline.stats.effect_sizes import cohens_d
from americano_pipeline.stats.phases import PhaseBlock, parse_series
from americano_pipeline.stats.randomization_designs.alternating import (
    alternating_treatments_test,
    count_alternating_sequences,
)
from americano_pipeline.stats.randomization_designs.changing_criterion import changing_criterion_test
from americano_pipeline.stats.randomization_designs.core import (
    ALTERNATIVES,
    TEST_TEXT,
    VERDICT_TEXT,
    RandomizationResult,
    attainability_caveats,
    cohens_d_text,
    count_admissible_assignments,
    difference_text,
    enumerate_phase_lengths,
    interpretation_text,
    make_result,
    p_value,
    phase_reference_set,
    sample_phase_lengths,
    source_text,
    tie_tolerance,
)
from americano_pipeline.stats.randomization_designs.multiple_baseline import (
    SCHEMES,
    count_multiple_baseline_assignments,
    multiple_baseline_test,
)
from americano_pipeline.stats.randomization_designs.registration import (
    AlphaCheck,
    alpha_check,
    phase_design_alpha_check,
    smallest_attainable_p,
)
from americano_pipeline.stats.standards import wwc_verdict
from americano_pipeline.stats.validation import check_choice, check_positive_int

__all__ = [
    "SCHEMES",
    "AlphaCheck",
    "RandomizationResult",
    "alpha_check",
    "alternating_treatments_test",
    "changing_criterion_test",
    "count_admissible_assignments",
    "count_alternating_sequences",
    "count_multiple_baseline_assignments",
    "enumerate_phase_lengths",
    "multiple_baseline_test",
    "phase_design_alpha_check",
    "phase_randomization_test",
    "sample_phase_lengths",
    "smallest_attainable_p",
]

STATISTICS = ("mean_difference", "phase_mean_difference")


def _statistics(cumulative: np.ndarray, lengths: np.ndarray, is_b: np.ndarray, statistic: str) -> np.ndarray:
    ends = np.cumsum(lengths, axis=1)
    sums = cumulative[ends] - cumulative[ends - lengths]
    if statistic == "mean_difference":
        mean_b = sums[:, is_b].sum(axis=1) / lengths[:, is_b].sum(axis=1)
        mean_a = sums[:, ~is_b].sum(axis=1) / lengths[:, ~is_b].sum(axis=1)
        return mean_b - mean_a
    means = sums / lengths
    return means[:, is_b].mean(axis=1) - means[:, ~is_b].mean(axis=1)


def _interpretation(
    *, observed: float, d: float | None, p: float, statistic: str, alternative: str, n_assignments: int,
    exact: bool, n_draws: int, blocks: tuple[PhaseBlock, ...], verdict: str,
) -> str:
    measure = "pooled means" if statistic == "mean_difference" else "mean of phase means"
    shortest = min(block.length for block in blocks)
    caveats = [
        f"the design {VERDICT_TEXT[verdict]} ({len(blocks)} phases, shortest {shortest} points)",
        "the p-value is only valid if the phase changes were randomly chosen among these placements in advance",
        *attainability_caveats(n_assignments, exact, "placements"),
    ]
    source = source_text(n_assignments, exact, n_draws, "admissible phase-change placements")
    return interpretation_text(
        f"{difference_text(observed, measure)}; {cohens_d_text(d)})", p, TEST_TEXT[alternative], source, caveats
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
    observed_lengths = np.array([[block.length for block in blocks]], dtype=np.int64)
    is_b = np.array([block.label == "B" for block in blocks])
    centered = numbers - numbers.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(centered)])

    reference = phase_reference_set(numbers.size, len(blocks), min_phase_length)
    lengths, exact = reference.assignments(observed_lengths, n_permutations, seed)
    distribution = _statistics(cumulative, lengths, is_b, statistic)
    observed = float(_statistics(cumulative, observed_lengths, is_b, statistic)[0])
    p = p_value(distribution, observed, alternative, tie_tolerance(centered))

    labels = np.repeat([block.label for block in blocks], observed_lengths[0])
    d = cohens_d(numbers[labels == "A"], numbers[labels == "B"])
    verdict, _ = wwc_verdict(blocks)
    text = _interpretation(
        observed=observed, d=d, p=p, statistic=statistic, alternative=alternative, n_assignments=reference.size,
        exact=exact, n_draws=n_permutations, blocks=blocks, verdict=verdict,
    )
    return make_result(
        observed=observed, p=p, effect_size=d, interpretation=text, distribution=distribution, verdict=verdict,
        n_assignments=reference.size, exact=exact,
    )
