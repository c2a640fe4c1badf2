"""Change-point detection: exact recovery on noiseless steps, recovery under noise, calibration on pure noise
(white and autocorrelated), the AR(1) noise scale against known truth, agreement with ruptures' reference PELT and
a brute-force optimal partition, and input errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.stats.changepoints import ar1_noise_scale, detect_change_points, noise_scale


def _daily(values, start="2024-03-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.date_range(start, periods=len(values), freq="D"))


def _steps(levels, lengths) -> np.ndarray:
    return np.repeat(np.asarray(levels, dtype=float), lengths)


def _ar1(n: int, phi: float, seed: int) -> np.ndarray:
    """Stationary AR(1) noise with marginal SD 1 (long-run SD sqrt((1 + phi) / (1 - phi)))."""
    shocks = np.random.default_rng(seed).standard_normal(n)
    noise = np.empty(n)
    noise[0] = shocks[0]
    for t in range(1, n):
        noise[t] = phi * noise[t - 1] + math.sqrt(1 - phi**2) * shocks[t]
    return noise


def _penalized_cost(x: np.ndarray, breaks, pen: float) -> float:
    edges = [0, *breaks, len(x)]
    return sum(((x[a:b] - x[a:b].mean()) ** 2).sum() for a, b in zip(edges[:-1], edges[1:])) + pen * len(breaks)


def _optimal_cost(x: np.ndarray, min_size: int, pen: float) -> float:
    """Brute-force optimal partitioning (no pruning): the exact minimum PELT must reach."""
    n = len(x)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    for end in range(min_size, n + 1):
        for start in [0, *range(min_size, end - min_size + 1)]:
            if np.isfinite(best[start]):
                segment = x[start:end]
                cost = best[start] + ((segment - segment.mean()) ** 2).sum() + (pen if start else 0.0)
                best[end] = min(best[end], cost)
    return float(best[n])


@pytest.mark.parametrize("algorithm, label", [("pelt", "PELT"), ("binseg", "BinSeg")])
def test_noiseless_steps_are_recovered_exactly(algorithm, label):
    series = _daily(_steps([5.0, 8.0, 6.0], [31, 26, 33]))

    result = detect_change_points(series, algorithm=algorithm).to_dict()

    assert result == {
        "changePoints": [
            {"date": "2024-04-01", "confidence": 1.0, "beforeMean": 5.0, "afterMean": 8.0, "percentChange": 60.0},
            {"date": "2024-04-27", "confidence": 1.0, "beforeMean": 8.0, "afterMean": 6.0, "percentChange": -25.0},
        ],
        "algorithm": label,
    }


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "levels, lengths",
    [([6.0, 8.0, 5.5, 7.5], [40, 35, 25, 20]), ([3.0, 4.5, 3.5], [45, 30, 45])],
    ids=["three-steps", "two-steps"],
)
def test_noisy_steps_are_recovered_within_two_days(seed, levels, lengths):
    truth = np.cumsum(lengths)[:-1]
    values = _steps(levels, lengths) + np.random.default_rng(seed).normal(0.0, 0.5, sum(lengths))

    result = detect_change_points(_daily(values))

    found = np.array([c.index for c in result.change_points])
    assert len(found) == len(truth)
    assert np.all(np.abs(found - truth) <= 2)
    assert all(c.confidence >= 0.9 for c in result.change_points)
    starts, stops = [0, *found[:-1]], [*found[1:], len(values)]
    for change, start, stop, after_stop in zip(result.change_points, starts, found, stops):
        assert change.before_mean == pytest.approx(values[start:stop].mean(), abs=1e-12)
        assert change.after_mean == pytest.approx(values[stop:after_stop].mean(), abs=1e-12)
        assert change.date == (pd.Timestamp("2024-03-01") + pd.Timedelta(days=int(stop))).date().isoformat()


@pytest.mark.parametrize("seed", range(5))
def test_pure_noise_gives_no_change_points(seed):
    noise = 7.0 + np.random.default_rng(100 + seed).normal(0.0, 1.0, 365)

    assert detect_change_points(_daily(noise)).change_points == ()


def test_false_positive_rate_on_white_noise_is_that_of_the_bic_penalty():
    """Measured rate with 2 sigma^2 ln n at n = 365 is about 3.5%; a much higher rate means a wrong penalty."""
    with_change = [
        len(detect_change_points(_daily(np.random.default_rng(seed).normal(size=365)), n_bootstrap=1).change_points)
        > 0
        for seed in range(200)
    ]

    assert np.mean(with_change) <= 0.08


def test_min_segment_length_is_honoured():
    values = _steps([0.0, 5.0, 0.0], [40, 4, 40]) + np.random.default_rng(7).normal(0.0, 0.1, 84)

    short = detect_change_points(_daily(values), min_segment_length=3)
    long = detect_change_points(_daily(values), min_segment_length=7)

    assert [c.index for c in short.change_points] == [40, 44]
    edges = [0, *(c.index for c in long.change_points), 84]
    assert min(np.diff(edges)) >= 7


def test_binseg_agrees_with_pelt_on_a_clear_case():
    values = _steps([10.0, 14.0, 9.0], [52, 61, 37]) + np.random.default_rng(3).normal(0.0, 1.0, 150)

    pelt = detect_change_points(_daily(values), algorithm="pelt")
    binseg = detect_change_points(_daily(values), algorithm="binseg")

    assert [c.date for c in pelt.change_points] == [c.date for c in binseg.change_points]
    assert [c.index for c in pelt.change_points] == [52, 113]


@pytest.mark.parametrize("seed", range(6))
def test_pelt_matches_ruptures_reference_pelt_and_the_exact_optimum(seed):
    import ruptures as rpt

    rng = np.random.default_rng(seed)
    values = _steps(rng.normal(0, 2, 4), [20, 15, 25, 20]) + rng.normal(0.0, 1.0, 80)

    result = detect_change_points(_daily(values), min_segment_length=5, n_bootstrap=1)

    found = [c.index for c in result.change_points]
    centred = values - values.mean()
    reference = rpt.Pelt(model="l2", min_size=5, jump=1).fit(centred).predict(pen=result.penalty)[:-1]
    assert found == reference
    assert _penalized_cost(values, found, result.penalty) == pytest.approx(
        _optimal_cost(values, 5, result.penalty), rel=1e-12
    )


@pytest.mark.parametrize("seed", range(6))
def test_binseg_matches_ruptures_binseg_with_its_own_l2_cost(seed):
    import ruptures as rpt

    rng = np.random.default_rng(seed)
    values = _steps(rng.normal(0, 2, 4), [23, 17, 26, 21]) + rng.normal(0.0, 1.0, 87)

    result = detect_change_points(_daily(values), algorithm="binseg", min_segment_length=4, n_bootstrap=1)

    centred = values - values.mean()
    reference = rpt.Binseg(model="l2", min_size=4, jump=1).fit(centred).predict(pen=result.penalty)[:-1]
    assert [c.index for c in result.change_points] == reference


def test_mad_diff_penalty_is_bic_with_mad_of_differences():
    """The scale before issue #12, now an explicit opt-in (``noise="mad_diff"``)."""
    values = np.array([0.0, 1.0, 3.0, 3.5, 7.5, 6.5, 9.5, 10.0, 9.0, 12.0, 11.0, 14.0, 13.0, 16.0])
    diffs = np.diff(values)  # 1, 2, .5, 4, -1, 3, .5, -1, 3, -1, 3, -1, 3: median 1, MAD 2
    assert np.median(np.abs(diffs - np.median(diffs))) == 2.0

    result = detect_change_points(_daily(values), min_segment_length=3, noise="mad_diff")

    sigma = 1.4826 * 2.0 / math.sqrt(2.0)
    assert result.noise_sd == pytest.approx(sigma, rel=1e-12)
    assert result.penalty == pytest.approx(2.0 * sigma**2 * math.log(14), rel=1e-12)


def test_default_penalty_is_bic_with_the_long_run_sd_of_the_ar1_noise():
    values = _steps([0.0, 2.0], [30, 30]) + _ar1(60, 0.5, 2)

    result = detect_change_points(_daily(values), min_segment_length=5)

    noise = result.noise
    assert noise.model == "ar1" and noise.fitted_changes == 1
    edges = [0, 30, 60]
    residuals = values - np.repeat([values[a:b].mean() for a, b in zip(edges[:-1], edges[1:])], np.diff(edges))
    phi = (residuals[:-1] @ residuals[1:]) / (residuals[:-1] @ residuals[:-1])
    innovation_sd = math.sqrt(np.mean((residuals[1:] - phi * residuals[:-1]) ** 2))
    assert noise.phi == pytest.approx(phi, rel=1e-12)
    assert noise.innovation_sd == pytest.approx(innovation_sd, rel=1e-12)
    assert result.noise_sd == noise.sd == pytest.approx(innovation_sd / (1 - phi), rel=1e-12)
    assert result.penalty == pytest.approx(2.0 * noise.sd**2 * math.log(60), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_ar1_noise_scale_recovers_phi_and_the_long_run_sd_with_or_without_a_shift(seed):
    noise = _ar1(1000, 0.6, seed)  # long-run SD sqrt(1.6 / 0.4) = 2, innovation SD sqrt(1 - 0.36) = 0.8

    plain = ar1_noise_scale(noise, 7)
    shifted = ar1_noise_scale(noise + _steps([0.0, 4.0], [400, 600]), 7)

    for scale, changes in ((plain, 0), (shifted, 1)):
        assert scale.fitted_changes == changes  # the shift is fitted as a shift, not read as autocorrelation
        assert scale.phi == pytest.approx(0.6, abs=0.05)
        assert scale.sd == pytest.approx(2.0, rel=0.1)
        assert scale.innovation_sd == pytest.approx(0.8, rel=0.05)


def test_autocorrelated_null_has_no_change_that_the_former_scale_found_and_a_planted_step_is_still_found():
    """40 days of AR(0.6) noise, the ABAB demo's minimum phase of 5 days."""
    noise = _ar1(40, 0.6, 32)

    former = detect_change_points(_daily(noise), min_segment_length=5, noise="mad_diff")
    current = detect_change_points(_daily(noise), min_segment_length=5)
    stepped = detect_change_points(_daily(noise + _steps([0.0, 2.0], [20, 20])), min_segment_length=5)

    assert [c.index for c in former.change_points] == [5, 12, 27, 34]
    assert current.change_points == ()
    assert current.noise.phi == pytest.approx(0.55, abs=0.01) and current.noise.fitted_changes == 0
    assert [c.index for c in stepped.change_points] == [20]
    assert stepped.noise.fitted_changes == 1


def test_false_change_rate_on_short_autocorrelated_noise_is_at_most_ten_percent():
    """Measured 0.080 for these 300 null 40-day AR(0.6) series (the former scale: 0.93)."""
    with_change = [
        len(detect_change_points(_daily(_ar1(40, 0.6, 1000 + seed)), min_segment_length=5, n_bootstrap=1)
            .change_points) > 0
        for seed in range(300)
    ]

    assert np.mean(with_change) <= 0.10


def test_noise_scale_falls_back_instead_of_reaching_zero():
    steps = _steps([1.0, 3.0], [10, 10])  # MAD of differences is 0: the classical SD of differences is used
    line = np.arange(20, dtype=float)  # every difference equal: 1e-6 of the series SD

    assert noise_scale(steps) == pytest.approx(np.diff(steps).std(ddof=1) / math.sqrt(2.0), rel=1e-12)
    assert noise_scale(line) == pytest.approx(1e-6 * line.std(), rel=1e-12)
    assert noise_scale(np.full(20, 4.2)) == 1.0


def test_constant_series_has_no_change_points():
    assert detect_change_points(_daily(np.full(60, 4.2))).change_points == ()


def test_percent_change_is_relative_to_the_absolute_before_mean_and_null_from_zero():
    negative = detect_change_points(_daily(_steps([-4.0, -2.0], [20, 20]))).change_points[0]
    from_zero = detect_change_points(_daily(_steps([0.0, 3.0], [20, 20]))).to_dict()["changePoints"][0]

    assert negative.percent_change == 50.0
    assert from_zero["percentChange"] is None
    assert from_zero["afterMean"] == 3.0


def test_weak_change_is_less_reproducible_than_a_strong_one():
    rng = np.random.default_rng(11)
    noise = rng.normal(0.0, 1.0, 120)
    strong = detect_change_points(_daily(_steps([0.0, 3.0], [60, 60]) + noise)).change_points
    weak = detect_change_points(_daily(_steps([0.0, 0.9], [60, 60]) + noise)).change_points

    assert len(strong) == 1 and strong[0].confidence == 1.0
    assert len(weak) == 1 and weak[0].confidence < 0.9


def test_result_is_deterministic_and_plain_json():
    values = _steps([1.0, 2.0], [30, 30]) + np.random.default_rng(5).normal(0.0, 0.7, 60)

    first = detect_change_points(_daily(values), seed=4).to_dict()
    second = detect_change_points(_daily(values), seed=4).to_dict()

    assert first == second
    assert json.loads(json.dumps(first)) == first
    change = first["changePoints"][0]
    assert set(change) == {"date", "confidence", "beforeMean", "afterMean", "percentChange"}
    assert all(type(change[key]) is float for key in ("confidence", "beforeMean", "afterMean", "percentChange"))


def test_weekly_series_dates_are_the_first_week_of_the_new_segment():
    weekly = pd.Series(_steps([2.0, 5.0], [10, 10]), index=pd.date_range("2024-01-07", periods=20, freq="W"))

    result = detect_change_points(weekly, min_segment_length=3)

    assert [c.date for c in result.change_points] == ["2024-03-17"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_segment_length": 0}, "min_segment_length must be a whole number >= 1, got 0"),
        ({"min_segment_length": 2.5}, "got 2.5"),
        ({"algorithm": "kmeans"}, "unknown algorithm 'kmeans'"),
        ({"penalty": -1.0}, "penalty must be a finite number > 0 (or None for the default), got -1.0"),
        ({"penalty": 0}, "got 0"),
        ({"penalty": float("nan")}, "got nan"),
        ({"n_bootstrap": 0}, "n_bootstrap must be a whole number >= 1, got 0"),
        ({"noise": "mad"}, "noise must be one of 'ar1', 'mad_diff'; got 'mad'"),
        ({"min_segment_length": 20}, "series has 30 observations; at least 40 are needed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(kwargs, message):
    with pytest.raises(ValueError) as error:
        detect_change_points(_daily(np.arange(30.0)), **kwargs)
    assert message in str(error.value)


def test_missing_day_is_an_error_naming_the_date():
    series = _daily(np.arange(30.0)).drop(pd.Timestamp("2024-03-10"))

    with pytest.raises(ValueError, match="2024-03-10"):
        detect_change_points(series)
