"""The pooled ITS of a reversal design (``stats.its.pooled_its``): which changes it analyses, how it pools them,
and what it does with a baseline too short to model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.stats import its
from americano_pipeline.stats.its.pooled import _changes
from tests.unit.stats.its_support import daily

SAMPLER = {"draws": 1000, "tune": 500}


def labelled(runs: list[tuple[str, int]], effect: float, seed: int) -> tuple[pd.Series, list[str]]:
    """Noise sd 1 around 10, plus ``effect`` on every B day, in runs of (condition, days)."""
    labels = [condition for condition, days in runs for _ in range(days)]
    rng = np.random.default_rng(seed)
    return daily(10 + effect * (np.array(labels) == "B") + rng.normal(0, 1, len(labels))), labels


def test_every_b_run_after_an_a_run_is_a_change_with_its_withdrawal_up_to_the_next_change():
    index = pd.date_range("2024-01-01", periods=20, freq="D")
    changes = _changes(np.array(list("AAABBBAAWWBBBBAAAAAA")), index)
    assert [(c.start.day, c.intervention.day, c.treatment_end and c.treatment_end.day, c.last.day)
            for c in changes] == [(1, 4, 7, 10)]  # the second B run follows a washout, not a baseline
    changes = _changes(np.array(list("AAABBBAAABBB")), index[:12])
    assert [(c.start.day, c.intervention.day, c.treatment_end and c.treatment_end.day, c.last.day)
            for c in changes] == [(1, 4, 7, 9), (7, 10, None, 12)]


def test_without_an_a_to_b_change_or_with_mismatched_labels_the_error_says_so():
    series, labels = labelled([("B", 6), ("A", 6)], 0.0, seed=1)
    with pytest.raises(ValueError, match="no baseline \\(A\\) run followed by an intervention \\(B\\) run can be "
                                         "analysed in the conditions 'BA'"):
        its.pooled_its(series, labels)
    with pytest.raises(ValueError, match="conditions has 11 labels but the series has 12 dates"):
        its.pooled_its(series, labels[:-1])


@pytest.mark.slow
def test_the_pooled_effect_weights_each_change_by_its_treatment_days_and_covers_the_planted_step():
    series, labels = labelled([("A", 7), ("B", 6), ("A", 9), ("B", 10)], 2.0, seed=3)
    out = its.pooled_its(series, labels, seed=4, **SAMPLER).to_dict()
    first, second = out["changes"]
    assert [first["intervention"], first["treatmentEnd"], second["intervention"], second["treatmentEnd"]] == \
        ["2024-01-08", "2024-01-14", "2024-01-23", None]
    assert [first["preDays"], first["treatmentDays"], second["preDays"], second["treatmentDays"]] == [7, 6, 9, 10]
    assert [first["weight"], second["weight"]] == pytest.approx([6 / 16, 10 / 16])
    effect = out["causalEffect"]
    # The pooled draws are the weighted sums of the changes' draws, so the means combine exactly.
    assert effect["mean"] == pytest.approx(6 / 16 * first["causalEffect"]["mean"]
                                           + 10 / 16 * second["causalEffect"]["mean"], rel=1e-9)
    assert effect["cumulative"] == pytest.approx(first["causalEffect"]["cumulative"]
                                                 + second["causalEffect"]["cumulative"], rel=1e-9)
    assert effect["hdi95"][0] < 2.0 < effect["hdi95"][1] and effect["hdi95"][0] > 0
    # The changes' draws are independent, so the pooled variance is the weighted sum of their variances.
    assert effect["sd"] ** 2 == pytest.approx((6 / 16 * first["causalEffect"]["sd"]) ** 2
                                              + (10 / 16 * second["causalEffect"]["sd"]) ** 2, rel=0.1)
    assert out["counterfactual"]["dates"][:7] == [f"2024-01-{day:02d}" for day in range(8, 14)] + ["2024-01-23"]
    assert len(out["counterfactual"]["dates"]) == 16
    # each change's fit over its own baseline, and all of them, in date order, at the top level
    assert first["preFit"]["dates"] == [f"2024-01-{day:02d}" for day in range(1, 8)]
    assert second["preFit"]["dates"] == [f"2024-01-{day:02d}" for day in range(14, 23)]
    assert out["preFit"] == {key: first["preFit"][key] + second["preFit"][key] for key in first["preFit"]}
    assert out["preFit"]["observed"] == series.iloc[np.r_[0:7, 13:22]].tolist()
    assert out["persistence"] == {**first["persistence"], "ratio": first["persistence"]["mean"] / effect["mean"]}
    assert out["crossCheck"]["nObs"] == 32 and out["skippedChanges"] == []
    assert "Over the 16 treatment days of 2 baseline-to-intervention changes" in out["interpretation"]


@pytest.mark.slow
def test_the_first_change_reproduces_bayesian_its_on_its_window():
    series, labels = labelled([("A", 8), ("B", 6), ("A", 6), ("B", 6)], 0.0, seed=5)
    pooled = its.pooled_its(series, labels, seed=2, **SAMPLER).to_dict()
    alone = its.bayesian_its(series.iloc[:20], series.index[8], treatment_end_date=series.index[14], seed=2,
                             **SAMPLER).to_dict()
    first = pooled["changes"][0]
    assert first["causalEffect"] == alone["causalEffect"] and first["persistence"] == alone["persistence"]
    # The second change has a seed of its own: the same seed would reuse the same counterfactual noise draws.
    assert pooled["changes"][1]["causalEffect"]["mean"] != first["causalEffect"]["mean"]


@pytest.mark.slow
def test_a_change_whose_baseline_is_too_short_is_skipped_and_named():
    series, labels = labelled([("A", 4), ("B", 6), ("A", 6), ("B", 6)], 0.0, seed=6)
    out = its.pooled_its(series, labels, **SAMPLER).to_dict()
    assert [c["intervention"] for c in out["changes"]] == ["2024-01-17"]
    [skipped] = out["skippedChanges"]
    assert skipped["intervention"] == "2024-01-05"
    assert "pre period has 4 observations before 2024-01-05; at least 5 are needed" in skipped["reason"]
    short, _ = labelled([("A", 4), ("B", 6)], 0.0, seed=6)
    with pytest.raises(ValueError, match="no baseline .* can be analysed: 2024-01-05: the pre period has 4"):
        its.pooled_its(short, ["A"] * 4 + ["B"] * 6)
