"""SCRT-style phase randomization test: admissible-assignment counts, exact and Monte Carlo p-values, calibration."""

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from americano_pipeline.stats.effect_sizes import single_case_effect_sizes
from americano_pipeline.stats.randomization import (
    count_admissible_assignments,
    enumerate_phase_lengths,
    phase_randomization_test,
    sample_phase_lengths,
)


def _labels(lengths, first="A"):
    labels, label = [], first
    for length in lengths:
        labels += [label] * length
        label = "B" if label == "A" else "A"
    return labels


def _brute_force_lengths(n, k, min_length):
    """Every placement of k - 1 change points with each phase >= min_length, by plain enumeration."""
    rows = []
    for cuts in itertools.combinations(range(1, n), k - 1):
        lengths = np.diff([0, *cuts, n])
        if lengths.min() >= min_length:
            rows.append(tuple(int(x) for x in lengths))
    return rows


def _brute_force_p(values, lengths, first, min_length, statistic, alternative):
    """Reference p-value: loop over assignments, means by plain Python."""

    def stat(assignment):
        labels = _labels(assignment, first)
        a = [v for v, lab in zip(values, labels) if lab == "A"]
        b = [v for v, lab in zip(values, labels) if lab == "B"]
        if statistic == "mean_difference":
            return sum(b) / len(b) - sum(a) / len(a)
        edges = np.cumsum([0, *assignment])
        means = {"A": [], "B": []}
        for label, start, stop in zip(_labels([1] * len(assignment), first), edges[:-1], edges[1:]):
            means[label].append(sum(values[start:stop]) / (stop - start))
        return sum(means["B"]) / len(means["B"]) - sum(means["A"]) / len(means["A"])

    observed = stat(lengths)
    everything = [stat(row) for row in _brute_force_lengths(len(values), len(lengths), min_length)]
    extreme = {
        "greater": lambda s: s >= observed - 1e-9,
        "less": lambda s: s <= observed + 1e-9,
        "two-sided": lambda s: abs(s) >= abs(observed) - 1e-9,
    }[alternative]
    return sum(map(extreme, everything)) / len(everything), len(everything)


@pytest.mark.parametrize(
    ("n", "k", "min_length"), [(20, 2, 3), (24, 3, 2), (30, 4, 5), (26, 4, 3), (17, 5, 3), (12, 4, 3), (9, 3, 1)]
)
def test_admissible_assignments_match_the_closed_form_and_plain_enumeration(n, k, min_length):
    closed_form = math.comb(n - k * min_length + k - 1, k - 1)
    rows = enumerate_phase_lengths(n, k, min_length)
    assert count_admissible_assignments(n, k, min_length) == closed_form
    assert rows.shape == (closed_form, k)
    assert (rows.sum(axis=1) == n).all() and (rows >= min_length).all()
    assert sorted(map(tuple, rows.tolist())) == sorted(_brute_force_lengths(n, k, min_length))


@pytest.mark.parametrize(("lengths", "min_length"), [((6, 7), 3), ((5, 6, 5, 6), 4), ((4, 4, 4, 4, 4), 3)])
def test_result_reports_the_closed_form_count(lengths, min_length):
    values = np.random.default_rng(1).normal(size=sum(lengths))
    result = phase_randomization_test(values, _labels(lengths), min_phase_length=min_length)
    k, n = len(lengths), sum(lengths)
    assert result.n_assignments == math.comb(n - k * min_length + k - 1, k - 1)
    assert result.exact and len(result.permutation_distribution) == result.n_assignments


def test_hand_computed_ab_example_counts_ties():
    # A = 0.7 0.7 | B = 0.7 0.8 0.8 0.8 with L = 1: five placements give 0.06, 0.075, 0.1, 0.075, 0.06
    # (B - A means); the observed 0.075 ties with the mirror placement, so p(greater) = 3/5.
    values = [0.7, 0.7, 0.7, 0.8, 0.8, 0.8]
    result = phase_randomization_test(values, list("AABBBB"), min_phase_length=1)
    assert result.observed_effect == pytest.approx(0.075)
    assert sorted(result.permutation_distribution) == pytest.approx([0.06, 0.06, 0.075, 0.075, 0.1])
    assert result.p_value == pytest.approx(3 / 5)
    assert phase_randomization_test(values, list("AAABBB"), min_phase_length=1).p_value == pytest.approx(1 / 5)


@pytest.mark.parametrize("statistic", ["mean_difference", "phase_mean_difference"])
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize(("lengths", "first"), [((4, 5, 3, 6), "A"), ((3, 4, 5), "B"), ((3, 3, 4, 3, 3), "A")])
def test_exact_p_value_matches_a_brute_force_loop(statistic, alternative, lengths, first):
    values = np.round(np.random.default_rng(7).normal(size=sum(lengths)), 1).tolist()
    values[len(values) // 2 :] = [v + 0.4 for v in values[len(values) // 2 :]]
    result = phase_randomization_test(
        values, _labels(lengths, first), min_phase_length=3, statistic=statistic, alternative=alternative
    )
    expected_p, expected_n = _brute_force_p(values, list(lengths), first, 3, statistic, alternative)
    assert result.exact and result.n_assignments == expected_n
    assert result.p_value == pytest.approx(expected_p, abs=1e-12)
    assert (result.p_value * result.n_assignments) == pytest.approx(round(result.p_value * result.n_assignments))


def test_monte_carlo_p_counts_the_observed_assignment_and_tracks_the_exact_p():
    rng = np.random.default_rng(3)
    lengths = (10, 10, 10, 10)
    values = rng.normal(size=40) + np.repeat([0.0, 0.5, 0.0, 0.5], 10)
    exact = phase_randomization_test(values, _labels(lengths), min_phase_length=5)
    monte_carlo = phase_randomization_test(values, _labels(lengths), min_phase_length=5, n_permutations=1500, seed=4)
    assert exact.exact and exact.n_assignments == math.comb(40 - 20 + 3, 3) == 1771
    assert not monte_carlo.exact and monte_carlo.n_assignments == 1771
    assert len(monte_carlo.permutation_distribution) == 1501
    assert monte_carlo.permutation_distribution[0] == pytest.approx(monte_carlo.observed_effect)
    extreme_draws = monte_carlo.p_value * 1501 - 1
    assert extreme_draws == pytest.approx(round(extreme_draws)) and extreme_draws >= 0
    assert abs(monte_carlo.p_value - exact.p_value) < 4 * math.sqrt(exact.p_value * (1 - exact.p_value) / 1500)


def test_monte_carlo_p_is_at_least_one_over_draws_plus_one_and_seeded():
    values = np.arange(40.0)
    run = lambda seed: phase_randomization_test(  # noqa: E731
        values, _labels((10, 10, 10, 10)), min_phase_length=2, n_permutations=99, seed=seed
    )
    assert run(0).p_value >= 1 / 100
    assert run(0).permutation_distribution == run(0).permutation_distribution
    assert run(0).permutation_distribution != run(1).permutation_distribution


def test_sampled_assignments_are_uniform_over_the_admissible_set():
    rows = sample_phase_lengths(16, 4, 3, 30_000, np.random.default_rng(11))
    admissible = set(_brute_force_lengths(16, 4, 3))
    counts = Counter(map(tuple, rows.tolist()))
    assert set(counts) == admissible and len(admissible) == math.comb(16 - 12 + 3, 3)
    assert stats.chisquare([counts[row] for row in sorted(admissible)]).pvalue > 0.001


@pytest.mark.parametrize(
    ("statistic", "alternative"), [("mean_difference", "greater"), ("phase_mean_difference", "two-sided")]
)
def test_rejection_rate_under_the_null_is_calibrated(statistic, alternative):
    # ABAB, n = 26, L = 3: 680 admissible placements, so each test is exact and P(p <= .05) = 34/680 = .05.
    rng = np.random.default_rng(2024)
    designs = enumerate_phase_lengths(26, 4, 3)
    rejections = 0
    for _ in range(1000):
        lengths = designs[rng.integers(len(designs))]
        result = phase_randomization_test(
            rng.normal(size=26), _labels(lengths), statistic=statistic, alternative=alternative
        )
        rejections += result.p_value <= 0.05
    rate = rejections / 1000
    assert 0.03 <= rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 1000)


@pytest.mark.parametrize("seed", range(5))
def test_p_values_are_in_zero_one_and_less_mirrors_greater(seed):
    rng = np.random.default_rng(seed)
    lengths = tuple(rng.integers(3, 8, size=4))
    values = rng.normal(size=sum(lengths))
    for statistic in ("mean_difference", "phase_mean_difference"):
        greater = phase_randomization_test(values, _labels(lengths), statistic=statistic, alternative="greater")
        less_on_negated = phase_randomization_test(-values, _labels(lengths), statistic=statistic, alternative="less")
        less = phase_randomization_test(values, _labels(lengths), statistic=statistic, alternative="less")
        two_sided = phase_randomization_test(values, _labels(lengths), statistic=statistic, alternative="two-sided")
        assert all(0 < r.p_value <= 1 for r in (greater, less, two_sided))
        assert less_on_negated.p_value == pytest.approx(greater.p_value, abs=1e-12)
        assert less_on_negated.observed_effect == pytest.approx(-greater.observed_effect)
        # |s| >= |observed| includes every s on the observed side, so two-sided p >= that one-sided p.
        same_side = greater if greater.observed_effect >= 0 else less
        assert two_sided.p_value >= same_side.p_value


def test_statistics_agree_for_balanced_phases_and_for_ab_designs():
    rng = np.random.default_rng(5)
    values = rng.normal(size=24)
    balanced = {
        statistic: phase_randomization_test(values, _labels((6, 6, 6, 6)), statistic=statistic)
        for statistic in ("mean_difference", "phase_mean_difference")
    }
    assert balanced["mean_difference"].observed_effect == pytest.approx(
        balanced["phase_mean_difference"].observed_effect, abs=1e-12
    )
    ab = [
        phase_randomization_test(values, _labels((10, 14)), statistic=statistic)
        for statistic in ("mean_difference", "phase_mean_difference")
    ]
    assert ab[0].permutation_distribution == pytest.approx(ab[1].permutation_distribution, abs=1e-12)
    assert ab[0].p_value == ab[1].p_value


def test_phase_mean_difference_weights_phases_equally():
    # A = 0 0 0 | B = 3 3 3 | A = 3 x6 | B = 1 1 1: pooled means A 18/9 = 2 and B 12/6 = 2 (difference 0);
    # phase means A (0 + 3)/2 = 1.5 and B (3 + 1)/2 = 2 (difference 0.5).
    values = [0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1]
    labels = list("AAABBBAAAAAABBB")
    assert phase_randomization_test(values, labels).observed_effect == pytest.approx(2 - 2)
    assert phase_randomization_test(values, labels, statistic="phase_mean_difference").observed_effect == (
        pytest.approx(2 - 1.5)
    )


def test_effect_size_is_pooled_sd_cohens_d_and_standards_flag_follows_wwc():
    result = phase_randomization_test([1, 2, 3, 4, 5, 6], list("AAABBB"), min_phase_length=3)
    assert result.effect_size == pytest.approx(3.0)  # (5 - 2) / 1
    assert result.passes_sced_standards is False  # AB never meets
    meets = phase_randomization_test(np.arange(20.0), _labels((5, 5, 5, 5)))
    reservations = phase_randomization_test(np.arange(16.0), _labels((4, 4, 4, 4)))
    assert meets.passes_sced_standards is True and reservations.passes_sced_standards is True


@pytest.mark.parametrize("lengths", [(5, 5, 5, 5), (4, 6, 5), (3, 7, 4, 6, 5)])
@pytest.mark.parametrize("first", ["A", "B"])
def test_effect_size_is_the_cohens_d_the_effect_sizes_report(lengths, first):
    # One documented d: effectSize and single_case_effect_sizes' cohens_d are the same number, in the raw
    # B - A direction whatever improvement says, over every A and B day (unpaired leading B / trailing A too).
    values = np.random.default_rng(sum(lengths)).normal(size=sum(lengths)) + np.arange(sum(lengths)) / 10
    labels = _labels(lengths, first)
    result = phase_randomization_test(values, labels, min_phase_length=3)
    for improvement in ("increase", "decrease"):
        sizes = single_case_effect_sizes(values, labels, improvement=improvement)
        assert result.to_dict()["effectSize"] == sizes["cohens_d"]


def test_to_dict_has_the_public_keys_and_plain_json_types():
    result = phase_randomization_test(np.random.default_rng(0).normal(size=20), _labels((5, 5, 5, 5)))
    as_dict = result.to_dict()
    assert list(as_dict) == [
        "observedEffect", "pValue", "effectSize", "interpretation", "permutationDistribution",
        "passesSCEDStandards", "nAssignments", "exact",
    ]
    assert type(as_dict["observedEffect"]) is float and type(as_dict["pValue"]) is float
    assert type(as_dict["effectSize"]) is float and type(as_dict["nAssignments"]) is int
    assert type(as_dict["passesSCEDStandards"]) is bool and type(as_dict["exact"]) is bool
    assert all(type(x) is float for x in as_dict["permutationDistribution"])
    json.dumps(as_dict, allow_nan=False)


def test_interpretation_states_direction_p_and_design_caveats():
    result = phase_randomization_test([1, 2, 3, 4, 5, 6], list("AAABBB"), min_phase_length=1)
    text = result.interpretation
    assert "3 higher under B than under A" in text
    assert f"p = {result.p_value:.3g}" in text and "exact over all 5 admissible" in text
    assert "does not meet the WWC design standard" in text and "no p below 0.2 is attainable" in text


def test_constant_series_has_undefined_effect_size_and_p_one():
    result = phase_randomization_test([2.0] * 12, _labels((6, 6)))
    assert result.effect_size is None and result.p_value == 1.0 and result.observed_effect == 0.0


@pytest.mark.parametrize(
    ("values", "labels", "kwargs", "message"),
    [
        (range(12), _labels((6, 6)), {"statistic": "median"}, r"statistic must be one of .*got 'median'"),
        (range(12), _labels((6, 6)), {"alternative": "bigger"}, r"alternative must be one of .*got 'bigger'"),
        (range(12), _labels((6, 6)), {"n_permutations": 0}, r"n_permutations must be a whole number >= 1, got 0"),
        (range(12), _labels((6, 6)), {"min_phase_length": 0}, r"min_phase_length must be a whole number >= 1, got 0"),
        (range(12), _labels((6, 2, 4)), {}, r"phase 2 \('B', positions 6-7, 2 points\) is shorter than .*=3"),
        (range(11), _labels((6, 6)), {}, r"values has 11 observations but phases has 12"),
        ([0.0] * 5 + [math.nan] + [0.0] * 6, _labels((6, 6)), {}, r"nan at position 5"),
        (range(12), ["A"] * 6 + ["B"] * 5 + ["T"], {}, r"label 'T' at position 11"),
        (range(12), ["A"] * 12, {}, r"only condition 'A'"),
    ],
)
def test_bad_input_raises_a_specific_error(values, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        phase_randomization_test(list(values), labels, **kwargs)
