"""Randomization tests beyond phase reversals: alternating treatments, multiple baseline, changing criterion.

Exact p-values are checked on cases enumerated by hand in the comments, reference-set sizes against their closed
forms, Monte Carlo p-values against the exact ones, the samplers for uniformity, and the registration arithmetic.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from americano_pipeline.stats.effect_sizes import cohens_d
from americano_pipeline.stats.randomization import (
    alpha_check,
    alternating_treatments_test,
    changing_criterion_test,
    count_admissible_assignments,
    count_alternating_sequences,
    count_multiple_baseline_assignments,
    multiple_baseline_test,
    phase_design_alpha_check,
    smallest_attainable_p,
)
from americano_pipeline.stats.randomization_designs.alternating import alternating_reference_set
from americano_pipeline.stats.randomization_designs.multiple_baseline import multiple_baseline_reference_set

# --- alternating treatments ------------------------------------------------------------------------------------


def _orders(n_a, n_b, max_consecutive):
    """Every A/B order with the given counts and no run longer than max_consecutive, by plain enumeration."""
    orders = []
    for b_positions in itertools.combinations(range(n_a + n_b), n_b):
        order = "".join("B" if i in b_positions else "A" for i in range(n_a + n_b))
        longest = max(len(list(run)) for _, run in itertools.groupby(order))
        if max_consecutive is None or longest <= max_consecutive:
            orders.append(order)
    return orders


@pytest.mark.parametrize("max_consecutive", [1, 2, 3, None])
@pytest.mark.parametrize(("n_a", "n_b"), [(1, 1), (3, 3), (4, 2), (5, 7), (6, 6), (2, 7)])
def test_alternating_counts_match_plain_enumeration(n_a, n_b, max_consecutive):
    assert count_alternating_sequences(n_a, n_b, max_consecutive) == len(_orders(n_a, n_b, max_consecutive))


def test_alternating_counts_of_the_hand_enumerated_case_and_without_a_limit():
    # 3 A + 3 B: C(6, 3) = 20 orders; 4 contain AAA (AAABBB, BAAABB, BBAAAB, BBBAAA), 4 contain BBB, 2 both,
    # so 20 - (4 + 4 - 2) = 14 have no run longer than 2. With runs of 1 only ABABAB and BABABA remain.
    assert count_alternating_sequences(3, 3, 2) == 14
    assert count_alternating_sequences(3, 3, None) == 20
    assert count_alternating_sequences(3, 3, 1) == 2
    assert count_alternating_sequences(20, 20, None) == math.comb(40, 20)


# Values 1..6, so the B total S_B is the sum of the B positions and mean(B) - mean(A) = (2 S_B - 21) / 3.
# The 14 orders of 3 A + 3 B with no run longer than 2 (lexicographic), their B positions, S_B and statistic:
#   AABABB 3,5,6 14  7/3    ABABBA 2,4,5 11  1/3    BAABBA 1,4,5 10 -1/3    BBAABA 1,2,5  8 -5/3
#   AABBAB 3,4,6 13  5/3    ABBAAB 2,3,6 11  1/3    BABAAB 1,3,6 10 -1/3    BBABAA 1,2,4  7 -7/3
#   ABAABB 2,5,6 13  5/3    ABBABA 2,3,5 10 -1/3    BABABA 1,3,5  9 -1
#   ABABAB 2,4,6 12  1      BAABAB 1,4,6 11  1/3    BABBAA 1,3,4  8 -5/3
# Observed ABABAB (statistic 1): greater counts S_B >= 12 -> 4/14; less counts S_B <= 12 -> 11/14;
# two-sided counts |statistic| >= 1 -> 8/14.
HAND_VALUES = [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("alternative", "expected"), [("greater", 4 / 14), ("less", 11 / 14), ("two-sided", 8 / 14)])
def test_alternating_exact_p_of_the_hand_enumerated_case(alternative, expected):
    result = alternating_treatments_test(HAND_VALUES, list("ABABAB"), alternative=alternative)
    assert result.exact and result.n_assignments == 14
    assert result.observed_effect == pytest.approx(1.0)
    assert result.p_value == pytest.approx(expected, abs=1e-12)
    assert result.permutation_distribution == pytest.approx(
        [7 / 3, 5 / 3, 5 / 3, 1, 1 / 3, 1 / 3, -1 / 3, 1 / 3, -1 / 3, -1 / 3, -1, -5 / 3, -5 / 3, -7 / 3]
    )


def test_alternating_without_a_limit_is_the_completely_randomized_design():
    # All C(6, 3) = 20 choices of 3 B positions; S_B >= 12 for {1,5,6} {2,4,6} {3,4,5} (12), {2,5,6} {3,4,6}
    # (13), {3,5,6} (14), {4,5,6} (15): 7 of 20.
    result = alternating_treatments_test(HAND_VALUES, list("ABABAB"), max_consecutive=None)
    assert result.n_assignments == 20 and result.p_value == pytest.approx(7 / 20)
    # With runs of 1 the reference set is ABABAB (S_B = 12) and BABABA (S_B = 9): p = 1/2.
    assert alternating_treatments_test(HAND_VALUES, list("ABABAB"), max_consecutive=1).p_value == pytest.approx(0.5)


def test_alternating_exact_p_matches_a_brute_force_loop():
    rng = np.random.default_rng(8)
    values = np.round(rng.normal(size=12), 1)
    conditions = "ABBABAABABBA"
    result = alternating_treatments_test(values, list(conditions), alternative="two-sided")

    def statistic(order):
        labels = np.array(list(order))
        return values[labels == "B"].mean() - values[labels == "A"].mean()

    everything = [statistic(order) for order in _orders(6, 6, 2)]
    expected = np.mean(np.abs(everything) >= abs(statistic(conditions)) - 1e-9)
    assert result.n_assignments == 208 and result.p_value == pytest.approx(expected, abs=1e-12)


def test_alternating_monte_carlo_tracks_the_exact_p_and_counts_the_observed_order():
    rng = np.random.default_rng(4)
    conditions = list("ABBABAABBAABABAB")  # 8 A + 8 B, runs <= 2: 1,296 admissible orders
    values = rng.normal(size=16) + 0.8 * (np.array(conditions) == "B")
    exact = alternating_treatments_test(values, conditions)
    monte_carlo = alternating_treatments_test(values, conditions, n_permutations=800, seed=5)
    assert exact.exact and exact.n_assignments == monte_carlo.n_assignments == 1296 and not monte_carlo.exact
    assert len(monte_carlo.permutation_distribution) == 801
    assert monte_carlo.permutation_distribution[0] == pytest.approx(monte_carlo.observed_effect)
    extreme_draws = monte_carlo.p_value * 801 - 1
    assert extreme_draws == pytest.approx(round(extreme_draws)) and extreme_draws >= 0
    assert abs(monte_carlo.p_value - exact.p_value) < 4 * math.sqrt(max(exact.p_value, 0.01) / 800) + 1 / 801


def test_alternating_sampler_is_uniform_over_the_restricted_orders():
    # 4 A + 4 B with runs <= 2: 34 admissible orders; 30,000 sequential draws should hit each about 882 times.
    reference = alternating_reference_set(4, 4, 2)
    rows = reference.sample(30_000, np.random.default_rng(11))
    counts = Counter("".join("B" if b else "A" for b in row) for row in rows)
    admissible = _orders(4, 4, 2)
    assert reference.size == len(admissible) == 34 and set(counts) == set(admissible)
    assert stats.chisquare([counts[order] for order in admissible]).pvalue > 0.001


def test_alternating_enumeration_is_lexicographic_and_complete():
    rows = alternating_reference_set(5, 4, 2).enumerate()
    assert ["".join("B" if b else "A" for b in row) for row in rows] == sorted(_orders(5, 4, 2))


def test_alternating_is_seeded_and_its_p_never_below_one_over_draws_plus_one():
    values = np.arange(40.0)
    conditions = list("AB" * 20)
    run = lambda seed: alternating_treatments_test(values, conditions, n_permutations=99, seed=seed)  # noqa: E731
    assert run(0).permutation_distribution == run(0).permutation_distribution
    assert run(0).permutation_distribution != run(1).permutation_distribution
    assert run(0).p_value >= 1 / 100 and run(0).n_assignments == count_alternating_sequences(20, 20, 2)


def test_alternating_effect_size_and_standards_flag():
    conditions = list("ABBAABABBAABAB")  # 7 A + 7 B, runs <= 2: meets the WWC standard
    values = np.random.default_rng(2).normal(size=14)
    result = alternating_treatments_test(values, conditions)
    labels = np.array(conditions)
    assert result.effect_size == pytest.approx(cohens_d(values[labels == "A"], values[labels == "B"]))
    assert result.passes_sced_standards is True
    assert alternating_treatments_test(HAND_VALUES, list("ABABAB")).passes_sced_standards is False


@pytest.mark.parametrize(
    ("values", "conditions", "kwargs", "message"),
    [
        (HAND_VALUES, list("ABACAB"), {}, r"conditions has label 'C' at position 3"),
        (HAND_VALUES, list("ABABA"), {}, r"values has 6 observations but conditions has 5"),
        (HAND_VALUES, list("ABBBAA"), {}, r"'B' 3 times in a row \(positions 1-3\), more than max_consecutive=2"),
        (HAND_VALUES, list("AAAAAA"), {}, r"conditions has only condition 'A'"),
        (HAND_VALUES, list("ABABAB"), {"max_consecutive": 0}, r"max_consecutive must be a whole number >= 1, got 0"),
        (HAND_VALUES, list("ABABAB"), {"alternative": "up"}, r"alternative must be one of .*got 'up'"),
        (HAND_VALUES, list("ABABAB"), {"n_permutations": 0}, r"n_permutations must be a whole number >= 1, got 0"),
        ([1, 2, math.nan, 4, 5, 6], list("ABABAB"), {}, r"non-finite values \(nan at position 2"),
        ([1, 2, "x", 4, 5, 6], list("ABABAB"), {}, r"values has non-numeric value 'x' at position 2"),
    ],
)
def test_alternating_bad_input_names_the_argument(values, conditions, kwargs, message):
    with pytest.raises(ValueError, match=message):
        alternating_treatments_test(values, conditions, **kwargs)


# --- multiple baseline -----------------------------------------------------------------------------------------

# Three tiers of 6 points, each stepping from 0 to 1 at its planted start (2, 3 and 4). The within-tier
# difference mean(B) - mean(A) for each admissible start s:
#            s=2    s=3    s=4    s=5
#   tier 1   1      2/3    1/2    2/5      (0 0 1 1 1 1)
#   tier 2   3/4    1      3/4    3/5      (0 0 0 1 1 1)
#   tier 3   1/2    2/3    1      4/5      (0 0 0 0 1 1)
# The statistic is the mean of the three tiers' differences, so the planted starts (2, 3, 4) give (1+1+1)/3 = 1.
HAND_TIERS = [[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]]

# Marascuilo-Busk, tier sets {2,3} x {3,4} x {3,4}: 8 assignments, sums of the tier differences
#   (2,3,3) 8/3   (2,3,4) 3   (2,4,3) 29/12  (2,4,4) 11/4
#   (3,3,3) 7/3   (3,3,4) 8/3 (3,4,3) 25/12  (3,4,4) 29/12
# observed (2,3,4): only 3 >= 3 -> 1/8; observed (3,3,4): 3, 11/4, 8/3, 8/3 >= 8/3 -> 4/8.
# Wampold-Worsham, fixed starts {2,3,4}: 3! = 6 orders
#   (2,3,4) 3   (2,4,3) 29/12   (3,2,4) 29/12   (3,4,2) 23/12   (4,2,3) 23/12   (4,3,2) 2
# observed (2,3,4) -> 1/6; observed (2,4,3): 3, 29/12, 29/12 -> 3/6.
# Koehler-Levin, slots {2}, {3}, {4,5}: 3! x 1 x 1 x 2 = 12; with 4 in the third slot the six orders above, with 5
#   (2,3,5) 14/5   (2,5,3) 34/15   (3,2,5) 133/60   (3,5,2) 53/30   (5,2,3) 109/60   (5,3,2) 19/10
# observed (2,3,4) -> 1/12; observed (2,3,5): 3, 14/5 -> 2/12.
MB_HAND_CASES = [
    ("marascuilo_busk", [[2, 3], [3, 4], [3, 4]], [2, 3, 4], 8, 1 / 8),
    ("marascuilo_busk", [[2, 3], [3, 4], [3, 4]], [3, 3, 4], 8, 4 / 8),
    ("wampold_worsham", [2, 3, 4], [2, 3, 4], 6, 1 / 6),
    ("wampold_worsham", [2, 3, 4], [2, 4, 3], 6, 3 / 6),
    ("koehler_levin", [[2], [3], [4, 5]], [2, 3, 4], 12, 1 / 12),
    ("koehler_levin", [[2], [3], [4, 5]], [2, 3, 5], 12, 2 / 12),
]


@pytest.mark.parametrize(("scheme", "possible_starts", "starts", "n_assignments", "expected"), MB_HAND_CASES)
def test_multiple_baseline_exact_p_of_the_hand_enumerated_cases(scheme, possible_starts, starts, n_assignments,
                                                                 expected):
    result = multiple_baseline_test(HAND_TIERS, starts, possible_starts=possible_starts, scheme=scheme)
    assert result.exact and result.n_assignments == n_assignments
    assert result.p_value == pytest.approx(expected, abs=1e-12)


def test_multiple_baseline_hand_enumerated_distribution_of_wampold_worsham():
    result = multiple_baseline_test(HAND_TIERS, [2, 3, 4], possible_starts=[2, 3, 4], scheme="wampold_worsham")
    expected = [3, 29 / 12, 29 / 12, 23 / 12, 23 / 12, 2]
    assert sorted(result.permutation_distribution) == pytest.approx(sorted(s / 3 for s in expected))
    assert result.observed_effect == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scheme", "possible_starts", "expected"),
    [
        ("marascuilo_busk", [range(5, 9), range(10, 15), range(16, 19)], 4 * 5 * 3),
        ("wampold_worsham", [6, 12, 18], math.factorial(3)),
        ("wampold_worsham", [6, 12, 18, 24], math.factorial(4)),
        ("koehler_levin", [range(5, 7), range(10, 13), range(16, 18)], math.factorial(3) * 2 * 3 * 2),
        ("koehler_levin", [[5, 6], [10, 11], [16, 17], [22, 23]], math.factorial(4) * 2**4),
    ],
)
def test_multiple_baseline_reference_set_sizes(scheme, possible_starts, expected):
    k = len(possible_starts)
    starts = [next(iter(s)) for s in possible_starts] if scheme != "wampold_worsham" else list(possible_starts)
    tiers = np.random.default_rng(k).normal(size=(k, 30))
    assert count_multiple_baseline_assignments(possible_starts, scheme=scheme) == expected
    result = multiple_baseline_test(tiers, starts, possible_starts=possible_starts, scheme=scheme)
    assert result.n_assignments == expected and len(result.permutation_distribution) == expected


def _brute_force_mb(tiers, members, starts, alternative):
    statistic = lambda row: np.mean([np.mean(t[s:]) - np.mean(t[:s]) for t, s in zip(tiers, row)])  # noqa: E731
    everything = np.array([statistic(row) for row in members])
    observed = statistic(starts)
    extreme = {"greater": everything >= observed - 1e-9, "less": everything <= observed + 1e-9,
               "two-sided": np.abs(everything) >= abs(observed) - 1e-9}[alternative]
    return extreme.mean()


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_multiple_baseline_tiers_of_different_lengths_match_a_brute_force_loop(alternative):
    rng = np.random.default_rng(12)
    tiers = [np.round(rng.normal(size=n), 1) for n in (14, 18, 11)]
    slots = [[3, 4], [6, 7], [8, 9]]
    members = [
        tuple(choice[order[i]] for i in range(3))
        for order in itertools.permutations(range(3)) for choice in itertools.product(*slots)
    ]
    result = multiple_baseline_test(
        [t.tolist() for t in tiers], [7, 3, 9], possible_starts=slots, scheme="koehler_levin", alternative=alternative
    )
    assert result.n_assignments == len(set(members)) == 48
    assert result.p_value == pytest.approx(_brute_force_mb(tiers, members, [7, 3, 9], alternative), abs=1e-12)


@pytest.mark.parametrize(
    ("scheme", "possible_starts"),
    [
        ("marascuilo_busk", [[4, 5, 6], [9, 10], [15, 16, 17]]),
        ("wampold_worsham", [4, 9, 15, 20]),
        ("koehler_levin", [[4, 5], [9, 10, 11], [15, 16]]),
    ],
)
def test_multiple_baseline_samplers_are_uniform(scheme, possible_starts):
    reference = multiple_baseline_reference_set(possible_starts, scheme=scheme)
    members = [tuple(row) for row in reference.enumerate().tolist()]
    assert len(set(members)) == len(members) == reference.size
    counts = Counter(tuple(row) for row in reference.sample(500 * reference.size, np.random.default_rng(3)).tolist())
    assert set(counts) == set(members)
    assert stats.chisquare([counts[member] for member in members]).pvalue > 0.001


@pytest.mark.parametrize("scheme", ["marascuilo_busk", "koehler_levin"])
def test_multiple_baseline_monte_carlo_tracks_the_exact_p(scheme):
    rng = np.random.default_rng(6)
    sets = [range(6, 14), range(14, 22), range(22, 30)]
    starts = [9, 17, 25]
    tiers = [rng.normal(size=40) + 0.6 * (np.arange(40) >= s) for s in starts]
    exact = multiple_baseline_test(tiers, starts, possible_starts=sets, scheme=scheme)
    monte_carlo = multiple_baseline_test(tiers, starts, possible_starts=sets, scheme=scheme, n_permutations=400)
    assert exact.exact and not monte_carlo.exact and monte_carlo.n_assignments == exact.n_assignments
    assert monte_carlo.permutation_distribution[0] == pytest.approx(monte_carlo.observed_effect)
    assert abs(monte_carlo.p_value - exact.p_value) < 4 * math.sqrt(max(exact.p_value, 0.01) / 400) + 1 / 401


def test_multiple_baseline_effect_size_is_the_mean_within_tier_d_and_standards_flag():
    rng = np.random.default_rng(1)
    starts = [6, 12, 18]
    tiers = [rng.normal(size=26) + (np.arange(26) >= s) for s in starts]
    result = multiple_baseline_test(tiers, starts, possible_starts=[6, 12, 18], scheme="wampold_worsham")
    expected = np.mean([cohens_d(t[:s], t[s:]) for t, s in zip(tiers, starts)])
    assert result.effect_size == pytest.approx(expected) and result.passes_sced_standards is True
    two_points = multiple_baseline_test(HAND_TIERS, [2, 3, 4], possible_starts=[2, 3, 4], scheme="wampold_worsham")
    assert two_points.passes_sced_standards is False  # phases of 2 points


def test_multiple_baseline_date_indexed_tiers_are_checked_for_concurrence():
    starts = [6, 12, 18]
    dates = [pd.date_range("2024-01-01", periods=26), pd.date_range("2024-01-01", periods=26),
             pd.date_range("2024-03-01", periods=26)]
    tiers = [pd.Series(np.arange(26.0) + (np.arange(26) >= s), index=d) for s, d in zip(starts, dates)]
    result = multiple_baseline_test(tiers, starts, possible_starts=[6, 12, 18], scheme="wampold_worsham")
    assert result.passes_sced_standards is False and "does not meet" in result.interpretation


@pytest.mark.parametrize(
    ("tiers", "starts", "possible_starts", "scheme", "message"),
    [
        (HAND_TIERS, [2, 4, 4], [[2, 3], [3], [4]], "marascuilo_busk",
         r"intervention_starts\[1\]=4 \(tier 2\) is not in possible_starts\[1\] \(\[3\]\)"),
        (HAND_TIERS, [2, 3, 4], [2, 3, 3], "wampold_worsham", r"possible_starts\[1\] and possible_starts\[2\] share"),
        (HAND_TIERS, [2, 3, 4], [[2, 3], [3, 4], [5]], "koehler_levin",
         r"possible_starts\[0\] and possible_starts\[1\] share start 3"),
        (HAND_TIERS, [2, 2, 4], [[2], [3], [4]], "koehler_levin", r"tiers 1 and 2 both start in possible_starts\[0\]"),
        (HAND_TIERS, [2, 3, 5], [2, 3, 4], "wampold_worsham", r"intervention_starts\[2\]=5 \(tier 3\) is in no entry"),
        (HAND_TIERS, [2, 3, 4], [[2], [3], [4, 6]], "koehler_levin",
         r"possible_starts\[2\] has start 6, which tier 1 \(6 observations\) cannot take"),
        (HAND_TIERS, [2, 3, 4], [[2], [3], [0, 4]], "marascuilo_busk", r"possible_starts\[2\] has start 0"),
        (HAND_TIERS, [2, 3], [2, 3, 4], "wampold_worsham", r"intervention_starts has 2 entries but there are 3 tiers"),
        (HAND_TIERS, [2, 3, 4], [2, 3], "wampold_worsham", r"possible_starts has 2 entries but there are 3 tiers"),
        (HAND_TIERS, [2, 3, 4.0], [2, 3, 4], "wampold_worsham", r"intervention_starts\[2\] must be a whole-number"),
        (HAND_TIERS, [2, 3, 4], [[2, 2], [3], [4]], "marascuilo_busk", r"possible_starts\[0\] lists start 2 more than"),
        (HAND_TIERS, [2, 3, 4], [2, 3, 4], "random", r"scheme must be one of .*got 'random'"),
        (HAND_TIERS[:1], [2], [2], "wampold_worsham", r"tiers has 1 tier\(s\); a multiple-baseline design needs"),
        ([[0, 0, 1, 1, 1, 1], [0, 0, math.nan, 1, 1, 1]], [2, 3], [2, 3], "wampold_worsham",
         r"tiers\[1\] has 1 missing or non-finite values \(nan at position 2"),
    ],
)
def test_multiple_baseline_bad_input_names_the_argument_and_tier(tiers, starts, possible_starts, scheme, message):
    with pytest.raises(ValueError, match=message):
        multiple_baseline_test(tiers, starts, possible_starts=possible_starts, scheme=scheme)


# --- changing criterion ----------------------------------------------------------------------------------------

# 11 points, 3 phases of at least 3: C(11 - 9 + 2, 2) = 6 splits (lexicographic). Series tracking criteria
# 1, 3, 5 exactly with observed lengths (3, 4, 4): values 1 1 1 | 3 3 3 3 | 5 5 5 5. For each split, the points
# off their phase's criterion (each off by 2) and the statistic = total deviation / 11 scored points:
#   (3,3,5): position 6 (3 vs 5)                                  2/11
#   (3,4,4): none                                                 0      <- observed
#   (3,5,3): position 7 (5 vs 3)                                  2/11
#   (4,3,4): position 3 (3 vs 1)                                  2/11
#   (4,4,3): positions 3 (3 vs 1), 7 (5 vs 3)                     4/11
#   (5,3,3): positions 3, 4 (3 vs 1), 7 (5 vs 3)                  6/11
# p = 1/6, the smallest attainable; effectSize = 1 - 0 / mean(0, 2, 2, 2, 4, 6)/11 = 1.
TRACKING = [1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5]

# The same series with the first phase as an unscored baseline (criteria None, 3, 5; 8 scored points):
#   (3,3,5): position 6 (3 vs 5) 2/8   (3,4,4): 0 <- observed   (3,5,3): position 7 (5 vs 3) 2/8
#   (4,3,4): 0 (position 3 moves into the unscored baseline; every scored point still on its criterion)
#   (4,4,3): position 7 2/7            (5,3,3): position 7 2/6
# p = 2/6: a baseline is not scored, so splits that only move its end into the first criterion phase fit as well.


def test_changing_criterion_exact_p_of_the_hand_enumerated_perfect_tracking_case():
    result = changing_criterion_test(TRACKING, [3, 4, 4], [1, 3, 5])
    assert result.exact and result.n_assignments == 6
    assert result.permutation_distribution == pytest.approx([2 / 11, 0, 2 / 11, 2 / 11, 4 / 11, 6 / 11])
    assert result.observed_effect == 0 and result.p_value == pytest.approx(1 / 6) and result.effect_size == 1.0


def test_changing_criterion_baseline_is_not_scored():
    result = changing_criterion_test(TRACKING, [3, 4, 4], [None, 3, 5])
    assert result.permutation_distribution == pytest.approx([2 / 8, 0, 2 / 8, 0, 2 / 7, 2 / 6])
    assert result.p_value == pytest.approx(2 / 6)


def test_changing_criterion_planted_perfect_tracking_gives_the_smallest_p_on_40_days():
    # Criteria 2, 4, 6, 8 held for 10 days each: only the observed split has zero deviation, so p = 1/N, the
    # smallest p of any series on this reference set; noise around the same criteria can only raise it.
    lengths, criteria = [10, 10, 10, 10], [2, 4, 6, 8]
    planted = np.repeat(criteria, lengths).astype(float)
    perfect = changing_criterion_test(planted, lengths, criteria)
    noisy = changing_criterion_test(planted + np.random.default_rng(0).normal(0, 1.5, 40), lengths, criteria)
    assert perfect.n_assignments == count_admissible_assignments(40, 4, 3) == math.comb(31, 3)
    assert perfect.p_value == pytest.approx(1 / perfect.n_assignments) and perfect.effect_size == 1.0
    assert noisy.p_value >= perfect.p_value
    assert perfect.passes_sced_standards is True  # 3 criterion changes, phases of 10


def test_changing_criterion_monte_carlo_tracks_the_exact_p():
    lengths, criteria = [8, 10, 12, 10], [None, 3, 5, 7]
    values = np.repeat([0, 3, 5, 7], lengths) + np.random.default_rng(9).normal(0, 2.5, 40)
    exact = changing_criterion_test(values, lengths, criteria)
    monte_carlo = changing_criterion_test(values, lengths, criteria, n_permutations=1000, seed=2)
    assert exact.exact and not monte_carlo.exact and monte_carlo.n_assignments == exact.n_assignments == 4495
    assert len(monte_carlo.permutation_distribution) == 1001
    assert abs(monte_carlo.p_value - exact.p_value) < 4 * math.sqrt(max(exact.p_value, 0.01) / 1000) + 1 / 1001


@pytest.mark.parametrize(
    ("phase_lengths", "criteria", "kwargs", "message"),
    [
        ([3, 4, 3], [1, 3, 5], {}, r"phase_lengths sum to 10 but values has 11 observations"),
        ([3, 6, 2], [1, 3, 5], {}, r"phase 3 \(phase_lengths\[2\]=2\) is shorter than min_phase_length=3"),
        ([3, 0, 8], [1, 3, 5], {}, r"phase_lengths\[1\] must be a whole number >= 1, got 0"),
        ([3, 4, 4], [1, 3], {}, r"criteria has 2 entries but phase_lengths has 3"),
        ([3, 4, 4], [1, "x", 5], {}, r"criteria\[1\] is 'x'; a criterion must be a finite number"),
        ([3, 4, 4], [None, None, None], {}, r"criteria are all None"),
        ([3, 4, 4], [1, 3, 3], {}, r"criteria\[2\] repeats criteria\[1\] \(3\)"),
        ([11], [1], {}, r"phase_lengths has 1 phase"),
        ([3, 4, 4], [1, 3, 5], {"min_phase_length": 0}, r"min_phase_length must be a whole number >= 1, got 0"),
        ([3, 4, 4], [1, 3, 5], {"n_permutations": -1}, r"n_permutations must be a whole number >= 1, got -1"),
    ],
)
def test_changing_criterion_bad_input_names_the_argument(phase_lengths, criteria, kwargs, message):
    with pytest.raises(ValueError, match=message):
        changing_criterion_test(TRACKING, phase_lengths, criteria, **kwargs)


# --- shared result shape and registration arithmetic -----------------------------------------------------------

RESULTS = {
    "alternating": lambda: alternating_treatments_test(np.arange(14.0), list("ABBAABABBAABAB")),
    "multiple_baseline": lambda: multiple_baseline_test(HAND_TIERS, [2, 3, 4], possible_starts=[2, 3, 4],
                                                        scheme="wampold_worsham"),
    "changing_criterion": lambda: changing_criterion_test(TRACKING, [3, 4, 4], [None, 3, 5]),
}


@pytest.mark.parametrize("design", RESULTS)
def test_to_dict_has_the_public_keys_and_plain_json_types(design):
    as_dict = RESULTS[design]().to_dict()
    assert list(as_dict) == [
        "observedEffect", "pValue", "effectSize", "interpretation", "permutationDistribution",
        "passesSCEDStandards", "nAssignments", "exact",
    ]
    assert type(as_dict["observedEffect"]) is float and type(as_dict["pValue"]) is float
    assert as_dict["effectSize"] is None or type(as_dict["effectSize"]) is float
    assert type(as_dict["nAssignments"]) is int and type(as_dict["exact"]) is bool
    assert type(as_dict["passesSCEDStandards"]) is bool and type(as_dict["interpretation"]) is str
    assert all(type(x) is float for x in as_dict["permutationDistribution"])
    json.dumps(as_dict, allow_nan=False)


def test_interpretations_name_the_reference_set_and_the_caveats():
    alternating = RESULTS["alternating"]().interpretation
    assert "orders of 7 A and 7 B sessions and no condition more than 2 times in a row" in alternating
    assert "meets the WWC design standard" in alternating
    baseline = RESULTS["multiple_baseline"]().interpretation
    assert "exact over all 6 start-point assignments (Wampold-Worsham" in baseline
    assert "with 6 assignments no p below 0.167 is attainable" in baseline
    criterion = RESULTS["changing_criterion"]().interpretation
    assert "splits into 3 phases of at least 3 points" in criterion and "closer tracking is extreme" in criterion


def test_smallest_attainable_p_and_alpha_check():
    assert smallest_attainable_p(20) == 0.05
    assert alpha_check(20).reachable and not alpha_check(19).reachable and alpha_check(19).needed == 20
    assert alpha_check(99, alpha=0.01).reachable is False and alpha_check(100, alpha=0.01).reachable
    assert "1/19 = 0.0526 > alpha = 0.05" in alpha_check(19).message
    for n in range(1, 60):
        assert alpha_check(n, alpha=0.05).reachable == (1 / n <= 0.05)


def test_phase_design_alpha_check_gives_the_smallest_fixes():
    # AB on 40 days, minimum phase 12: 40 - 24 + 1 = 17 start points, 1/17 > .05. 43 days give 20; minimum
    # phase 10 on 40 days gives 21.
    check = phase_design_alpha_check(40, 2, 12)
    assert check.n_assignments == 17 and not check.reachable and check.needed == 20
    assert check.observations_needed == 43 and check.largest_min_phase_length == 10
    assert "43 observations with minimum phase 12 give 20 placements" in check.message
    assert "minimum phase 10 on 40 observations gives 21" in check.message
    assert phase_design_alpha_check(44, 2, 12).reachable and phase_design_alpha_check(44, 2, 12).n_assignments == 21
    # ABAB on 20 days, minimum 5: one placement; C(n - 20 + 3, 3) >= 20 first at n = 23; minimum 4 gives 35.
    abab = phase_design_alpha_check(20, 4, 5)
    assert (abab.n_assignments, abab.observations_needed, abab.largest_min_phase_length) == (1, 23, 4)
    assert list(abab.to_dict()) == [
        "nAssignments", "alpha", "smallestP", "reachable", "needed", "message", "observationsNeeded",
        "largestMinPhaseLength",
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: alpha_check(20, alpha=1.5), r"alpha must be a number strictly between 0 and 1, got 1.5"),
        (lambda: alpha_check(0), r"n_assignments must be a whole number >= 1, got 0"),
        (lambda: phase_design_alpha_check(20, 1, 3), r"n_phases must be at least 2"),
        (lambda: phase_design_alpha_check(10, 4, 3), r"n_observations=10 cannot hold 4 phases of at least 3 points"),
        (lambda: count_alternating_sequences(3, 3, 0), r"max_consecutive must be a whole number >= 1, got 0"),
    ],
)
def test_registration_helpers_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
