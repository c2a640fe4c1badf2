"""The ITS's AR(1) errors: the likelihood, the coefficient draws and the forecast against the dense Gaussian
formulas of an AR(1) regression, and, with fixed seeds and known truth, what the AR(1) model changes on
autocorrelated data. Sampling tests are marked slow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from americano_pipeline.stats import its
from americano_pipeline.stats.its import sampler
from tests.unit.stats.its_support import INTERVENTION, ar1_covariance, ar1_noise, constant_posterior, daily


def test_ar1_marginal_likelihood_is_the_exact_gaussian_likelihood_with_the_coefficients_integrated_out():
    import pytensor.tensor as pt

    X, y = np.column_stack([np.ones(12), np.linspace(-1, 1, 12)]), np.random.default_rng(3).normal(size=12)
    mean, sd, phi, sigma = np.array([0.5, -1.0]), np.array([2.0, 3.0]), 0.6, 0.8
    value = sampler._ar1_marginal_log_likelihood(*map(pt.as_tensor, (X, y[:, None], mean, sd, phi, sigma))).eval()
    covariance = ar1_covariance(12, phi, sigma) + X @ np.diag(sd**2) @ X.T
    assert value == pytest.approx(stats.multivariate_normal(X @ mean, covariance).logpdf(y), rel=1e-10)


def test_ar1_coefficient_draws_follow_their_gaussian_conditional():
    X = np.column_stack([np.ones(20), np.arange(20) / 20])
    y, phi, sigma, sd = X @ [1.0, 2.0] + np.random.default_rng(4).normal(size=20), 0.5, 1.2, np.full(2, 50.0)
    draws = sampler._conditional_coefficients(np.full((2, 2000), sigma), np.full((2, 2000), phi), X, y, np.zeros(2),
                                              sd, seed=0)
    inverse = np.linalg.inv(ar1_covariance(20, phi, sigma))
    covariance = np.linalg.inv(np.diag(sd**-2.0) + X.T @ inverse @ X)  # prior mean 0
    flat = draws.reshape(-1, 2)
    assert draws.shape == (2, 2000, 2) and np.cov(flat.T) == pytest.approx(covariance, rel=0.1)
    assert np.all(np.abs(flat.mean(axis=0) - covariance @ X.T @ inverse @ y) < 4 * np.sqrt(np.diag(covariance) / 4000))


@pytest.mark.parametrize("phi", [None, 0.7])
def test_forecast_decays_the_last_residual_and_adds_the_noise_of_the_horizon(phi):
    beta, sigma, horizon, persistence = np.array([10.0, 2.0]), 1.5, np.arange(1, 7), phi or 0.0
    X = np.column_stack([np.ones(6), horizon])
    mean, draws = sampler._forecast(constant_posterior(sigma, phi, beta), X, np.array([1.0, 0.0]), 14.0, seed=0)
    assert mean[0, 0] == pytest.approx(X @ beta + persistence**horizon * 4.0, rel=1e-12)  # last residual 14 - 10
    assert draws.mean(axis=(0, 1)) == pytest.approx(mean[0, 0], rel=1e-12)  # the noise is centred date by date
    variance = sigma**2 * (1 - persistence ** (2 * horizon)) / (1 - persistence**2)
    assert draws.var(axis=(0, 1)) == pytest.approx(variance, rel=0.1)


@pytest.mark.parametrize("phi", [None, 0.6])
def test_the_pre_period_fit_predicts_each_day_from_the_one_before_as_the_forecast_does(phi):
    beta, sigma, persistence = np.array([10.0, 2.0]), 1.5, phi or 0.0
    X = np.column_stack([np.ones(5), np.arange(5.0)])
    y = X @ beta + np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    posterior = constant_posterior(sigma, phi, beta)
    regression, mean, draws = sampler._fitted(posterior, X, y, seed=0)
    assert regression[0, 0] == pytest.approx(X @ beta, rel=1e-12)
    assert mean[0, 0] == pytest.approx(X @ beta + persistence * np.r_[0.0, 1.0, -2.0, 0.5, 3.0], rel=1e-12)
    # the last day's prediction is the forecast at horizon 1 from the day before
    forecast, _ = sampler._forecast(posterior, X[-1:], X[-2], y[-2], seed=0)
    assert mean[0, 0, -1] == pytest.approx(forecast[0, 0, 0], rel=1e-12)
    assert draws.mean(axis=(0, 1)) == pytest.approx(mean[0, 0], rel=1e-12)  # centred date by date
    variance = np.r_[sigma**2 / (1 - persistence**2), np.full(4, sigma**2)]  # the first day: stationary
    assert draws.var(axis=(0, 1)) == pytest.approx(variance, rel=0.1)


@pytest.mark.slow
def test_on_an_autocorrelated_null_series_the_iid_interval_excludes_zero_and_the_ar1_interval_covers_it():
    series = daily(50 + ar1_noise(44, 0.6, seed=1))  # no effect, marginal sd 10
    iid = its.bayesian_its(series, INTERVENTION, errors="iid").to_dict()["causalEffect"]
    ar1 = its.bayesian_its(series, INTERVENTION).to_dict()["causalEffect"]
    assert iid["hdi95"][0] > 0
    assert ar1["hdi95"][0] < 0 < ar1["hdi95"][1] and ar1["sd"] > 1.5 * iid["sd"]


@pytest.mark.slow
def test_phi_is_recovered_on_a_long_series():
    series = daily(50 + ar1_noise(314, 0.6, seed=0))
    phi = its.bayesian_its(series, series.index[300]).to_dict()["autocorrelation"]["phi"]
    assert phi["hdi95"][0] < 0.6 < phi["hdi95"][1] and phi["hdi95"][1] - phi["hdi95"][0] < 0.25
    assert phi["mean"] == pytest.approx(0.6, abs=0.1)


@pytest.mark.slow
def test_a_planted_step_in_autocorrelated_data_is_covered_by_both_estimands():
    series = daily(50 + ar1_noise(88, 0.6, seed=1) + 15.0 * (np.arange(88) >= 60))
    default = its.bayesian_its(series, series.index[60]).to_dict()
    segmented = its.bayesian_its(series, series.index[60], prior_effect_mean=0.0, prior_effect_sd=1000.0).to_dict()
    assert 0 < default["causalEffect"]["hdi95"][0] < 15 < default["causalEffect"]["hdi95"][1]
    assert segmented["causalEffect"]["hdi95"][0] < 15 < segmented["causalEffect"]["hdi95"][1]
    assert segmented["autocorrelation"]["phi"]["hdi95"][0] < 0.6 < segmented["autocorrelation"]["phi"]["hdi95"][1]


@pytest.mark.slow
def test_on_autocorrelated_data_the_pre_period_fit_leaves_white_residuals_inside_its_band():
    """The fit predicts each baseline day from the day before, so its residuals are the AR(1) innovations: about
    uncorrelated, where the regression residuals the diagnostics report keep the series' autocorrelation."""
    series = daily(50 + ar1_noise(60, 0.6, seed=1))
    out = its.bayesian_its(series, series.index[45]).to_dict()
    fit = out["preFit"]
    residuals = np.array(fit["observed"]) - np.array(fit["fitted"])
    centred = residuals - residuals.mean()
    assert abs(np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2)) < 0.2
    assert out["diagnostics"]["residualLag1Autocorrelation"] > 0.4
    inside = (np.array(fit["lower95"]) <= fit["observed"]) & (np.array(fit["observed"]) <= fit["upper95"])
    assert inside.mean() >= 0.9
