"""Shared phase parsing: contiguous blocks, AB pairs and the specific errors every single-case method raises."""

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.stats.phases import ab_pairs, parse_phases, parse_series


def _shape(blocks):
    return [(b.number, b.label, b.start, b.stop, b.length) for b in blocks]


def test_abab_labels_become_four_contiguous_phases():
    blocks = parse_phases(["A", "A", "A", "B", "B", "A", "A", "A", "A", "B"])
    assert _shape(blocks) == [(1, "A", 0, 3, 3), (2, "B", 3, 5, 2), (3, "A", 5, 9, 4), (4, "B", 9, 10, 1)]


def test_a_string_series_or_array_of_labels_parses_the_same():
    expected = _shape(parse_phases(list("BBAABB")))
    assert _shape(parse_phases("BBAABB")) == expected
    assert _shape(parse_phases(pd.Series(list("BBAABB")))) == expected
    assert _shape(parse_phases(np.array(list("BBAABB")))) == expected


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["A", "A", "B", "C"], r"label 'C' at position 3"),
        (["A", "a", "B"], r"label 'a' at position 1"),
        (["A", None, "B"], r"label None at position 1"),
        ([], r"phases is empty"),
        (["B", "B", "B"], r"only condition 'B' \(3 observations\)"),
    ],
)
def test_bad_labels_name_the_label_and_position(labels, message):
    with pytest.raises(ValueError, match=message):
        parse_phases(labels)


def test_a_short_phase_names_its_number_label_positions_and_length():
    with pytest.raises(
        ValueError, match=r"phase 2 \('B', positions 3-4, 2 points\) is shorter than min_phase_length=3"
    ):
        parse_phases(list("AAABBAAA"), min_phase_length=3)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_min_phase_length_must_be_a_whole_number_of_at_least_one(bad):
    with pytest.raises(ValueError, match=r"min_phase_length must be a whole number >= 1"):
        parse_phases("AABB", min_phase_length=bad)


def test_parse_series_returns_floats_and_phases():
    numbers, blocks = parse_series([1, 2, 3, 4], "AABB", min_phase_length=2)
    assert numbers.dtype == float and numbers.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert _shape(blocks) == [(1, "A", 0, 2, 2), (2, "B", 2, 4, 2)]


@pytest.mark.parametrize(
    ("values", "labels", "message"),
    [
        ([1.0, 2.0, 3.0], "AABB", r"values has 3 observations but phases has 4"),
        ([1.0, np.nan, 3.0, 4.0], "AABB", r"nan at position 1"),
        ([1.0, 2.0, 3.0, np.inf], "AABB", r"inf at position 3"),
        ([1.0, "x", 3.0, 4.0], "AABB", r"non-numeric value 'x' at position 1"),
        ([1.0, 2.0, 3.0, 4.0], "AAAC", r"label 'C' at position 3"),
    ],
)
def test_parse_series_rejects_bad_values_with_their_position(values, labels, message):
    with pytest.raises(ValueError, match=message):
        parse_series(values, labels)


def test_date_indexed_values_with_a_missing_day_are_rejected_by_the_shared_validator():
    index = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05"])
    with pytest.raises(ValueError, match=r"2024-01-03"):
        parse_series(pd.Series([1.0, 2.0, 3.0, 4.0], index=index), "AABB")


def test_date_indexed_values_and_phases_must_share_their_index():
    index = pd.date_range("2024-01-01", periods=4, freq="D")
    values = pd.Series([1.0, 2.0, 3.0, 4.0], index=index)
    numbers, _ = parse_series(values, pd.Series(list("AABB"), index=index))
    assert numbers.tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match=r"indexes differ"):
        parse_series(values, pd.Series(list("AABB"), index=index + pd.Timedelta(days=1)))


@pytest.mark.parametrize(
    ("labels", "pairs"),
    [
        ("AABBAABB", [(1, 2), (3, 4)]),
        ("BBAABBAA", [(2, 3)]),
        ("AABBAA", [(1, 2)]),
        ("AABBAABBAABB", [(1, 2), (3, 4), (5, 6)]),
    ],
)
def test_ab_pairs_join_each_a_phase_with_the_b_phase_after_it(labels, pairs):
    assert [(a.number, b.number) for a, b in ab_pairs(parse_phases(labels))] == pairs


def test_a_design_without_an_a_phase_before_a_b_phase_has_no_pair():
    with pytest.raises(ValueError, match=r"no A phase is followed by a B phase in BA"):
        ab_pairs(parse_phases("BBBAAA"))
