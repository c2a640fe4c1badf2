"""Detected vs planned changes: nearest-change rows, the exact chance of matching as many planned changes by
random placement (cases enumerated by hand and by brute force), and the analysis summary that reports it."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.change_matching import compare_change_points, matched_by_chance
from americano_pipeline.analysis.methods import analyse_change_points
from americano_pipeline.analysis.protocol import ProtocolData

DAYS = pd.date_range("2024-03-01", periods=10)  # positions 0..9


def test_two_changes_in_ten_days_match_each_number_of_planned_changes_with_probability_one_third():
    """Segments of at least 3 days leave three placements of two changes: (3, 6), (3, 7), (4, 7). With planned
    changes on days 4 and 7 and no tolerance they match 0, 1 and 2 of them."""
    planned = [DAYS[4], DAYS[7]]

    result = compare_change_points([DAYS[4], DAYS[7]], planned, 0, dates=DAYS, min_segment_length=3)

    assert matched_by_chance(2, planned, 0, dates=DAYS, min_segment_length=3) == pytest.approx([1 / 3] * 3)
    assert result["matchedPlanned"] == 2
    assert result["matchedByChanceProbability"] == pytest.approx(1 / 3)
    assert result["expectedMatchedByChance"] == pytest.approx(1.0)


def test_one_change_matches_a_planned_one_in_three_of_its_five_positions():
    """One change can start on positions 3..7; with tolerance 1 it matches day 5 from 4, 5 or 6."""
    result = compare_change_points([DAYS[3]], [DAYS[5]], 1, dates=DAYS, min_segment_length=3)

    assert result["matchedPlanned"] == 0
    assert result["matchedByChanceProbability"] == 1.0  # matching at least 0 is certain
    assert result["expectedMatchedByChance"] == pytest.approx(3 / 5)
    assert matched_by_chance(1, [DAYS[5]], 1, dates=DAYS, min_segment_length=3) == pytest.approx([2 / 5, 3 / 5])


def test_no_detection_matches_nothing_with_certainty():
    result = compare_change_points([], [DAYS[5]], 3, dates=DAYS, min_segment_length=3)

    assert result["matchedPlanned"] == 0 and result["unmatchedDetected"] == 0
    assert (result["matchedByChanceProbability"], result["expectedMatchedByChance"]) == (1.0, 0.0)
    assert result["planned"] == [{"date": "2024-03-06", "nearestDetected": None, "distanceDays": None,
                                  "matched": False}]


@pytest.mark.parametrize("seed", range(40))
def test_chance_distribution_equals_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    n, gap, tolerance = int(rng.integers(10, 26)), int(rng.integers(1, 5)), int(rng.integers(0, 4))
    k = int(rng.integers(1, min(n // gap, 5)))
    dates = pd.date_range("2024-01-01", periods=n)
    planned = sorted({int(p) for p in rng.integers(1, n, size=int(rng.integers(1, 4)))})
    counts = np.zeros(len(planned) + 1)
    for changes in itertools.combinations(range(gap, n - gap + 1), k):
        if min(np.diff([0, *changes, n])) >= gap:
            counts[sum(any(abs(c - p) <= tolerance for c in changes) for p in planned)] += 1

    found = matched_by_chance(k, [dates[p] for p in planned], tolerance, dates=dates, min_segment_length=gap)

    assert found == pytest.approx(counts / counts.sum(), abs=1e-12)


def test_rows_give_signed_distances_and_too_many_changes_for_the_segments_are_an_error():
    result = compare_change_points([DAYS[6]], [DAYS[4], DAYS[8]], 1, dates=DAYS, min_segment_length=3)

    assert result["detected"] == [{"date": "2024-03-07", "nearestPlanned": "2024-03-05", "distanceDays": 2}]
    assert [(row["distanceDays"], row["matched"]) for row in result["planned"]] == [(2, False), (-2, False)]
    assert result["unmatchedDetected"] == 1 and result["meanAbsoluteDistanceDays"] == 2.0
    with pytest.raises(ValueError, match="3 changes with segments of at least 3 do not fit in 10 observations"):
        matched_by_chance(3, [DAYS[4]], 1, dates=DAYS, min_segment_length=3)


def _analysed(sequence: str, values: np.ndarray):
    """``analyse_change_points`` as the asset calls it on a protocol of 10-day phases (minimum phase 5 days)."""
    lengths = [10] * len(sequence)
    labels = {"A": ("baseline", "BASELINE"), "B": ("intervention", "INTERVENTION_A")}
    rows = [{"phase_number": number, "phase_label": f"{labels[code][0]}_{number}", "phase_type": labels[code][1],
             "condition": code} for number, code in enumerate(sequence, start=1)]
    days = pd.DataFrame(np.repeat(rows, lengths).tolist(),
                        index=pd.date_range("2024-03-01", periods=sum(lengths), name="date"))
    days["outcome"] = values
    protocol = SimpleNamespace(protocol_id="p1", name="test", design_type=sequence, min_phase_length=5)
    return analyse_change_points(ProtocolData(protocol, days), "outcome", algorithm="pelt", min_segment_length=None,
                                 penalty=None, n_bootstrap=20, seed=0, tolerance_days=3)


def test_the_summary_gives_the_matched_count_with_its_chance_probability():
    """Three clear changes on planned days 10, 20 and 30 of 40, segments of at least 5 days, tolerance 3: of the
    C(23, 3) = 1771 admissible placements of three changes, 7^3 = 343 put one within 3 days of each planned
    change, less 7 + 7 whose changes are closer than 5 days (13 and 17, or 23 and 27): 329, so P = 0.19. Three of
    three matched is no strong evidence in so short a series."""
    values = np.repeat([0.0, 5.0, 0.0, 5.0], 10) + np.random.default_rng(0).normal(0.0, 0.5, 40)

    analysis = _analysed("ABAB", values)

    comparison = analysis.result["comparison"]
    assert comparison["matchedPlanned"] == 3
    assert comparison["matchedByChanceProbability"] == pytest.approx(329 / 1771, rel=1e-12)
    assert "3/3 planned changes matched within 3 d (P = 0.19 that 3 randomly placed changes match as many" \
        in analysis.summary
    assert analysis.result["noise"]["model"] == "ar1" and analysis.metrics["matched_by_chance_probability"] > 0


def test_a_summary_without_detections_claims_no_match():
    analysis = _analysed("AB", np.full(20, 3.0))

    assert analysis.summary == "**0** detected vs 1 planned changes"
    assert analysis.result["comparison"]["matchedByChanceProbability"] == 1.0
