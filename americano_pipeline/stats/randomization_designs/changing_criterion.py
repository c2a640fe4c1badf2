"""Randomization test for changing-criterion designs: does behaviour track the criterion where it changed?

Why this reference set: in a randomized changing-criterion design the random element is when each criterion
change happens (Onghena 1992; Ferron et al. 2019), as in a phase design. So the reference set is every split of
the series into the same number of phases, each at least ``min_phase_length`` points, with the criteria kept in
their order: C(n − kL + k − 1, k − 1) splits, listed and sampled by the same compositions code as the phase test.
If behaviour follows the criterion, the observed split fits the series better than almost any other split.

Statistic: the mean absolute deviation of each scored point from the criterion of its phase (baseline phases,
criterion None, are not scored); small is extreme, so the p-value is the share of splits fitting at least as
well. Every split's statistic comes from per-criterion cumulative sums of |value − criterion| (one vectorised pass).
Because a baseline is not scored, a split that only moves the baseline's end into the first criterion phase drops
scored points without losing fit: with a baseline, even perfect tracking ties with those splits, so its p-value is
(1 + their number) / N rather than 1/N (see the tests' hand-enumerated case).
"""

from __future__ import annotations

import numpy as np

from americano_pipeline.stats.design_inputs import finite_values, parse_phase_plan
from americano_pipeline.stats.randomization_designs.core import (
    VERDICT_TEXT,
    RandomizationResult,
    attainability_caveats,
    interpretation_text,
    make_result,
    p_value,
    phase_reference_set,
    source_text,
    tie_tolerance,
)
from americano_pipeline.stats.standards import wwc_changing_criterion_standard
from americano_pipeline.stats.validation import check_positive_int


def _check_lengths(lengths: np.ndarray, n: int, min_phase_length: int) -> None:
    if lengths.sum() != n:
        raise ValueError(f"phase_lengths sum to {lengths.sum()} but values has {n} observations; the phases must "
                         "cover the series")
    short = np.flatnonzero(lengths < min_phase_length)
    if short.size:
        j = int(short[0])
        raise ValueError(
            f"phase {j + 1} (phase_lengths[{j}]={lengths[j]}) is shorter than min_phase_length={min_phase_length}; "
            "the observed split must be one the randomization could produce"
        )


def _tracking_text(observed: float, reduction: float | None, n_scored: int) -> str:
    if reduction is None:
        relative = "every admissible split tracks the criteria perfectly"
    else:
        relative = f"tracking error {abs(reduction):.0%} {'below' if reduction >= 0 else 'above'} the average split's"
    return (
        f"The outcome was on average {observed:.3g} from its phase's criterion (mean absolute deviation over "
        f"{n_scored} scored points; {relative})"
    )


def changing_criterion_test(
    values,
    phase_lengths,
    criteria,
    *,
    min_phase_length: int = 3,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> RandomizationResult:
    """Randomization test that the series tracks the criteria at the observed phase changes (see module doc).

    values: outcomes in time order; phase_lengths: the observed length of every phase, in order; criteria: each
    phase's criterion level, None for a baseline phase. observedEffect: the mean absolute deviation from the
    criterion (small = close tracking). effectSize: 1 − observed / (mean statistic over the reference set, or over
    the draws when Monte Carlo): the share by which the observed split's tracking error is below the average
    admissible split's (1 = perfect tracking, 0 = no better than a random split, negative = worse); None when
    that average is zero. passesSCEDStandards: ``standards.wwc_changing_criterion_standard`` meets, with or
    without reservations (at least 3 criterion changes, at least 3 points per phase). Raises ``ValueError``
    naming the argument for bad values, lengths or criteria, lengths not summing to the series, or a phase
    shorter than ``min_phase_length``.
    """
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    min_phase_length = check_positive_int(min_phase_length, "min_phase_length")
    numbers = finite_values(values)
    lengths, levels = parse_phase_plan(phase_lengths, criteria)
    _check_lengths(lengths, numbers.size, min_phase_length)
    scored = np.array([j for j, level in enumerate(levels) if level is not None])
    deviations = np.abs(numbers[None, :] - np.array([levels[j] for j in scored])[:, None])
    cumulative = np.column_stack([np.zeros(scored.size), np.cumsum(deviations, axis=1)])

    def statistic(rows: np.ndarray) -> np.ndarray:
        ends = np.cumsum(rows, axis=1)[:, scored]
        sums = cumulative[np.arange(scored.size), ends] - cumulative[np.arange(scored.size), ends - rows[:, scored]]
        return sums.sum(axis=1) / rows[:, scored].sum(axis=1)

    reference = phase_reference_set(numbers.size, lengths.size, min_phase_length)
    observed_row = lengths[None, :]
    rows, exact = reference.assignments(observed_row, n_permutations, seed)
    distribution = statistic(rows)
    observed = float(statistic(observed_row)[0])
    p = p_value(distribution, observed, "less", tie_tolerance(deviations))

    average = float(distribution.mean())
    reduction = 1 - observed / average if average > 0 else None
    verdict, _ = wwc_changing_criterion_standard(lengths.tolist(), levels)
    caveats = [
        f"the design {VERDICT_TEXT[verdict]} ({lengths.size} phases, shortest {lengths.min()} points)",
        "the p-value is only valid if the criterion changes were randomly timed among these splits in advance",
        *attainability_caveats(reference.size, exact, "splits"),
    ]
    members = f"splits into {lengths.size} phases of at least {min_phase_length} points, criteria in order"
    text = interpretation_text(
        _tracking_text(observed, reduction, int(lengths[scored].sum())), p, "one-sided, closer tracking is extreme",
        source_text(reference.size, exact, n_permutations, members), caveats,
    )
    return make_result(
        observed=observed, p=p, effect_size=reduction, interpretation=text, distribution=distribution,
        verdict=verdict, n_assignments=reference.size, exact=exact,
    )
