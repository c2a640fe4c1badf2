"""Fitting the ITS and summarising the posterior: counterfactual or segmented fit, HDIs, summaries, diagnostics.

Why a module of its own: the two estimands (observed minus a counterfactual forecast from the pre period, via
CausalPy's ``InterruptedTimeSeries``; or a segmented level change with an informative prior, fitted on all data)
both reduce to the same posterior draws on the standardised scale (:class:`_Fit`), whatever the error model, which
the summaries and sampler diagnostics here turn into numbers, independently of how the result is worded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its.design import _CARRYOVER, _LEVEL, _TREND, _Phases, _with_phase_indicators
from americano_pipeline.stats.its.sampler import _forecast, _model

_COEFFICIENT_PRIOR_SD = 50.0
_HDI_PROB = 0.95


@dataclass(frozen=True)
class _Fit:
    """Posterior draws on the standardised scale, shaped (chain, draw[, date]); ``phi`` is None for iid errors,
    ``trend`` (the trend's part of the effect, ``_trend_contribution``) None without a trend."""

    effect: np.ndarray
    cumulative: np.ndarray
    persistence: np.ndarray | None
    trend: np.ndarray | None
    counterfactual_mean: np.ndarray
    counterfactual_predictive: np.ndarray
    pre_residuals: np.ndarray
    phi: np.ndarray | None
    posterior: object


def _fit_counterfactual(standardised: pd.Series, predictors: pd.DataFrame, phases: _Phases, sampler: dict,
                        errors: str) -> _Fit:
    """CausalPy ``InterruptedTimeSeries`` on the pre period; the effect is observed minus predictive counterfactual.

    The impact on a post date is the observation minus a posterior predictive draw of the untreated outcome (the
    forecast from the end of the pre period, ``sampler._forecast``), not minus its mean as in CausalPy: the
    estimand is what the treatment changed in the observed days, and the untreated values of those days include
    noise that, under AR(1) errors, is correlated from day to day. Averaged over a phase, that noise is what makes
    an interval from the mean alone too narrow (planted steps were covered 70-92% of the time, issue #12).
    """
    import causalpy as cp

    index = standardised.index
    n_coefficients = predictors.shape[1] + 1
    model = _model(np.zeros(n_coefficients), np.full(n_coefficients, _COEFFICIENT_PRIOR_SD), sampler, errors)
    experiment = cp.InterruptedTimeSeries(
        predictors.assign(y=standardised.to_numpy()),
        index[~phases.pre][0],
        formula=" + ".join(["y ~ 1", *predictors.columns]),
        model=model,
        treatment_end_time=index[phases.withdrawal][0] if phases.withdrawal.any() else None,
    )
    counterfactual = model.predict(experiment.post_design["X"], out_of_sample=True).posterior_predictive
    predictive = counterfactual["y_hat"].isel(treated_units=0).to_numpy()
    impact = standardised.to_numpy()[~phases.pre] - predictive
    treated = phases.treated[~phases.pre]
    return _Fit(
        effect=impact[..., treated].mean(axis=-1),
        cumulative=impact[..., treated].sum(axis=-1),
        persistence=impact[..., ~treated].mean(axis=-1) if phases.withdrawal.any() else None,
        trend=_trend_contribution(model.idata.posterior, predictors, phases),
        counterfactual_mean=counterfactual["mu"].isel(treated_units=0).to_numpy(),
        counterfactual_predictive=predictive,
        pre_residuals=experiment.pre_impact.mean(("chain", "draw")).to_numpy(),
        phi=_phi(model.idata.posterior),
        posterior=model.idata.posterior,
    )


def _fit_segmented(standardised: pd.Series, predictors: pd.DataFrame, phases: _Phases, prior, sampler: dict,
                   errors: str) -> _Fit:
    """Level (and carry-over) change fitted on all data; the counterfactual is the untreated forecast from the end
    of the pre period (``sampler._forecast`` with the level and carry-over indicators at 0), as in the default."""
    import xarray as xr

    design = _with_phase_indicators(predictors, phases)
    design.insert(0, "Intercept", 1.0)
    labels = list(design.columns)
    prior_mean = np.zeros(len(labels))
    prior_sd = np.full(len(labels), _COEFFICIENT_PRIOR_SD)
    prior_mean[labels.index(_LEVEL)], prior_sd[labels.index(_LEVEL)] = prior
    model = _model(prior_mean, prior_sd, sampler, errors)

    def as_x(frame: pd.DataFrame):
        coords = {"obs_ind": np.asarray(frame.index), "coeffs": labels}  # a named index would rename the dimension
        return xr.DataArray(frame.to_numpy(), dims=("obs_ind", "coeffs"), coords=coords)

    y = xr.DataArray(standardised.to_numpy()[:, None], dims=("obs_ind", "treated_units"))
    model.fit(as_x(design), y)
    posterior = model.idata.posterior
    untreated = design.assign(**{name: 0.0 for name in labels if name in (_LEVEL, _CARRYOVER)})
    last_pre = int(phases.pre.sum()) - 1
    mean, predictive = _forecast(posterior, untreated[~phases.pre].to_numpy(), untreated.iloc[last_pre].to_numpy(),
                                 float(standardised.iloc[last_pre]), sampler["random_seed"])
    pre_fit = model.predict(as_x(design[phases.pre])).posterior_predictive["mu"].isel(treated_units=0)
    beta = posterior["beta"].isel(treated_units=0)
    level = beta.sel(coeffs=_LEVEL).to_numpy()
    return _Fit(
        effect=level,
        cumulative=level * int(phases.treated.sum()),
        persistence=beta.sel(coeffs=_CARRYOVER).to_numpy() if phases.withdrawal.any() else None,
        trend=_trend_contribution(posterior, predictors, phases),
        counterfactual_mean=mean,
        counterfactual_predictive=predictive,
        pre_residuals=standardised.to_numpy()[phases.pre] - pre_fit.mean(("chain", "draw")).to_numpy(),
        phi=_phi(posterior),
        posterior=posterior,
    )


def _trend_contribution(posterior, predictors: pd.DataFrame, phases: _Phases) -> np.ndarray | None:
    """How much of the effect the extrapolated trend makes: minus the slope times the mean (pre-standardised) time
    of the treatment phase, whose pre-period mean is 0, so it is the effect a level-only baseline would add."""
    if _TREND not in predictors:
        return None
    slope = posterior["beta"].isel(treated_units=0).sel(coeffs=_TREND).to_numpy()
    return -slope * float(predictors[_TREND][phases.treated].mean())


def _phi(posterior) -> np.ndarray | None:
    return posterior["phi"].to_numpy() if "phi" in posterior else None


def _hdi(draws: np.ndarray) -> np.ndarray:
    """95% HDI of (chain, draw[, date]) draws, one [lower, upper] row per date (one row for a scalar)."""
    import arviz as az

    return np.asarray(az.hdi(draws.reshape(*draws.shape[:2], -1), hdi_prob=_HDI_PROB))


def _summary(draws: np.ndarray) -> dict:
    lower, upper = _hdi(draws)[0]
    return {
        "mean": float(draws.mean()),
        "sd": float(draws.std(ddof=1)),
        "hdi95": [float(lower), float(upper)],
        "probability_positive": float((draws > 0).mean()),
    }


def _lag1_autocorrelation(residuals: np.ndarray) -> float:
    """The usual ACF estimator (as statsmodels ``acf``): lag-1 autocovariance over variance, both about the mean."""
    centred = residuals - residuals.mean()
    total = float(np.sum(centred**2))
    return float(np.sum(centred[1:] * centred[:-1]) / total) if total > 0 else 0.0


def _diagnostics(posterior, pre_residuals: np.ndarray) -> dict:
    import arviz as az

    parameters = posterior[[name for name in ("beta", "y_hat_sigma", "phi") if name in posterior]]
    lag1 = _lag1_autocorrelation(pre_residuals)
    return {
        "rhat": float(az.rhat(parameters).to_array().max()),
        "ess_bulk": float(az.ess(parameters, method="bulk").to_array().min()),
        "ess_tail": float(az.ess(parameters, method="tail").to_array().min()),
        "residualLag1Autocorrelation": lag1,
        "autocorrelationWarning": bool(lag1 > 1.96 / np.sqrt(len(pre_residuals))),
    }
