"""Tests for the Bayesian interrupted time series and its Newey-West HAC cross-check.

Ground truth comes from simulated series with a known step (or none), from a hand-built OLS + Newey-West
sandwich computed with numpy for the cross-check, and from the dense Gaussian formulas of an AR(1) regression for
the AR(1) likelihood, coefficient draws and forecast. Sampling tests are marked slow; each process compiles one
nutpie model per number of coefficients and error model (10-20 s each), the fits themselves take well under a
second. Tests pinned on the independent-error model (a result that legitimately changed when AR(1) errors became
the default) run with ``errors="iid"``, next to an AR(1) counterpart.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from americano_pipeline.stats import its
from americano_pipeline.stats.its import design
from americano_pipeline.stats.its.crosscheck import hac_level_change, newey_west_maxlags
from tests.unit.stats.its_support import INTERVENTION, daily, step_series


@pytest.fixture(scope="module")
def known_effect():
    series = step_series(20.0, seed=11)
    return series, its.bayesian_its(series, INTERVENTION, seed=3)


def plain_json_types(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_json_types(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


# --- frequentist cross-check (fast) -------------------------------------------------------------------------


def hand_built_newey_west(y: np.ndarray, x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and Newey-West (Bartlett) standard errors with the n/(n-k) factor, from the formulas."""
    n, k = x.shape
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    scores = x * (y - x @ beta)[:, None]
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        cross = scores[lag:].T @ scores[:-lag]
        meat += weight * (cross + cross.T)
    bread = np.linalg.inv(x.T @ x)
    covariance = bread @ meat @ bread * n / (n - k)
    return beta, np.sqrt(np.diag(covariance))


def test_newey_west_maxlags_rule():
    assert [newey_west_maxlags(n) for n in (44, 100, 365, 1000)] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="got 0"):
        newey_west_maxlags(0)


def test_hac_cross_check_matches_hand_built_ols_and_recovers_the_level_change():
    rng = np.random.default_rng(5)
    n = 120
    t = np.arange(n, dtype=float)
    level = (t >= 80).astype(float)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + rng.normal()
    y = 10 + 0.05 * t + 5 * level + noise
    result = hac_level_change(y, pd.DataFrame({"t": t, "level": level}), "level")

    lags = newey_west_maxlags(n)
    beta, se = hand_built_newey_west(y, np.column_stack([np.ones(n), t, level]), lags)
    half_width = stats.t.ppf(0.975, n - 3) * se[2]
    assert result["hacMaxLags"] == lags == 4
    assert result["nObs"] == n
    assert result["levelChange"] == pytest.approx(beta[2], rel=1e-10)
    assert result["se"] == pytest.approx(se[2], rel=1e-10)
    assert result["ci95"] == pytest.approx([beta[2] - half_width, beta[2] + half_width], rel=1e-10)
    assert result["pValue"] == pytest.approx(2 * stats.t.sf(abs(beta[2] / se[2]), n - 3), rel=1e-8)
    assert abs(result["levelChange"] - 5) < 1.0
    assert result["ci95"][0] < 5 < result["ci95"][1]


# --- input validation (fast: every check runs before sampling) ---------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intervention_date": "2023-12-01"}, r"intervention_date 2023-12-01 is outside the series range "
                                              r"2024-01-01 to 2024-02-13"),
        ({"intervention_date": "2024-03-01"}, r"2024-03-01 is outside the series range 2024-01-01 to 2024-02-13"),
        ({"intervention_date": "not a date"}, r"intervention_date could not be read as a date: 'not a date'"),
        ({"intervention_date": "2024-01-05"}, r"pre period has 4 observations before 2024-01-05; at least 5 "
                                              r"are needed \(max\(5, 1 coefficient \+"),
        ({"pre_period_days": 9, "day_of_week": True, "trend": True},
         r"pre period has 9 observations before 2024-01-31; at least 11"),
        ({"day_of_week": "yes"}, r"day_of_week must be True, False or None \(automatic\), got 'yes'"),
        ({"pre_period_days": 0}, r"pre_period_days must be a whole number of days >= 1, got 0"),
        ({"post_period_days": 2.5}, r"post_period_days must be a whole number of days >= 1, got 2.5"),
        ({"treatment_end_date": "2024-01-20"}, r"treatment_end_date 2024-01-20 must be after intervention_date "
                                               r"2024-01-31"),
        ({"treatment_end_date": "2024-03-01"}, r"treatment_end_date 2024-03-01 is outside the series range"),
        ({"prior_effect_mean": 5.0}, r"must be given together, got mean=5.0, sd=None"),
        ({"prior_effect_mean": 5.0, "prior_effect_sd": 0.0}, r"positive finite sd, got N\(5.0, 0.0\)"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"draws": 0}, r"draws must be an integer >= 1, got 0"),
        ({"errors": "ar2"}, r"errors must be one of 'ar1', 'iid', got 'ar2'"),
    ],
)
def test_bad_arguments_are_rejected_with_the_offending_value(kwargs, message):
    arguments = {"series": step_series(0.0, seed=1), "intervention_date": INTERVENTION, **kwargs}
    with pytest.raises(ValueError, match=message):
        its.bayesian_its(**arguments)


def test_missing_day_is_an_explicit_error():
    series = step_series(0.0, seed=1).drop(pd.Timestamp("2024-01-10"))
    with pytest.raises(ValueError, match=r"not regularly spaced.*2024-01-10"):
        its.bayesian_its(series, INTERVENTION)


def test_constant_baseline_is_rejected():
    series = daily(np.r_[np.full(30, 5.0), np.full(14, 7.0)])
    with pytest.raises(ValueError, match=r"series is constant \(5.0\) over the pre period"):
        its.bayesian_its(series, INTERVENTION)


def test_weekly_window_without_a_post_observation_is_rejected():
    series = pd.Series(np.arange(20.0) % 3, index=pd.date_range("2024-01-01", periods=20, freq="W-MON"))
    with pytest.raises(ValueError, match=r"no observation falls on or after intervention_date 2024-03-13"):
        its.bayesian_its(series, "2024-03-13", post_period_days=3)


@pytest.mark.parametrize(
    ("make_covariates", "message"),
    [
        (lambda s: s.iloc[3:].to_frame("sleep"),
         r"covariate 'sleep' is not aligned with the series: no value for 2024-01-01 \(3 series dates missing"),
        (lambda s: s.to_frame("sleep").drop(pd.Timestamp("2024-01-05")),
         r"covariate 'sleep' is not regularly spaced: 1 missing periods .*\(2024-01-05\)"),
        (lambda s: s.to_frame("sleep").assign(sleep=lambda f: f["sleep"].mask(f.index == "2024-02-02")),
         r"covariate 'sleep' has 1 missing or non-finite values on 2024-02-02"),
        (lambda s: s.to_frame("hrv").astype(object).assign(hrv=lambda f: f["hrv"].mask(f.index == "2024-01-03", "x")),
         r"covariate 'hrv' has 1 missing or non-finite values on 2024-01-03"),
        (lambda s: pd.DataFrame({"sleep": 7.0}, index=s.index),
         r"covariate 'sleep' is constant \(7.0\) over the pre period"),
        (lambda s: s.to_numpy(), r"covariates must be a pandas DataFrame indexed by date, got ndarray"),
    ],
)
def test_bad_covariates_name_the_column_and_date(make_covariates, message):
    series = step_series(0.0, seed=1)
    with pytest.raises(ValueError, match=message):
        its.bayesian_its(series, INTERVENTION, covariates=make_covariates(series))


# --- sampling ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_known_effect_is_detected(known_effect):
    _, result = known_effect
    effect = result.to_dict()["causalEffect"]
    assert effect["mean"] > 15
    assert effect["hdi95"][0] > 0
    assert effect["probability_positive"] > 0.95
    assert effect["cumulative"] == pytest.approx(14 * effect["mean"], rel=1e-9)
    assert effect["cumulativeHdi95"][0] > 0
    assert "excludes zero" in result.interpretation


@pytest.mark.slow
def test_counterfactual_and_cross_check_use_the_documented_design(known_effect):
    series, result = known_effect
    out = result.to_dict()
    counterfactual = out["counterfactual"]
    assert counterfactual["dates"][0] == "2024-01-31" and len(counterfactual["dates"]) == 14
    assert counterfactual["observed"] == pytest.approx(series.iloc[30:].tolist())
    assert all(lo < mid < hi for lo, mid, hi in
               zip(counterfactual["lower95"], counterfactual["predicted"], counterfactual["upper95"]))
    effect_from_series = np.mean(np.array(counterfactual["observed"]) - np.array(counterfactual["predicted"]))
    assert out["causalEffect"]["mean"] == pytest.approx(effect_from_series, rel=1e-9)

    weekday = series.index.dayofweek.to_numpy()
    design = np.column_stack([np.ones(44), np.arange(44), *[(weekday == d) for d in range(1, 7)], np.arange(44) >= 30])
    ols = np.linalg.lstsq(design.astype(float), series.to_numpy(), rcond=None)[0]
    assert out["crossCheck"]["levelChange"] == pytest.approx(ols[-1], rel=1e-9)
    assert out["crossCheck"]["hacMaxLags"] == 3 and out["crossCheck"]["nObs"] == 44

    diagnostics = out["diagnostics"]
    assert diagnostics["rhat"] < 1.01 and diagnostics["ess_bulk"] > 400 and diagnostics["ess_tail"] > 400


@pytest.mark.slow
def test_to_dict_is_json_with_exactly_the_documented_keys(known_effect):
    out = known_effect[1].to_dict()
    assert json.loads(json.dumps(out)) == out
    assert plain_json_types(out)
    assert set(out) == {"causalEffect", "counterfactual", "preFit", "diagnostics", "interpretation", "crossCheck",
                        "persistence", "autocorrelation"}
    assert set(out["causalEffect"]) == {"mean", "sd", "hdi95", "probability_positive", "cumulative",
                                        "cumulativeHdi95", "method", "trendContribution"}
    assert set(out["causalEffect"]["trendContribution"]) == {"mean", "hdi95"}  # 30 baseline days >= 14 after
    assert set(out["counterfactual"]) == {"dates", "predicted", "observed", "lower95", "upper95"}
    assert set(out["preFit"]) == {"dates", "fitted", "observed", "lower95", "upper95"}
    assert set(out["diagnostics"]) == {"rhat", "ess_bulk", "ess_tail", "residualLag1Autocorrelation",
                                       "autocorrelationWarning"}
    assert set(out["crossCheck"]) == {"method", "levelChange", "se", "ci95", "pValue", "hacMaxLags", "nObs"}
    assert out["persistence"] is None
    assert out["autocorrelation"]["errors"] == "ar1"
    assert set(out["autocorrelation"]["phi"]) == {"mean", "sd", "hdi95", "probability_positive"}
    assert isinstance(out["interpretation"], str) and "95% HDI" in out["interpretation"]


@pytest.mark.slow
@pytest.mark.parametrize("errors", ["ar1", "iid"])
def test_the_pre_period_fit_recovers_a_known_level_and_its_band_covers_the_baseline(errors):
    """Level 50 with noise sd 0.5 over 30 baseline days: the fitted level is 50 within 0.3 (its standard error is
    about 0.1), the band is about 50 +- 1.96 * 0.5 and holds about 95% of the baseline days."""
    rng = np.random.default_rng(31)
    series = daily(np.r_[rng.normal(50, 0.5, 30), rng.normal(55, 0.5, 14)])
    pre = its.bayesian_its(series, INTERVENTION, trend=False, day_of_week=False, errors=errors, seed=1).to_dict()
    fitted = pre["preFit"]
    assert fitted["dates"] == [day.date().isoformat() for day in series.index[:30]]
    assert fitted["observed"] == series.iloc[:30].tolist()
    assert fitted["fitted"] == pytest.approx(np.full(30, 50.0), abs=0.3)
    lower, upper = np.array(fitted["lower95"]), np.array(fitted["upper95"])
    assert np.all(lower < fitted["fitted"]) and np.all(np.array(fitted["fitted"]) < upper)
    assert upper - lower == pytest.approx(np.full(30, 2 * 1.96 * 0.5), rel=0.35)
    assert np.mean((lower <= series.iloc[:30]) & (series.iloc[:30] <= upper)) >= 0.85


@pytest.mark.slow
def test_the_pre_period_fit_follows_the_trend_and_the_segmented_model_has_one_too():
    t = np.arange(44)
    series = daily(20 + 0.5 * t + np.random.default_rng(32).normal(0, 0.5, 44) + 5 * (t >= 30))
    for out in (its.bayesian_its(series, INTERVENTION, day_of_week=False, seed=2).to_dict(),
                its.bayesian_its(series, INTERVENTION, day_of_week=False, prior_effect_mean=0.0,
                                 prior_effect_sd=100.0, seed=2).to_dict()):
        assert out["preFit"]["dates"] == [day.date().isoformat() for day in series.index[:30]]
        assert out["preFit"]["fitted"] == pytest.approx(20 + 0.5 * t[:30], abs=0.5)


@pytest.mark.slow
def test_null_effect_interval_contains_zero():
    result = its.bayesian_its(step_series(0.0, seed=21), INTERVENTION, seed=0).to_dict()
    lower, upper = result["causalEffect"]["hdi95"]
    assert lower < 0 < upper
    assert 0.05 < result["causalEffect"]["probability_positive"] < 0.95
    assert "compatible with no effect" in result["interpretation"]


@pytest.mark.slow
def test_same_seed_gives_identical_numbers_and_another_seed_does_not(known_effect):
    series, result = known_effect
    again = its.bayesian_its(series, INTERVENTION, seed=3)
    other = its.bayesian_its(series, INTERVENTION, seed=4)
    assert again.to_dict() == result.to_dict()
    assert other.to_dict()["causalEffect"]["mean"] != result.to_dict()["causalEffect"]["mean"]


@pytest.mark.slow
def test_covariate_adjustment_moves_the_estimate_towards_the_truth():
    rng = np.random.default_rng(8)
    sleep = np.r_[rng.normal(0, 1, 40), rng.normal(1.5, 1, 20)]
    truth = 10.0
    series = daily(50 + 8 * sleep + truth * (np.arange(60) >= 40) + rng.normal(0, 2, 60))
    intervention = series.index[40]
    covariates = pd.DataFrame({"sleep hours": sleep}, index=series.index)
    with_covariate = its.bayesian_its(series, intervention, covariates=covariates).to_dict()["causalEffect"]
    without = its.bayesian_its(series, intervention).to_dict()["causalEffect"]
    assert abs(with_covariate["mean"] - truth) < 2.5
    assert abs(without["mean"] - truth) > 8
    assert with_covariate["hdi95"][0] < truth < with_covariate["hdi95"][1]


@pytest.mark.slow
def test_prior_effect_segmented_model():
    series = step_series(20.0, seed=11).rename_axis("date")  # as the warehouse names it
    vague = its.bayesian_its(series, INTERVENTION, prior_effect_mean=0.0, prior_effect_sd=1000.0).to_dict()
    sceptical = its.bayesian_its(series, INTERVENTION, prior_effect_mean=0.0, prior_effect_sd=0.5).to_dict()
    # With a vague prior the level change is the OLS segmented estimate (the cross-check's point estimate).
    assert vague["causalEffect"]["method"].startswith("segmented level change")
    assert abs(vague["causalEffect"]["mean"] - vague["crossCheck"]["levelChange"]) < 0.1 * vague["causalEffect"]["sd"]
    assert vague["causalEffect"]["hdi95"][0] > 0
    # A tight prior at zero dominates 14 noisy post days: the estimate is pulled to the prior.
    assert abs(sceptical["causalEffect"]["mean"]) < 2.0
    assert sceptical["causalEffect"]["sd"] < 0.6


@pytest.mark.slow
def test_windows_restrict_the_pre_and_post_periods():
    series = daily(np.random.default_rng(2).normal(50, 10, 90))
    result = its.bayesian_its(series, "2024-02-15", pre_period_days=21, post_period_days=10).to_dict()
    assert result["counterfactual"]["dates"] == [d.date().isoformat() for d in
                                                 pd.date_range("2024-02-15", periods=10, freq="D")]
    assert result["crossCheck"]["nObs"] == 31


@pytest.mark.slow
def test_aba_design_reports_persistence():
    rng = np.random.default_rng(4)
    series = daily(np.r_[rng.normal(50, 5, 30), rng.normal(70, 5, 14), rng.normal(50, 5, 14)])
    out = its.bayesian_its(series, INTERVENTION, treatment_end_date=INTERVENTION + pd.Timedelta(days=14)).to_dict()
    assert out["causalEffect"]["mean"] == pytest.approx(20, abs=5)
    assert len(out["counterfactual"]["dates"]) == 28
    persistence = out["persistence"]
    assert set(persistence) == {"mean", "sd", "hdi95", "probability_positive", "ratio"}
    assert persistence["hdi95"][0] < 0 < persistence["hdi95"][1]
    assert persistence["ratio"] == pytest.approx(persistence["mean"] / out["causalEffect"]["mean"])
    assert "After the treatment ended" in out["interpretation"]


@pytest.mark.slow
def test_weekly_series_has_no_day_of_week_term():
    rng = np.random.default_rng(6)
    index = pd.date_range("2023-01-02", periods=16, freq="W-MON")
    series = pd.Series(np.r_[rng.normal(100, 5, 10), rng.normal(125, 5, 6)], index=index)
    out = its.bayesian_its(series, index[10], seed=1, trend=True, errors="iid").to_dict()
    # 10 pre points would be too few with day-of-week dummies (a daily model needs 11); the cross-check's
    # design is intercept + trend + level only.
    assert out["counterfactual"]["dates"][:2] == ["2023-03-13", "2023-03-20"]
    assert out["causalEffect"]["hdi95"][0] > 0
    assert "per week" in out["interpretation"]
    ols = np.linalg.lstsq(np.column_stack([np.ones(16), np.arange(16), np.arange(16) >= 10]),
                          series.to_numpy(), rcond=None)[0]
    assert out["crossCheck"]["levelChange"] == pytest.approx(ols[-1], rel=1e-9)
    # AR(1) errors: ten points cannot pin phi down, so its uncertainty (with a trend projected over six weeks)
    # widens the interval, which still covers the planted +25.
    ar1 = its.bayesian_its(series, index[10], seed=1, trend=True).to_dict()
    (phi_low, phi_high), (low, high) = ar1["autocorrelation"]["phi"]["hdi95"], ar1["causalEffect"]["hdi95"]
    assert phi_low < 0 < phi_high and phi_high - phi_low > 1
    assert low < 25 < high and high - low > np.subtract(*out["causalEffect"]["hdi95"][::-1])


def test_day_of_week_terms_need_every_weekday_twice_in_the_pre_period():
    index = pd.date_range("2024-01-01", periods=30, freq="D")
    assert design._uses_day_of_week(None, index.freq, index[:14])
    assert not design._uses_day_of_week(None, index.freq, index[:13])  # one weekday seen once only
    assert not design._uses_day_of_week(False, index.freq, index[:28])
    weekly = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    assert not design._uses_day_of_week(None, weekly.freq, weekly[:28])
    with pytest.raises(ValueError, match="day_of_week=True needs a daily or business-day series, got frequency"):
        design._uses_day_of_week(True, weekly.freq, weekly[:28])


def test_a_trend_needs_two_weeks_of_baseline_and_no_longer_a_projection_than_its_baseline():
    assert design._uses_trend(None, 14, 14) and not design._uses_trend(None, 13, 5)
    assert not design._uses_trend(None, 21, 23)  # the demo AB protocol: its slope would be projected too far
    assert design._uses_trend(True, 7, 30) and not design._uses_trend(False, 30, 5)
    with pytest.raises(ValueError, match="trend must be True, False or None \\(automatic\\), got 1"):
        design._uses_trend(1, 30, 5)


@pytest.mark.slow
def test_the_trend_s_part_of_the_effect_is_reported():
    """A steady slope of 1 per day and no intervention effect: the trend model's effect is about 0, and the
    trend's part is minus its projection, about -(36.5 - 14.5) = -22, what a level model would have called an
    effect."""
    rng = np.random.default_rng(5)
    series = daily(np.arange(44) + rng.normal(0, 1, 44))
    effect = its.bayesian_its(series, INTERVENTION, day_of_week=False, errors="iid").to_dict()["causalEffect"]
    assert effect["hdi95"][0] < 0 < effect["hdi95"][1]
    assert effect["trendContribution"]["mean"] == pytest.approx(-22, abs=1.5)
    low, high = effect["trendContribution"]["hdi95"]
    assert -30 < low < high < -15
    level = its.bayesian_its(series, INTERVENTION, day_of_week=False, errors="iid", trend=False).to_dict()
    assert level["causalEffect"]["trendContribution"] is None
    assert level["causalEffect"]["mean"] == pytest.approx(effect["mean"] - effect["trendContribution"]["mean"], abs=1)


@pytest.mark.slow
def test_a_seven_day_baseline_is_modelled_as_a_level_and_recovers_the_effect():
    rng = np.random.default_rng(12)
    series = daily(np.r_[rng.normal(60, 3, 7), rng.normal(75, 3, 10)])
    out = its.bayesian_its(series, series.index[7], seed=2).to_dict()
    assert out["crossCheck"]["levelChange"] == pytest.approx(series[7:].mean() - series[:7].mean(), rel=1e-9)
    assert out["causalEffect"]["mean"] == pytest.approx(series[7:].mean() - series[:7].mean(), abs=1.0)
    low, high = out["causalEffect"]["hdi95"]
    assert low < 15 < high and low > 0
    assert "model of level" in out["interpretation"]


@pytest.mark.slow
def test_autocorrelated_residuals_are_flagged():
    rng = np.random.default_rng(9)
    noise = np.zeros(44)
    for i in range(1, 44):
        noise[i] = 0.8 * noise[i - 1] + rng.normal(0, 5)
    series = daily(50 + noise)
    out = its.bayesian_its(series, INTERVENTION, errors="iid").to_dict()

    weekday = series.index.dayofweek.to_numpy()[:30]
    design = np.column_stack([np.ones(30), np.arange(30), *[(weekday == d) for d in range(1, 7)]]).astype(float)
    residuals = series.to_numpy()[:30] - design @ np.linalg.lstsq(design, series.to_numpy()[:30], rcond=None)[0]
    centred = residuals - residuals.mean()
    lag1 = np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2)
    assert out["diagnostics"]["residualLag1Autocorrelation"] == pytest.approx(lag1, abs=0.02)
    assert lag1 > 1.96 / np.sqrt(30)
    assert out["diagnostics"]["autocorrelationWarning"] is True
    assert "positively autocorrelated" in out["interpretation"]
    assert "this model assumes independent residuals" in out["interpretation"]
    # The default AR(1) errors model it: phi's interval is positive and covers 0.8, and the text says so.
    ar1 = its.bayesian_its(series, INTERVENTION).to_dict()
    assert ar1["autocorrelation"]["errors"] == "ar1" and ar1["diagnostics"]["autocorrelationWarning"] is True
    assert 0 < ar1["autocorrelation"]["phi"]["hdi95"][0] < 0.8 < ar1["autocorrelation"]["phi"]["hdi95"][1]
    assert "the model's AR(1) errors account for it" in ar1["interpretation"]


@pytest.mark.slow
def test_aba_segmented_model_estimates_a_carry_over_level():
    rng = np.random.default_rng(4)
    series = daily(np.r_[rng.normal(50, 5, 30), rng.normal(70, 5, 14), rng.normal(50, 5, 14)])
    end = INTERVENTION + pd.Timedelta(days=14)
    out = its.bayesian_its(series, INTERVENTION, treatment_end_date=end, prior_effect_mean=0.0,
                           prior_effect_sd=1000.0).to_dict()
    t = np.arange(58)
    weekday = series.index.dayofweek.to_numpy()
    design = np.column_stack([np.ones(58), t, *[(weekday == d) for d in range(1, 7)], (t >= 30) & (t < 44), t >= 44])
    ols = np.linalg.lstsq(design.astype(float), series.to_numpy(), rcond=None)[0]
    # Vague priors: the posterior means are the OLS coefficients of the treatment and withdrawal indicators.
    assert out["crossCheck"]["levelChange"] == pytest.approx(ols[-2], rel=1e-9)
    assert out["causalEffect"]["mean"] == pytest.approx(ols[-2], abs=0.1 * out["causalEffect"]["sd"])
    assert out["persistence"]["mean"] == pytest.approx(ols[-1], abs=0.1 * out["persistence"]["sd"])
    assert out["causalEffect"]["cumulative"] == pytest.approx(14 * out["causalEffect"]["mean"], rel=1e-9)
