"""WWC design standards: reversal, multiple baseline, alternating treatments and changing criterion designs."""

import pandas as pd
import pytest

from americano_pipeline.stats.standards import (
    wwc_alternating_treatments_standard,
    wwc_changing_criterion_standard,
    wwc_design_standard,
    wwc_multiple_baseline_standard,
)


def _labels(*lengths, first="A"):
    other = {"A": "B", "B": "A"}
    labels, label = [], first
    for length in lengths:
        labels += [label] * length
        label = other[label]
    return labels


@pytest.mark.parametrize(
    ("lengths", "first", "verdict"),
    [
        ((5, 5, 5, 5), "A", "meets"),
        ((5, 5, 5, 5), "B", "meets"),
        ((7, 6, 5, 9, 5, 5), "A", "meets"),
        ((5, 4, 5, 5), "A", "meets with reservations"),
        ((3, 3, 3, 3), "A", "meets with reservations"),
        ((5, 5, 2, 5), "A", "does not meet"),
        ((20, 20), "A", "does not meet"),
        ((10, 10, 10), "A", "does not meet"),
        ((1, 1, 1, 1), "A", "does not meet"),
    ],
)
def test_verdict_follows_phase_count_and_shortest_phase(lengths, first, verdict):
    assert wwc_design_standard(_labels(*lengths, first=first))[0] == verdict


def test_reason_states_phase_count_and_shortest_phase():
    verdict, reason = wwc_design_standard(_labels(5, 5, 3, 6))
    assert verdict == "meets with reservations"
    assert "4 phases (ABAB, 3 attempts to demonstrate an effect)" in reason
    assert "shortest is phase 3 ('A', positions 10-12, 3 points)" in reason


def test_ab_reason_says_four_phases_are_needed():
    verdict, reason = wwc_design_standard(_labels(30, 30))
    assert verdict == "does not meet"
    assert "2 phases (AB, 1 attempt to demonstrate an effect)" in reason and "at least 4 alternating phases" in reason


def test_uses_the_shared_phase_parser():
    with pytest.raises(ValueError, match=r"label 'X' at position 2"):
        wwc_design_standard(["A", "A", "X", "B"])
    with pytest.raises(ValueError, match=r"only condition 'A'"):
        wwc_design_standard(["A"] * 10)


def _tier(baseline, treatment):
    return ["A"] * baseline + ["B"] * treatment


@pytest.mark.parametrize(
    ("tiers", "verdict", "rule"),
    [
        ([_tier(5, 15), _tier(10, 10), _tier(15, 5)], "meets", "every phase has at least 5 points"),
        ([_tier(5, 15), _tier(10, 10), _tier(16, 4)], "meets with reservations", "at least 3 but not all have 5"),
        ([_tier(3, 9), _tier(6, 6), _tier(9, 3)], "meets with reservations", "at least 3 but not all have 5"),
        ([_tier(5, 15), _tier(10, 10), _tier(18, 2)], "does not meet", "every phase needs at least 3 points"),
        ([_tier(5, 15), _tier(10, 10)], "does not meet", "at least 3 tiers are required"),
        ([_tier(5, 15), _tier(10, 10), _tier(10, 10)], "does not meet", "3 or more different points in time"),
        ([_tier(5, 15), _tier(10, 10), _tier(15, 5), _tier(15, 5)], "meets", "every phase has at least 5 points"),
    ],
)
def test_multiple_baseline_verdict_and_the_rule_that_decided(tiers, verdict, rule):
    result, reason = wwc_multiple_baseline_standard(tiers)
    assert result == verdict and rule in reason


def test_multiple_baseline_reason_names_the_starts_and_shortest_phase():
    _, reason = wwc_multiple_baseline_standard([_tier(5, 15), _tier(10, 10), _tier(16, 4)])
    assert "3 tiers, interventions starting at position 5, position 10, position 16" in reason
    assert "shortest phase is tier 3's B phase (4 points)" in reason


def test_multiple_baseline_dated_tiers_must_be_concurrent():
    def dated(first_day, baseline, treatment):
        index = pd.date_range(first_day, periods=baseline + treatment, freq="D")
        return pd.Series(_tier(baseline, treatment), index=index)

    concurrent = [dated("2024-01-01", 6, 20), dated("2024-01-01", 12, 14), dated("2024-01-03", 16, 10)]
    assert wwc_multiple_baseline_standard(concurrent)[0] == "meets"
    late = [dated("2024-01-01", 6, 20), dated("2024-01-01", 12, 14), dated("2024-01-10", 8, 10)]
    verdict, reason = wwc_multiple_baseline_standard(late)
    assert verdict == "does not meet"
    assert "tier 3 is first observed at 2024-01-10, not before the first intervention at 2024-01-07" in reason


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([_tier(5, 5), list("AAAAABBBBBAA"), _tier(7, 5)], r"tiers_phases\[1\] runs ABA; every multiple-baseline tier"),
        ([_tier(5, 5), list("BBBBBAAAAA"), _tier(7, 5)], r"tiers_phases\[1\] runs BA"),
        ([_tier(5, 5), ["A"] * 5 + ["X"] * 5], r"tiers_phases\[1\] has label 'X' at position 5"),
        ([], r"tiers_phases is empty"),
        ([_tier(5, 5), pd.Series(_tier(6, 5), index=pd.date_range("2024-01-01", periods=11))], r"mixes date-indexed"),
    ],
)
def test_multiple_baseline_bad_tiers_are_named(tiers, message):
    with pytest.raises(ValueError, match=message):
        wwc_multiple_baseline_standard(tiers)


@pytest.mark.parametrize(
    ("conditions", "verdict", "rule"),
    [
        ("ABBAABABBA", "meets", "every condition has at least 5 points"),
        ("ABABABABAB", "meets", "every condition has at least 5 points"),
        ("ABBAABABB", "meets with reservations", "every condition has at least 4 but not all have 5 points"),
        ("ABBABAB", "does not meet", "every condition needs at least 4 points"),
        ("ABBBAABAABAB", "does not meet", "no condition may run more than 2 sessions in a row"),
    ],
)
def test_alternating_treatments_verdict_and_the_rule_that_decided(conditions, verdict, rule):
    result, reason = wwc_alternating_treatments_standard(list(conditions))
    assert result == verdict and rule in reason


def test_alternating_treatments_reason_names_counts_and_longest_run():
    _, reason = wwc_alternating_treatments_standard(list("ABBBAABAABAB"))
    assert "6 A and 6 B sessions; longest run is 'B' 3 times in a row (positions 1-3)" in reason


def test_alternating_treatments_bad_label_names_the_argument():
    with pytest.raises(ValueError, match=r"conditions has label 'C' at position 2"):
        wwc_alternating_treatments_standard(list("ABCAB"))


@pytest.mark.parametrize(
    ("lengths", "criteria", "verdict", "rule"),
    [
        ((5, 5, 5, 5), (None, 1, 2, 3), "meets", "every phase has at least 5 points"),
        ((6, 5, 7, 5, 5), (None, 4, 3, 2, 1), "meets", "every phase has at least 5 points"),
        ((5, 3, 5, 5), (None, 1, 2, 3), "meets with reservations", "at least 3 but not all have 5 points"),
        ((5, 2, 5, 5), (None, 1, 2, 3), "does not meet", "every phase needs at least 3 points"),
        ((10, 10, 10), (None, 1, 2), "does not meet", "at least 3 criterion changes are required"),
        ((5, 5, 5, 5), (1, 2, 3, 2), "meets", "every phase has at least 5 points"),
    ],
)
def test_changing_criterion_verdict_and_the_rule_that_decided(lengths, criteria, verdict, rule):
    result, reason = wwc_changing_criterion_standard(lengths, criteria)
    assert result == verdict and rule in reason


def test_changing_criterion_reason_names_the_plan_and_shortest_phase():
    _, reason = wwc_changing_criterion_standard([5, 3, 5, 5], [None, 1.5, 2, 3])
    assert "4 phases (criteria baseline, 1.5, 2, 3; 3 criterion changes); shortest is phase 2 (3 points)" in reason


def test_changing_criterion_refuses_a_criterion_that_does_not_change():
    with pytest.raises(ValueError, match=r"criteria\[2\] repeats criteria\[1\] \(2\)"):
        wwc_changing_criterion_standard([5, 5, 5, 5], [None, 2, 2, 3])
