"""WWC design standard for reversal/withdrawal designs: phase count and points per phase."""

import pytest

from americano_pipeline.stats.standards import wwc_design_standard


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
