"""The public entry point of the ITS: argument checking, the ``bayesian_its`` orchestration and ``ITSResult``.

Why a module of its own: it is the one place that reads the caller's arguments (dates, windows, the effect prior,
sampler settings), turns them into a design (``design``), a fit (``fit``), a cross-check (``crosscheck``) and an
interpretation (``prose``), and assembles the study app's JSON shape; the package re-exports its two public names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its.crosscheck import hac_level_change
from americano_pipeline.stats.its.design import (
    _LEVEL,
    _aligned_covariates,
    _checked_covariates,
    _phases,
    _raw_predictors,
    _standardised,
    _uses_day_of_week,
    _uses_trend,
    _with_phase_indicators,
)
from americano_pipeline.stats.its.fit import _diagnostics, _Fit, _fit_counterfactual, _fit_segmented, _hdi, _summary
from americano_pipeline.stats.its.prose import _interpretation, _model_terms, _opening, _unit, _Wording
from americano_pipeline.stats.its.sampler import _ERRORS
from americano_pipeline.stats.validation import date_label, regular_series

_MIN_PRE_PERIODS = 5
_RESIDUAL_DF_MARGIN = 2


class _ShortBaseline(ValueError):
    """The pre period is shorter than the model needs (``_require_pre_length``); the pooled ITS skips such a change."""


@dataclass(frozen=True)
class ITSResult:
    """Result of :func:`bayesian_its`; ``to_dict()`` gives the study app's JSON shape (see ``bayesian_its``)."""

    causal_effect: dict
    counterfactual: dict
    diagnostics: dict
    interpretation: str
    cross_check: dict
    persistence: dict | None
    autocorrelation: dict
    pre_fit: dict

    def to_dict(self) -> dict:
        return copy.deepcopy(
            {
                "causalEffect": self.causal_effect,
                "counterfactual": self.counterfactual,
                "preFit": self.pre_fit,
                "diagnostics": self.diagnostics,
                "interpretation": self.interpretation,
                "crossCheck": self.cross_check,
                "persistence": self.persistence,
                "autocorrelation": self.autocorrelation,
            }
        )


def bayesian_its(
    series: pd.Series,
    intervention_date,
    *,
    covariates: pd.DataFrame | None = None,
    pre_period_days=None,
    post_period_days=None,
    treatment_end_date=None,
    prior_effect_mean=None,
    prior_effect_sd=None,
    day_of_week: bool | None = None,
    trend: bool | None = None,
    errors: str = "ar1",
    seed=0,
    draws: int = 2000,
    tune: int = 1000,
    chains: int = 2,
) -> ITSResult:
    """Estimate the effect of an intervention on ``series`` with a Bayesian interrupted time series.

    Model. ``y_t = intercept + trend * t + day-of-week_t + covariates_t . gamma + r_t`` with CausalPy's
    ``LinearRegression`` priors on the standardised scale and, by default, AR(1) residuals r_t (see
    "Autocorrelation"). Day-of-week dummies are used only for daily (or business-day) series; any other regular
    frequency (weekly, monthly, hourly) gets trend and covariates only, since a weekly series has no within-week
    cycle and other seasonalities need more data than an n-of-1 baseline has. ``covariates`` (e.g. sleep, HRV;
    the CausalImpact use case) must be measured on every date of the series, must not be affected by the
    intervention, and are matched by date (extra rows are ignored).

    Two estimands, chosen by the prior arguments:

    - Default (no ``prior_effect_*``): CausalPy ``InterruptedTimeSeries`` fitted on the pre period only. The
      counterfactual is the model's forecast of the untreated outcome from the end of the pre period: its mean is
      trend + seasonality + covariates plus phi^h times the last pre-period residual (h = periods since the end of
      the pre period, so that residual's AR part decays into the post period), and a counterfactual draw adds the
      AR(1) noise of the innovations after the pre period (with ``errors="iid"``: phi = 0, no decay, independent
      noise). The causal effect is the posterior of the mean per-period (observed - counterfactual draw) over the
      treatment phase, i.e. of the average of y_t - y_t(untreated) over the days actually observed: for a step of
      size d it is d, and its interval carries both the parameter uncertainty and the (autocorrelated) noise of
      the untreated outcomes, which CausalPy's observed - counterfactual mean leaves out. Its posterior mean is
      the mean of observed - ``predicted``; ``cumulative`` is the posterior mean of the sum over that phase.
    - ``prior_effect_mean`` and ``prior_effect_sd`` given: a segmented PyMC model (same trend, seasonality and
      covariates plus a level-change coefficient with prior N(prior_effect_mean, prior_effect_sd) in outcome
      units) fitted on ALL data; the causal effect is that level change. It differs from the default because
      post-period data also inform the trend, seasonality and phi, and the prior pulls the estimate towards
      prior knowledge (useful with short baselines). The counterfactual is the untreated forecast from the end of
      the pre period as in the default (level change removed), and ``cumulative`` is the level change times the
      number of treatment-phase periods.

    ABA designs (``treatment_end_date``): CausalPy 0.9's three-period design (``treatment_end_time``) is used;
    the effect covers the treatment phase and ``persistence`` summarises the withdrawal phase (mean
    observed - counterfactual draw there, or the segmented model's own carry-over level, prior N(0, 50 pre-period
    sds)), with ``ratio`` = persistence mean / effect mean (CausalPy's persistence ratio, as a fraction).

    Autocorrelation. Daily outcomes are usually autocorrelated, and a model with independent residuals then gives
    too narrow intervals (issue #12: 95% HDIs covered a planted step 70-75% of the time at lag-1 autocorrelation
    0.5, and excluded 0 on 16% of null protocols). ``errors="ar1"`` (default) models the residuals as a stationary
    AR(1), r_t = phi r_{t-1} + e_t, e_t ~ N(0, sigma), with the Jeffreys prior p(phi) ~ (1 - phi^2)^(-1/2) on
    (-1, 1) and the first residual from the stationary distribution (``sampler`` says why), in both the
    counterfactual and the segmented fit, so the coefficients, the forecast and the effect carry the uncertainty
    of the effective sample size; ``autocorrelation`` reports the posterior of phi. A baseline of one or two weeks
    says little about phi, so the intervals are then wide: that is the honest uncertainty, which
    ``bench/calibration.py`` checks on the pipeline's designs (coverage of planted steps, false positives on null
    protocols). ``errors="iid"`` is CausalPy's independent-residual likelihood, kept for comparison with CausalPy.
    The lag-1 autocorrelation of the pre-period regression residuals is reported
    (``residualLag1Autocorrelation``) and flagged (``autocorrelationWarning``) when it exceeds Bartlett's
    white-noise bound 1.96/sqrt(n_pre); the ``crossCheck`` (segmented OLS with Newey-West HAC errors, see
    ``crosscheck``) stays valid under it.

    Day of week. ``day_of_week=None`` (default) uses the day-of-week dummies for a daily (or business-day) series
    when the pre period holds every weekday present at least twice: with one day per weekday each dummy would
    fit its day exactly and leave the noise sd unidentified. A short baseline (e.g. the 7-day first phase of an
    ABAB design) then gets trend and covariates only. ``True`` requires them (daily series only), ``False``
    never uses them. The rule depends on the calendar only, never on the outcome.

    Trend. ``trend=None`` (default) fits a linear trend only when the pre period has at least 14 observations
    (two weeks of days) and at least as many as the post period (treatment plus withdrawal): a slope fitted to
    few noisy, autocorrelated points and projected further than the span it was fitted on manufactures effects
    (on the synthetic null protocols a 12-day baseline gave +15 with a 95% HDI excluding 0, and on the demo AB
    protocol a 21-day baseline slope projected over 23 days turned a planted +15 into +4.2; issue #12). Otherwise
    the baseline is a level (mean) model plus covariates. ``True``/``False`` force it. The rule reads the
    calendar only, never the outcome. When a trend is fitted, ``causalEffect.trendContribution`` reports how much
    of the effect it makes (posterior mean and 95% HDI of minus the slope's projection over the treatment phase,
    relative to the pre-period mean), so a reader sees when an effect rests on an extrapolation.

    Windows. ``pre_period_days`` / ``post_period_days`` keep only the last/first N calendar days before/after the
    intervention (days whatever the frequency: 28 days = 4 points of a weekly series).

    Input checks (``ValueError``): the series goes through ``regular_series`` (missing periods are an error); the
    intervention (and end) date must fall inside the series; the pre period needs at least max(5, parameters + 2)
    points, parameters = regression coefficients + the noise sd (2 for the level model of a short daily baseline,
    9 with trend and day of week; phi is not counted, its bounded prior keeps it identified). Five is the shortest
    phase the WWC standards count as fully meeting them and the shortest the demo's ABAB designs register
    (``bench/calibration.py`` checks the intervals at that length); ``errors`` must be "ar1" or "iid"; covariates
    must cover every date, be numeric and finite, and vary over the pre period.

    ``draws``, ``tune``, ``chains`` are nutpie settings (per chain); ``seed`` makes results identical run to run.

    ``to_dict()``::

        {"causalEffect": {"mean", "sd", "hdi95": [lo, hi], "probability_positive", "cumulative",
                          "cumulativeHdi95": [lo, hi], "method",
                          "trendContribution": None (no trend) | {"mean", "hdi95"}},
         "counterfactual": {"dates", "predicted", "observed", "lower95", "upper95"},
         "preFit": {"dates", "fitted", "observed", "lower95", "upper95"},
         "diagnostics": {"rhat", "ess_bulk", "ess_tail", "residualLag1Autocorrelation",
                         "autocorrelationWarning"},
         "interpretation": str,
         "crossCheck": {"method", "levelChange", "se", "ci95", "pValue", "hacMaxLags", "nObs"},
         "persistence": None | {"mean", "sd", "hdi95", "probability_positive", "ratio"},
         "autocorrelation": {"errors": "ar1" | "iid",
                             "phi": None (iid) | {"mean", "sd", "hdi95", "probability_positive"}}}

    The counterfactual covers every post date (treatment and withdrawal phases); ``predicted`` is the posterior
    mean of the counterfactual mean and the band is the 95% HDI of the counterfactual draws (mean plus noise,
    the CausalImpact convention), i.e. where untreated observations would be expected to fall. ``preFit`` is the
    model's fit over the pre period: ``fitted`` is the posterior mean of its prediction of each pre-period date from
    the dates before it (the forecast at horizon 1, as the counterfactual is the forecast from the end of the pre
    period: trend, seasonality and covariates plus phi times the previous date's residual; with ``errors="iid"`` the
    regression mean, CausalPy's fit; with the segmented model, from the regression fitted on all data) and the band
    is the 95% HDI of its predictive draws (noise sd sigma; the first date, without a predecessor, sigma /
    sqrt(1 - phi^2)), so about 95% of the pre-period observations fall inside it when the model describes them. Its
    draws use a random stream of their own: adding it changed no other number. ``rhat`` is the maximum and the ESS
    values the minimum over all model parameters, phi included (ArviZ).
    """
    sampler = _sampler_settings(seed, draws, tune, chains)
    _require_errors(errors)
    outcome = regular_series(series, name="series", min_length=3)
    intervention = _timestamp(intervention_date, "intervention_date")
    _require_inside(intervention, outcome.index, "intervention_date")
    outcome = _window(outcome, intervention, pre_period_days, post_period_days)
    end = None if treatment_end_date is None else _timestamp(treatment_end_date, "treatment_end_date")
    if end is not None:
        _require_end_inside(end, intervention, outcome.index)
    prior = _effect_prior(prior_effect_mean, prior_effect_sd)
    model = _Model(day_of_week=day_of_week, trend=trend, errors=errors, sampler=sampler)
    checked = None if covariates is None else _checked_covariates(covariates)
    return _result(_analysed(outcome, intervention, end, checked, prior, model))


@dataclass(frozen=True)
class _Model:
    """The caller's model choices (``bayesian_its``): calendar terms, error model, sampler settings."""

    day_of_week: bool | None
    trend: bool | None
    errors: str
    sampler: dict


@dataclass(frozen=True)
class _Analysed:
    """One fitted interruption, before it is summarised: what ``_result`` and the pooled ITS both read."""

    outcome: pd.Series
    phases: object
    fit: _Fit
    location: float
    scale: float
    cross_check: dict
    wording: _Wording


def _analysed(outcome: pd.Series, intervention: pd.Timestamp, end: pd.Timestamp | None,
              covariates: pd.DataFrame | None, prior, model: _Model) -> _Analysed:
    """Design, fit and cross-check of one interruption of a checked, windowed series (``bayesian_its``), with
    covariates checked by ``design._checked_covariates``."""
    phases = _phases(outcome.index, intervention, end)
    given = pd.DataFrame(index=outcome.index) if covariates is None else covariates
    n_pre = int(phases.pre.sum())
    weekly = _uses_day_of_week(model.day_of_week, outcome.index.freq, outcome.index[phases.pre])
    sloped = _uses_trend(model.trend, n_pre, len(outcome) - n_pre)
    raw_predictors, labels = _raw_predictors(outcome.index, sloped, weekly, _aligned_covariates(given, outcome.index))
    _require_pre_length(n_pre, raw_predictors.shape[1] + 1, intervention)
    predictors = pd.DataFrame(
        {column: _standardised(raw_predictors[column], phases.pre, labels[column])[0] for column in raw_predictors},
        index=outcome.index,
    )
    standardised, location, scale = _standardised(outcome, phases.pre, "series")
    cross_check = hac_level_change(outcome.to_numpy(), _with_phase_indicators(predictors, phases), _LEVEL)
    if prior is None:
        fit = _fit_counterfactual(standardised, predictors, phases, model.sampler, model.errors)
    else:
        fit = _fit_segmented(standardised, predictors, phases, (prior[0] / scale, prior[1] / scale), model.sampler,
                             model.errors)
    wording = _Wording(unit=_unit(outcome.index.freq), terms=_model_terms(sloped, weekly, given),
                       segmented=prior is not None)
    return _Analysed(outcome, phases, fit, location, scale, cross_check, wording)


def _sampler_settings(seed, draws, tune, chains) -> dict:
    return {
        "random_seed": _integer(seed, "seed", 0),
        "draws": _integer(draws, "draws", 1),
        "tune": _integer(tune, "tune", 1),
        "chains": _integer(chains, "chains", 1),
    }


def _integer(value, name: str, minimum: int, kind: str = "an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be {kind} >= {minimum}, got {value!r}")
    return int(value)


def _require_errors(errors) -> None:
    if errors not in _ERRORS:
        raise ValueError(f"errors must be one of {', '.join(map(repr, _ERRORS))}, got {errors!r}")


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} could not be read as a date: {value!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} could not be read as a date: {value!r}")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tz is not None else stamp


def _require_inside(stamp: pd.Timestamp, index: pd.DatetimeIndex, name: str) -> None:
    if not index[0] <= stamp <= index[-1]:
        raise ValueError(
            f"{name} {date_label(stamp)} is outside the series range {date_label(index[0])} to {date_label(index[-1])}"
        )


def _require_end_inside(end: pd.Timestamp, intervention: pd.Timestamp, index: pd.DatetimeIndex) -> None:
    if end <= intervention:
        raise ValueError(
            f"treatment_end_date {date_label(end)} must be after intervention_date {date_label(intervention)}"
        )
    _require_inside(end, index, "treatment_end_date")


def _window(outcome: pd.Series, intervention: pd.Timestamp, pre_days, post_days) -> pd.Series:
    """The series inside the pre/post windows: a label slice, so the index keeps its frequency."""
    first = None if pre_days is None else intervention - _days(pre_days, "pre_period_days")
    last = None if post_days is None else intervention + _days(post_days, "post_period_days") - pd.Timedelta(1, "ns")
    return outcome[first:last]


def _days(value, name: str) -> pd.Timedelta:
    return pd.Timedelta(days=_integer(value, name, 1, "a whole number of days"))


def _effect_prior(mean, sd) -> tuple[float, float] | None:
    if mean is None and sd is None:
        return None
    if mean is None or sd is None:
        raise ValueError(
            f"prior_effect_mean and prior_effect_sd must be given together, got mean={mean!r}, sd={sd!r}"
        )
    try:
        mean, sd = float(mean), float(sd)
    except (TypeError, ValueError):
        raise ValueError(f"prior_effect_mean and prior_effect_sd must be numbers, got {mean!r}, {sd!r}") from None
    if not np.isfinite(mean) or not np.isfinite(sd) or sd <= 0:
        raise ValueError(f"the effect prior needs a finite mean and a positive finite sd, got N({mean}, {sd})")
    return mean, sd


def _require_pre_length(n_pre: int, n_coefficients: int, intervention: pd.Timestamp) -> None:
    minimum = max(_MIN_PRE_PERIODS, n_coefficients + 1 + _RESIDUAL_DF_MARGIN)
    if n_pre < minimum:
        raise _ShortBaseline(
            f"the pre period has {n_pre} observations before {date_label(intervention)}; at least {minimum} are needed "
            f"(max({_MIN_PRE_PERIODS}, {n_coefficients} coefficient{'s' if n_coefficients != 1 else ''} + noise sd "
            f"+ {_RESIDUAL_DF_MARGIN}))"
        )


def _trend_summary(draws: np.ndarray | None) -> dict | None:
    return None if draws is None else {key: _summary(draws)[key] for key in ("mean", "hdi95")}


def _result(analysed: _Analysed) -> ITSResult:
    outcome, phases, fit, location, scale = (analysed.outcome, analysed.phases, analysed.fit, analysed.location,
                                             analysed.scale)
    cross_check, wording = analysed.cross_check, analysed.wording
    causal_effect = {
        **_summary(scale * fit.effect),
        "cumulative": float(scale * fit.cumulative.mean()),
        "cumulativeHdi95": [float(bound) for bound in _hdi(scale * fit.cumulative)[0]],
        "method": "segmented level change (informative prior, all data)" if wording.segmented
        else "observed minus pre-period counterfactual (CausalPy InterruptedTimeSeries)",
        "trendContribution": _trend_summary(None if fit.trend is None else scale * fit.trend),
    }
    persistence = None
    if fit.persistence is not None:
        persistence = _summary(scale * fit.persistence)
        persistence["ratio"] = persistence["mean"] / causal_effect["mean"] if causal_effect["mean"] else None
    counterfactual = _path(outcome[~phases.pre], "predicted", fit.counterfactual_mean, fit.counterfactual_predictive,
                           location, scale)
    pre_fit = _path(outcome[phases.pre], "fitted", fit.pre_mean, fit.pre_predictive, location, scale)
    diagnostics = _diagnostics(fit.posterior, fit.pre_residuals)
    phi = fit.posterior.phi
    autocorrelation = {"errors": "iid" if phi is None else "ar1", "phi": None if phi is None else _summary(phi)}
    opening = _opening(causal_effect, outcome.index[phases.treated], wording)
    text = _interpretation(opening, causal_effect, persistence, diagnostics, autocorrelation, cross_check,
                           wording.unit)
    return ITSResult(causal_effect, counterfactual, diagnostics, text, cross_check, persistence, autocorrelation,
                     pre_fit)


def _path(observed: pd.Series, name: str, mean: np.ndarray, predictive: np.ndarray, location: float,
          scale: float) -> dict:
    """The model's path over the dates of ``observed`` in the outcome's units: the posterior mean of its mean draws
    (under ``name``), the observations, and the 95% HDI of its predictive draws (``counterfactual``, ``preFit``)."""
    bands = _hdi(location + scale * predictive)
    return {
        "dates": [date_label(date) for date in observed.index],
        name: [float(value) for value in location + scale * mean.mean(axis=(0, 1))],
        "observed": [float(value) for value in observed.to_numpy()],
        "lower95": [float(value) for value in bands[:, 0]],
        "upper95": [float(value) for value in bands[:, 1]],
    }
