"""Fitting the ITS and summarising the posterior: counterfactual or segmented fit, HDIs, summaries, diagnostics.

Why a module of its own: the two estimands (observed minus a counterfactual projected from the pre period, via
CausalPy's ``InterruptedTimeSeries``; or a segmented level change with an informative prior, fitted on all data)
both reduce to the same posterior draws on the standardised scale (:class:`_Fit`), which the summaries and
sampler diagnostics here turn into numbers, independently of how the result is worded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its.design import _CARRYOVER, _LEVEL, _Phases, _with_phase_indicators
from americano_pipeline.stats.its.sampler import _model

_COEFFICIENT_PRIOR_SD = 50.0
_HDI_PROB = 0.95


@dataclass(frozen=True)
class _Fit:
    """Posterior draws on the standardised scale, shaped (chain, draw[, date])."""

    effect: np.ndarray
    cumulative: np.ndarray
    persistence: np.ndarray | None
    counterfactual_mean: np.ndarray
    counterfactual_predictive: np.ndarray
    pre_residuals: np.ndarray
    posterior: object


def _fit_counterfactual(standardised: pd.Series, predictors: pd.DataFrame, intervention, end, sampler) -> _Fit:
    import causalpy as cp

    n_coefficients = predictors.shape[1] + 1
    model = _model(np.zeros(n_coefficients), np.full(n_coefficients, _COEFFICIENT_PRIOR_SD), sampler)
    experiment = cp.InterruptedTimeSeries(
        predictors.assign(y=standardised.to_numpy()),
        intervention,
        formula=" + ".join(["y ~ 1", *predictors.columns]),
        model=model,
        treatment_end_time=end,
    )
    effect_impact = experiment.post_impact if end is None else experiment.intervention_impact
    impact = effect_impact.transpose("chain", "draw", "obs_ind").to_numpy()
    counterfactual = model.predict(experiment.post_design["X"]).posterior_predictive
    return _Fit(
        effect=impact.mean(axis=-1),
        cumulative=impact.sum(axis=-1),
        persistence=None if end is None else experiment.post_intervention_impact.mean("obs_ind").to_numpy(),
        counterfactual_mean=counterfactual["mu"].isel(treated_units=0).to_numpy(),
        counterfactual_predictive=counterfactual["y_hat"].isel(treated_units=0).to_numpy(),
        pre_residuals=experiment.pre_impact.mean(("chain", "draw")).to_numpy(),
        posterior=model.idata.posterior,
    )


def _fit_segmented(standardised: pd.Series, predictors: pd.DataFrame, phases: _Phases, prior, sampler) -> _Fit:
    import xarray as xr

    design = _with_phase_indicators(predictors, phases)
    design.insert(0, "Intercept", 1.0)
    labels = list(design.columns)
    prior_mean = np.zeros(len(labels))
    prior_sd = np.full(len(labels), _COEFFICIENT_PRIOR_SD)
    prior_mean[labels.index(_LEVEL)], prior_sd[labels.index(_LEVEL)] = prior
    model = _model(prior_mean, prior_sd, sampler)

    def as_x(frame: pd.DataFrame):
        coords = {"obs_ind": np.asarray(frame.index), "coeffs": labels}  # a named index would rename the dimension
        return xr.DataArray(frame.to_numpy(), dims=("obs_ind", "coeffs"), coords=coords)

    y = xr.DataArray(standardised.to_numpy()[:, None], dims=("obs_ind", "treated_units"))
    model.fit(as_x(design), y)
    untreated = design.assign(**{name: 0.0 for name in labels if name in (_LEVEL, _CARRYOVER)})
    counterfactual = model.predict(as_x(untreated[~phases.pre])).posterior_predictive
    pre_fit = model.predict(as_x(design[phases.pre])).posterior_predictive["mu"].isel(treated_units=0)
    beta = model.idata.posterior["beta"].isel(treated_units=0)
    level = beta.sel(coeffs=_LEVEL).to_numpy()
    return _Fit(
        effect=level,
        cumulative=level * int(phases.treated.sum()),
        persistence=beta.sel(coeffs=_CARRYOVER).to_numpy() if phases.withdrawal.any() else None,
        counterfactual_mean=counterfactual["mu"].isel(treated_units=0).to_numpy(),
        counterfactual_predictive=counterfactual["y_hat"].isel(treated_units=0).to_numpy(),
        pre_residuals=standardised.to_numpy()[phases.pre] - pre_fit.mean(("chain", "draw")).to_numpy(),
        posterior=model.idata.posterior,
    )


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

    parameters = posterior[["beta", "y_hat_sigma"]]
    lag1 = _lag1_autocorrelation(pre_residuals)
    return {
        "rhat": float(az.rhat(parameters).to_array().max()),
        "ess_bulk": float(az.ess(parameters, method="bulk").to_array().min()),
        "ess_tail": float(az.ess(parameters, method="tail").to_array().min()),
        "residualLag1Autocorrelation": lag1,
        "autocorrelationWarning": bool(lag1 > 1.96 / np.sqrt(len(pre_residuals))),
    }
