"""Fitting the ITS and summarising the posterior: counterfactual or segmented fit, HDIs, summaries, diagnostics.

Why a module of its own: the two estimands (observed minus a counterfactual forecast from the pre period, as
CausalPy's ``InterruptedTimeSeries`` computes it; or a segmented level change with an informative prior, fitted on
all data) both reduce to the same posterior draws on the standardised scale (:class:`_Fit`), whatever the error
model, which the summaries and sampler diagnostics here turn into numbers, independently of how the result is
worded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its.design import _CARRYOVER, _LEVEL, _TREND, _Phases, _with_phase_indicators
from americano_pipeline.stats.its.sampler import _fitted, _forecast, _Posterior, _sample

_COEFFICIENT_PRIOR_SD = 50.0
_HDI_PROB = 0.95


@dataclass(frozen=True)
class _Fit:
    """Posterior draws on the standardised scale, shaped (chain, draw[, date]); ``trend`` (the trend's part of the
    effect, ``_trend_contribution``) None without a trend. ``pre_mean`` and ``pre_predictive`` are the model's fit
    over the pre period (``sampler._fitted``); ``pre_residuals`` are the pre-period observations minus the
    posterior mean of the regression mean (CausalPy's pre-period impact), whose autocorrelation is reported."""

    effect: np.ndarray
    cumulative: np.ndarray
    persistence: np.ndarray | None
    trend: np.ndarray | None
    counterfactual_mean: np.ndarray
    counterfactual_predictive: np.ndarray
    pre_mean: np.ndarray
    pre_predictive: np.ndarray
    pre_residuals: np.ndarray
    posterior: _Posterior


def _fit_counterfactual(standardised: pd.Series, predictors: pd.DataFrame, phases: _Phases, sampler: dict,
                        errors: str) -> _Fit:
    """CausalPy ``InterruptedTimeSeries`` on the pre period; the effect is observed minus predictive counterfactual.

    What CausalPy's experiment computes, done directly: the design of its formula ``y ~ 1 + <predictors>``
    (:func:`_intercept_design`), the model fitted on the dates before the treatment time, its in-sample fit there
    and its out-of-sample prediction from the treatment time on. Calling the experiment itself also built the design
    with patsy, scored the fit and predicted every period twice, wrapping each result in xarray: about 0.045 s of a
    0.35 s warm call (issue #15). A test checks that the two designs are the same.

    The impact on a post date is the observation minus a posterior predictive draw of the untreated outcome (the
    forecast from the end of the pre period, ``sampler._forecast``), not minus its mean as in CausalPy: the
    estimand is what the treatment changed in the observed days, and the untreated values of those days include
    noise that, under AR(1) errors, is correlated from day to day. Averaged over a phase, that noise is what makes
    an interval from the mean alone too narrow (planted steps were covered 70-92% of the time, issue #12).
    """
    design, y = _intercept_design(predictors), standardised.to_numpy()
    pre_x, pre_y = design[phases.pre], y[phases.pre]
    n_coefficients = design.shape[1]
    posterior = _sample(pre_x, pre_y, np.zeros(n_coefficients), np.full(n_coefficients, _COEFFICIENT_PRIOR_SD),
                        sampler, errors)
    seed = sampler["random_seed"]
    mean, predictive = _forecast(posterior, design[~phases.pre], pre_x[-1], float(pre_y[-1]), seed)
    regression, pre_mean, pre_predictive = _fitted(posterior, pre_x, pre_y, seed)
    impact = y[~phases.pre] - predictive
    treated = phases.treated[~phases.pre]
    return _Fit(
        effect=impact[..., treated].mean(axis=-1),
        cumulative=impact[..., treated].sum(axis=-1),
        persistence=impact[..., ~treated].mean(axis=-1) if phases.withdrawal.any() else None,
        trend=_trend_contribution(posterior, predictors, phases),
        counterfactual_mean=mean,
        counterfactual_predictive=predictive,
        pre_mean=pre_mean,
        pre_predictive=pre_predictive,
        pre_residuals=(pre_y - regression).mean(axis=(0, 1)),
        posterior=posterior,
    )


def _intercept_design(predictors: pd.DataFrame) -> np.ndarray:
    """The design matrix of CausalPy's formula ``y ~ 1 + <predictor columns>``: an intercept column, then the
    predictors in order, row-major as patsy builds it (the sampler's arithmetic follows the memory layout, so the
    layout is part of getting the same numbers)."""
    return np.column_stack([np.ones(len(predictors)), predictors.to_numpy(dtype=float)])


def _fit_segmented(standardised: pd.Series, predictors: pd.DataFrame, phases: _Phases, prior, sampler: dict,
                   errors: str) -> _Fit:
    """Level (and carry-over) change fitted on all data; the counterfactual is the untreated forecast from the end
    of the pre period (``sampler._forecast`` with the level and carry-over indicators at 0), as in the default."""
    design = _with_phase_indicators(predictors, phases)
    design.insert(0, "Intercept", 1.0)
    labels = list(design.columns)
    prior_mean = np.zeros(len(labels))
    prior_sd = np.full(len(labels), _COEFFICIENT_PRIOR_SD)
    prior_mean[labels.index(_LEVEL)], prior_sd[labels.index(_LEVEL)] = prior
    posterior = _sample(design.to_numpy(), standardised.to_numpy(), prior_mean, prior_sd, sampler, errors)
    untreated = design.assign(**{name: 0.0 for name in labels if name in (_LEVEL, _CARRYOVER)})
    last_pre = int(phases.pre.sum()) - 1
    seed = sampler["random_seed"]
    mean, predictive = _forecast(posterior, untreated[~phases.pre].to_numpy(), untreated.iloc[last_pre].to_numpy(),
                                 float(standardised.iloc[last_pre]), seed)
    pre_y = standardised.to_numpy()[phases.pre]
    regression, pre_mean, pre_predictive = _fitted(posterior, design[phases.pre].to_numpy(), pre_y, seed)
    level = posterior.beta[..., labels.index(_LEVEL)]
    return _Fit(
        effect=level,
        cumulative=level * int(phases.treated.sum()),
        persistence=posterior.beta[..., labels.index(_CARRYOVER)] if phases.withdrawal.any() else None,
        trend=_trend_contribution(posterior, predictors, phases),
        counterfactual_mean=mean,
        counterfactual_predictive=predictive,
        pre_mean=pre_mean,
        pre_predictive=pre_predictive,
        pre_residuals=pre_y - regression.mean(axis=(0, 1)),
        posterior=posterior,
    )


def _trend_contribution(posterior: _Posterior, predictors: pd.DataFrame, phases: _Phases) -> np.ndarray | None:
    """How much of the effect the extrapolated trend makes: minus the slope times the mean (pre-standardised) time
    of the treatment phase, whose pre-period mean is 0, so it is the effect a level-only baseline would add.
    Both designs put the intercept first and the predictors after it, in order."""
    if _TREND not in predictors:
        return None
    slope = posterior.beta[..., 1 + list(predictors.columns).index(_TREND)]
    return -slope * float(predictors[_TREND][phases.treated].mean())


def _hdi(draws: np.ndarray) -> np.ndarray:
    """95% HDI of (chain, draw[, date]) draws, one [lower, upper] row per date (one row for a scalar): ArviZ's
    ``hdi`` of each date's draws, what it returns for the whole array, without the xarray objects it builds."""
    import arviz as az

    columns = draws.reshape(*draws.shape[:2], -1)
    return np.array([az.hdi(columns[..., date].ravel(), hdi_prob=_HDI_PROB) for date in range(columns.shape[-1])])


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


def _diagnostics(posterior: _Posterior, pre_residuals: np.ndarray) -> dict:
    """Sampler diagnostics and the residuals' lag-1 autocorrelation. R-hat is the worst and the ESS the smallest
    over every parameter (each coefficient, the noise sd, phi), ArviZ's rank-normalised ``rhat`` and bulk and tail
    ``ess`` of each (chain, draw) array; NaN (a parameter that never moved) is skipped, as xarray's reductions do."""
    import arviz as az

    parameters = [*np.moveaxis(posterior.beta, -1, 0), posterior.sigma]
    if posterior.phi is not None:
        parameters.append(posterior.phi)
    lag1 = _lag1_autocorrelation(pre_residuals)
    return {
        "rhat": float(np.nanmax([az.rhat(draws) for draws in parameters])),
        "ess_bulk": float(np.nanmin([az.ess(draws, method="bulk") for draws in parameters])),
        "ess_tail": float(np.nanmin([az.ess(draws, method="tail") for draws in parameters])),
        "residualLag1Autocorrelation": lag1,
        "autocorrelationWarning": bool(lag1 > 1.96 / np.sqrt(len(pre_residuals))),
    }
