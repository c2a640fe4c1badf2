"""Bayesian interrupted time series (ITS) for one n-of-1 outcome series, with a frequentist HAC cross-check.

Why: an n-of-1 experimenter who starts an intervention on a known date wants to know how far the outcome moved
away from what the baseline pattern predicts, with honest uncertainty. The default analysis follows CausalPy's
``InterruptedTimeSeries`` (the CausalImpact idea without the state-space part): a PyMC linear model of trend,
day-of-week seasonality and optional covariates is fitted to the pre period only, projected into the post period
as the counterfactual, and the effect is observed minus counterfactual.

Conventions:
- The outcome and the predictors (trend, day-of-week dummies, covariates) are standardised with their pre-period
  mean and sd before fitting, as CausalImpact does (``standardize.data = TRUE``), so CausalPy's default priors
  (coefficients N(0, 50), noise sd HalfNormal(1)) are weakly informative for any unit (steps, hours, ms of HRV);
  every reported number is transformed back to the outcome's units.
- Periods: pre = dates before ``intervention_date``; post = dates on or after it (CausalPy's inclusive
  ``treatment_time``). With ``treatment_end_date`` (ABA), the treatment phase is [intervention, end) and the
  withdrawal phase is the dates on or after the end date (CausalPy's ``treatment_end_time``).
- Sampling uses nutpie on a model compiled once per number of coefficients and reused across calls (only the data
  change), so warm calls take a fraction of a second; see ``bench/its.py`` for the speed and agreement check
  against CausalPy's default ``pm.sample`` settings.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its_crosscheck import hac_level_change
from americano_pipeline.stats.validation import date_label, regular_series

_MIN_PRE_PERIODS = 7
_RESIDUAL_DF_MARGIN = 2
_MIN_PRE_FOR_TREND = 14
_COEFFICIENT_PRIOR_SD = 50.0
_HDI_PROB = 0.95
_RHAT_LIMIT = 1.01
_ESS_LIMIT = 400
_LEVEL = "level"
_CARRYOVER = "carryover"


@dataclass(frozen=True)
class ITSResult:
    """Result of :func:`bayesian_its`; ``to_dict()`` gives the study app's JSON shape (see ``bayesian_its``)."""

    causal_effect: dict
    counterfactual: dict
    diagnostics: dict
    interpretation: str
    cross_check: dict
    persistence: dict | None

    def to_dict(self) -> dict:
        return copy.deepcopy(
            {
                "causalEffect": self.causal_effect,
                "counterfactual": self.counterfactual,
                "diagnostics": self.diagnostics,
                "interpretation": self.interpretation,
                "crossCheck": self.cross_check,
                "persistence": self.persistence,
            }
        )


@dataclass(frozen=True)
class _Phases:
    pre: np.ndarray
    treated: np.ndarray
    withdrawal: np.ndarray


@dataclass(frozen=True)
class _Wording:
    """What the interpretation needs to name: the period unit, the baseline model's terms, the estimand."""

    unit: str
    terms: str
    segmented: bool


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
    seed=0,
    draws: int = 2000,
    tune: int = 1000,
    chains: int = 2,
) -> ITSResult:
    """Estimate the effect of an intervention on ``series`` with a Bayesian interrupted time series.

    Model. ``y_t = intercept + trend * t + day-of-week_t + covariates_t . gamma + e_t``, e_t ~ N(0, sigma), with
    CausalPy's ``LinearRegression`` priors on the standardised scale. Day-of-week dummies are used only for
    daily (or business-day) series; any other regular frequency (weekly, monthly, hourly) gets trend and
    covariates only, since a weekly series has no within-week cycle and other seasonalities need more data than
    an n-of-1 baseline has. ``covariates`` (e.g. sleep, HRV; the CausalImpact use case) must be measured on every
    date of the series, must not be affected by the intervention, and are matched by date (extra rows are
    ignored).

    Two estimands, chosen by the prior arguments:

    - Default (no ``prior_effect_*``): CausalPy ``InterruptedTimeSeries`` fitted on the pre period only. The
      causal effect is the posterior of the mean per-period (observed - counterfactual mean) over the treatment
      phase; ``cumulative`` is the posterior mean of the sum over that phase.
    - ``prior_effect_mean`` and ``prior_effect_sd`` given: a segmented PyMC model (same trend, seasonality and
      covariates plus a level-change coefficient with prior N(prior_effect_mean, prior_effect_sd) in outcome
      units) fitted on ALL data; the causal effect is that level change. It differs from the default because
      post-period data also inform the trend and seasonality, and the prior pulls the estimate towards prior
      knowledge (useful with short baselines). The counterfactual is the fitted mean with the level change removed,
      and ``cumulative`` is the level change times the number of treatment-phase periods.

    ABA designs (``treatment_end_date``): CausalPy 0.9's three-period design (``treatment_end_time``) is used;
    the effect covers the treatment phase and ``persistence`` summarises the withdrawal phase (mean
    observed - counterfactual there, or the segmented model's own carry-over level, prior N(0, 50 pre-period
    sds)), with ``ratio`` = persistence mean / effect mean (CausalPy's persistence ratio, as a fraction).

    Autocorrelation. Daily outcomes are usually autocorrelated; the Bayesian model assumes independent residuals
    given trend, seasonality and covariates, so under positive autocorrelation its intervals are too narrow. The
    lag-1 autocorrelation of the pre-period residuals is reported (``residualLag1Autocorrelation``) and flagged
    (``autocorrelationWarning``) when it exceeds Bartlett's white-noise bound 1.96/sqrt(n_pre); the
    ``crossCheck`` (segmented OLS with Newey-West HAC errors, see ``its_crosscheck``) stays valid under it.

    Day of week. ``day_of_week=None`` (default) uses the day-of-week dummies for a daily (or business-day) series
    when the pre period holds every weekday present at least twice: with one day per weekday each dummy would
    fit its day exactly and leave the noise sd unidentified. A short baseline (e.g. the 7-day first phase of an
    ABAB design) then gets trend and covariates only. ``True`` requires them (daily series only), ``False``
    never uses them. The rule depends on the calendar only, never on the outcome.

    Trend. ``trend=None`` (default) fits a linear trend when the pre period has at least 14 observations (two
    weeks of days): a slope fitted to fewer noisy, autocorrelated points and projected over the post period
    manufactures effects (on the synthetic null protocols a 12-day baseline gave +15 with a 95% HDI excluding
    0). A shorter baseline gets a level (mean) model plus covariates. ``True``/``False`` force it.

    Windows. ``pre_period_days`` / ``post_period_days`` keep only the last/first N calendar days before/after the
    intervention (days whatever the frequency: 28 days = 4 points of a weekly series).

    Input checks (``ValueError``): the series goes through ``regular_series`` (missing periods are an error); the
    intervention (and end) date must fall inside the series; the pre period needs at least
    max(7, parameters + 2) points, parameters = regression coefficients + the noise sd (11 for a daily series
    without covariates); covariates must cover every date, be numeric and finite, and vary over the pre period.

    ``draws``, ``tune``, ``chains`` are nutpie settings (per chain); ``seed`` makes results identical run to run.

    ``to_dict()``::

        {"causalEffect": {"mean", "sd", "hdi95": [lo, hi], "probability_positive", "cumulative",
                          "cumulativeHdi95": [lo, hi], "method"},
         "counterfactual": {"dates", "predicted", "observed", "lower95", "upper95"},
         "diagnostics": {"rhat", "ess_bulk", "ess_tail", "residualLag1Autocorrelation",
                         "autocorrelationWarning"},
         "interpretation": str,
         "crossCheck": {"method", "levelChange", "se", "ci95", "pValue", "hacMaxLags", "nObs"},
         "persistence": None | {"mean", "sd", "hdi95", "probability_positive", "ratio"}}

    The counterfactual covers every post date (treatment and withdrawal phases); ``predicted`` is the posterior
    mean of the counterfactual mean and the band is the 95% HDI of the posterior predictive (mean plus noise,
    the CausalImpact convention), i.e. where untreated observations would be expected to fall. ``rhat`` is the
    maximum and the ESS values the minimum over all model parameters (ArviZ).
    """
    sampler = _sampler_settings(seed, draws, tune, chains)
    outcome = regular_series(series, name="series", min_length=3)
    freq = outcome.index.freq
    intervention = _timestamp(intervention_date, "intervention_date")
    _require_inside(intervention, outcome.index, "intervention_date")
    outcome = _window(outcome, intervention, pre_period_days, post_period_days)
    end = None if treatment_end_date is None else _timestamp(treatment_end_date, "treatment_end_date")
    if end is not None:
        _require_end_inside(end, intervention, outcome.index)
    phases = _phases(outcome.index, intervention, end)
    prior = _effect_prior(prior_effect_mean, prior_effect_sd)
    given = pd.DataFrame(index=outcome.index) if covariates is None else covariates
    weekly = _uses_day_of_week(day_of_week, freq, outcome.index[phases.pre])
    sloped = _uses_trend(trend, int(phases.pre.sum()))
    raw_predictors, labels = _raw_predictors(outcome.index, sloped, weekly, _aligned_covariates(given, outcome.index))
    _require_pre_length(int(phases.pre.sum()), raw_predictors.shape[1] + 1, intervention)
    predictors = pd.DataFrame(
        {column: _standardised(raw_predictors[column], phases.pre, labels[column])[0] for column in raw_predictors},
        index=outcome.index,
    )
    standardised, location, scale = _standardised(outcome, phases.pre, "series")
    cross_check = hac_level_change(outcome.to_numpy(), _with_phase_indicators(predictors, phases), _LEVEL)
    if prior is None:
        fit = _fit_counterfactual(standardised, predictors, intervention, end, sampler)
    else:
        fit = _fit_segmented(standardised, predictors, phases, (prior[0] / scale, prior[1] / scale), sampler)
    wording = _Wording(unit=_unit(freq), terms=_model_terms(sloped, weekly, given), segmented=prior is not None)
    return _result(outcome, phases, fit, location, scale, cross_check, wording)


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
    keep = np.ones(len(outcome), dtype=bool)
    if pre_days is not None:
        keep &= outcome.index >= intervention - _days(pre_days, "pre_period_days")
    if post_days is not None:
        keep &= outcome.index < intervention + _days(post_days, "post_period_days")
    return outcome[keep]


def _days(value, name: str) -> pd.Timedelta:
    return pd.Timedelta(days=_integer(value, name, 1, "a whole number of days"))


def _phases(index: pd.DatetimeIndex, intervention: pd.Timestamp, end: pd.Timestamp | None) -> _Phases:
    pre = np.asarray(index < intervention)
    withdrawal = np.zeros(len(index), dtype=bool) if end is None else np.asarray(index >= end)
    treated = ~pre & ~withdrawal
    if not treated.any():
        last = "" if end is None else f" before treatment_end_date {date_label(end)}"
        raise ValueError(
            f"no observation falls on or after intervention_date {date_label(intervention)}{last} in the analysed "
            f"window {date_label(index[0])} to {date_label(index[-1])}; widen post_period_days or move the dates"
        )
    return _Phases(pre=pre, treated=treated, withdrawal=withdrawal)


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


def _aligned_covariates(covariates: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Each covariate column checked by ``regular_series`` (dates, gaps, non-numeric or missing values), then
    required to cover every date of the analysed series; a frame without columns means no covariates."""
    if not isinstance(covariates, pd.DataFrame):
        raise ValueError(f"covariates must be a pandas DataFrame indexed by date, got {type(covariates).__name__}")
    aligned = {}
    for column in covariates.columns:
        values = regular_series(covariates[column], name=f"covariate {column!r}")
        missing = index.difference(values.index)
        if len(missing):
            raise ValueError(
                f"covariate {column!r} is not aligned with the series: no value for {date_label(missing[0])} "
                f"({len(missing)} series dates missing in total)"
            )
        aligned[column] = values.reindex(index)
    return pd.DataFrame(aligned, index=index)


def _has_day_of_week(freq) -> bool:
    return isinstance(freq, (pd.offsets.Day, pd.offsets.BusinessDay)) and freq.n == 1


def _unit(freq) -> str:
    if _has_day_of_week(freq):
        return "day"
    return "week" if isinstance(freq, pd.offsets.Week) and freq.n == 1 else "period"


def _uses_day_of_week(requested: bool | None, freq, pre_dates: pd.DatetimeIndex) -> bool:
    """Whether the model gets day-of-week dummies (see ``bayesian_its``, "Day of week")."""
    if requested is not None and not isinstance(requested, bool):
        raise ValueError(f"day_of_week must be True, False or None (automatic), got {requested!r}")
    daily = _has_day_of_week(freq)
    if requested and not daily:
        raise ValueError(f"day_of_week=True needs a daily or business-day series, got frequency {freq.freqstr!r}")
    if requested is not None:
        return requested
    return daily and len(pre_dates) > 0 and int(pd.Series(pre_dates.dayofweek).value_counts().min()) >= 2


def _uses_trend(requested: bool | None, n_pre: int) -> bool:
    """Whether the model gets a linear trend (see ``bayesian_its``, "Trend")."""
    if requested is not None and not isinstance(requested, bool):
        raise ValueError(f"trend must be True, False or None (automatic), got {requested!r}")
    return n_pre >= _MIN_PRE_FOR_TREND if requested is None else requested


def _model_terms(sloped: bool, weekly: bool, covariates: pd.DataFrame) -> str:
    terms = [*(["trend"] if sloped else []), *(["day of week"] if weekly else []), *map(str, covariates.columns)]
    if not terms:
        return "level"

    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " and " + terms[-1]


def _raw_predictors(index: pd.DatetimeIndex, sloped: bool, weekly: bool,
                    covariates: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Trend, day-of-week dummies (first weekday present is the baseline) and covariates, unscaled.

    Columns get formula-safe names; the second value maps each column to its name for messages. All of them are
    standardised later, dummies included: centred predictors decorrelate the intercept from the other
    coefficients, which the sampler's diagonal mass matrix needs to mix well (bulk ESS on the 44-day benchmark
    rose from about 500 to 1200).
    """
    columns, labels = {}, {}
    if sloped:
        columns["t"], labels["t"] = np.arange(len(index), dtype=float), "the trend"
    if weekly:
        weekday = np.asarray(index.dayofweek)
        for level in np.unique(weekday)[1:]:
            columns[f"dow{level}"] = (weekday == level).astype(float)
            labels[f"dow{level}"] = f"the weekday-{level} indicator"
    for position, (name, values) in enumerate(covariates.items()):
        columns[f"cov{position}"] = values.to_numpy()
        labels[f"cov{position}"] = f"covariate {name!r}"
    return pd.DataFrame(columns, index=index), labels


def _require_pre_length(n_pre: int, n_coefficients: int, intervention: pd.Timestamp) -> None:
    minimum = max(_MIN_PRE_PERIODS, n_coefficients + 1 + _RESIDUAL_DF_MARGIN)
    if n_pre < minimum:
        raise ValueError(
            f"the pre period has {n_pre} observations before {date_label(intervention)}; at least {minimum} are needed "
            f"(max({_MIN_PRE_PERIODS}, {n_coefficients} coefficient{'s' if n_coefficients != 1 else ''} + noise sd "
            f"+ {_RESIDUAL_DF_MARGIN}))"
        )


def _standardised(values: pd.Series, pre: np.ndarray, label: str) -> tuple[pd.Series, float, float]:
    """(values - pre mean) / pre sd, with that mean and sd (CausalImpact standardises on the pre period)."""
    baseline = values[pre]
    scale = float(baseline.std(ddof=1))
    if not scale > 0:
        raise ValueError(
            f"{label} is constant ({float(baseline.iloc[0])}) over the pre period, so it cannot be standardised or "
            "inform a counterfactual; drop it or choose another window"
        )
    location = float(baseline.mean())
    return (values - location) / scale, location, scale


def _with_phase_indicators(predictors: pd.DataFrame, phases: _Phases) -> pd.DataFrame:
    indicators = {_LEVEL: phases.treated.astype(float)}
    if phases.withdrawal.any():
        indicators[_CARRYOVER] = phases.withdrawal.astype(float)
    return predictors.assign(**indicators)


@functools.lru_cache(maxsize=None)
def _compiled_linear_regression(n_coefficients: int):
    """nutpie-compiled CausalPy ``LinearRegression`` graph for ``n_coefficients``, cached for the process.

    The data and the coefficient prior's mean/sd are shared variables, so later calls swap them in with
    ``with_data`` instead of recompiling (compilation takes seconds, sampling this model milliseconds).
    """
    import nutpie
    import pytensor
    import xarray as xr
    from causalpy.pymc_models import LinearRegression
    from pymc_extras.prior import Prior

    prior = Prior(
        "Normal",
        mu=pytensor.shared(np.zeros(n_coefficients), name="beta_mu"),
        sigma=pytensor.shared(np.ones(n_coefficients), name="beta_sigma"),
        dims=("treated_units", "coeffs"),
    )
    template = LinearRegression(priors={"beta": prior})
    coords = {"coeffs": [f"b{i}" for i in range(n_coefficients)], "obs_ind": np.arange(2), "treated_units": ["unit_0"]}
    template.build_model(
        xr.DataArray(np.zeros((2, n_coefficients)), dims=("obs_ind", "coeffs")),
        xr.DataArray(np.zeros((2, 1)), dims=("obs_ind", "treated_units")),
        coords,
    )
    return nutpie.compile_pymc_model(template, var_names=["beta", "y_hat_sigma"])


@functools.lru_cache(maxsize=1)
def _linear_regression_class():
    """CausalPy's ``LinearRegression`` with a faster fit/predict (class built lazily to keep imports light)."""
    import arviz as az
    import nutpie
    import xarray as xr
    from causalpy.pymc_models import LinearRegression

    class NutpieLinearRegression(LinearRegression):
        """Same priors and likelihood as ``LinearRegression``; sampled by nutpie from the cached compiled graph.

        ``predict`` evaluates mu = X beta and y_hat = mu + sigma * noise directly on the posterior draws (what
        ``pm.sample_posterior_predictive`` computes, without compiling a new function on every call).
        ``sample_kwargs`` holds ``random_seed``, ``draws``, ``tune`` and ``chains``.
        """

        def fit(self, X, y, coords=None):
            beta_prior = self.priors["beta"].parameters
            n_coefficients = X.shape[1]
            compiled = _compiled_linear_regression(n_coefficients).with_data(
                X=np.asarray(X, dtype=float),
                y=np.asarray(y, dtype=float).reshape(-1, 1),
                beta_mu=np.broadcast_to(beta_prior["mu"], (n_coefficients,)),
                beta_sigma=np.broadcast_to(beta_prior["sigma"], (n_coefficients,)),
            )
            settings = self.sample_kwargs
            self.idata = nutpie.sample(
                compiled,
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                cores=min(settings["chains"], os.cpu_count() or 1),
                seed=settings["random_seed"],
                progress_bar=False,
                save_warmup=False,
            )
            self.idata.posterior = self.idata.posterior.assign_coords(coeffs=list(X.coeffs.values))
            return self.idata

        def predict(self, X, coords=None, out_of_sample=False, **kwargs):
            posterior = self.idata.posterior
            beta = posterior["beta"].isel(treated_units=0).to_numpy()
            sigma = posterior["y_hat_sigma"].isel(treated_units=0).to_numpy()
            mu = np.einsum("cdk,nk->cdn", beta, np.asarray(X, dtype=float))
            noise = np.random.default_rng(self.sample_kwargs["random_seed"]).standard_normal(mu.shape)
            dims = ("chain", "draw", "obs_ind", "treated_units")
            draws = {"mu": (dims, mu[..., None]), "y_hat": (dims, (mu + sigma[..., None] * noise)[..., None])}
            coords = {
                "chain": posterior.chain.values,
                "draw": posterior.draw.values,
                "obs_ind": X.obs_ind.values,
                "treated_units": ["unit_0"],
            }
            return az.InferenceData(posterior_predictive=xr.Dataset(draws, coords=coords))

    return NutpieLinearRegression


def _model(prior_mean: np.ndarray, prior_sd: np.ndarray, sampler: dict):
    from pymc_extras.prior import Prior

    beta = Prior("Normal", mu=prior_mean, sigma=prior_sd, dims=("treated_units", "coeffs"))
    return _linear_regression_class()(sample_kwargs=dict(sampler), priors={"beta": beta})


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


def _result(outcome, phases, fit: _Fit, location, scale, cross_check, wording: _Wording) -> ITSResult:
    bands = _hdi(location + scale * fit.counterfactual_predictive)
    causal_effect = {
        **_summary(scale * fit.effect),
        "cumulative": float(scale * fit.cumulative.mean()),
        "cumulativeHdi95": [float(bound) for bound in _hdi(scale * fit.cumulative)[0]],
        "method": "segmented level change (informative prior, all data)" if wording.segmented
        else "observed minus pre-period counterfactual (CausalPy InterruptedTimeSeries)",
    }
    persistence = None
    if fit.persistence is not None:
        persistence = _summary(scale * fit.persistence)
        persistence["ratio"] = persistence["mean"] / causal_effect["mean"] if causal_effect["mean"] else None
    post = outcome[~phases.pre]
    counterfactual = {
        "dates": [date_label(date) for date in post.index],
        "predicted": [float(value) for value in location + scale * fit.counterfactual_mean.mean(axis=(0, 1))],
        "observed": [float(value) for value in post.to_numpy()],
        "lower95": [float(value) for value in bands[:, 0]],
        "upper95": [float(value) for value in bands[:, 1]],
    }
    diagnostics = _diagnostics(fit.posterior, fit.pre_residuals)
    treated_dates = outcome.index[phases.treated]
    text = _interpretation(causal_effect, persistence, diagnostics, cross_check, treated_dates, wording)
    return ITSResult(causal_effect, counterfactual, diagnostics, text, cross_check, persistence)


def _interval(values) -> str:
    return f"{values[0]:.3g} to {values[1]:.3g}"


def _interpretation(effect, persistence, diagnostics, cross_check, dates, wording: _Wording) -> str:
    unit = wording.unit
    span = f"the {len(dates)} {unit if len(dates) == 1 else unit + 's'} from {date_label(dates[0])} to {date_label(dates[-1])}"
    uncertainty = (
        f"(95% HDI {_interval(effect['hdi95'])}; posterior probability of an increase "
        f"{effect['probability_positive']:.2f})"
    )
    if wording.segmented:
        opening = (
            f"A segmented model of all the data ({wording.terms} plus a level change), combined with the stated "
            f"prior, estimates a level change of {effect['mean']:+.3g} per {unit} over {span} {uncertainty}."
        )
    else:
        opening = (
            f"Over {span}, the outcome averaged {effect['mean']:+.3g} per {unit} relative to the counterfactual "
            f"projected from a pre-intervention model of {wording.terms} {uncertainty}."
        )
    lower, upper = effect["hdi95"]
    if lower > 0:
        verdict = "The interval excludes zero: the data support an increase."
    elif upper < 0:
        verdict = "The interval excludes zero: the data support a decrease."
    else:
        verdict = (
            "The interval includes zero, so the data are compatible with no effect as well as with effects of "
            "either sign within it."
        )
    sentences = [
        opening,
        verdict,
        f"Summed over the period that is {effect['cumulative']:.3g} (95% HDI {_interval(effect['cumulativeHdi95'])}).",
        f"The frequentist cross-check (segmented OLS with Newey-West HAC errors) estimates a level change of "
        f"{cross_check['levelChange']:.3g} (95% CI {_interval(cross_check['ci95'])}, p = {cross_check['pValue']:.2g}).",
    ]
    if persistence is not None:
        sentences.append(
            f"After the treatment ended, the difference was {persistence['mean']:.3g} per {unit} "
            f"(95% HDI {_interval(persistence['hdi95'])}; probability it stayed positive "
            f"{persistence['probability_positive']:.2f})."
        )
    if diagnostics["autocorrelationWarning"]:
        sentences.append(
            f"Pre-period residuals are positively autocorrelated (lag-1 r = "
            f"{diagnostics['residualLag1Autocorrelation']:.2f}); the Bayesian model assumes independent residuals, "
            "so its interval is probably too narrow: give the HAC interval more weight."
        )
    if diagnostics["rhat"] > _RHAT_LIMIT or diagnostics["ess_bulk"] < _ESS_LIMIT:
        sentences.append(
            f"Sampler diagnostics are poor (R-hat {diagnostics['rhat']:.3f}, bulk ESS {diagnostics['ess_bulk']:.0f}); "
            "treat these numbers as unreliable."
        )
    sentences.append(
        "This is a single-case before/after comparison: it is causal only if nothing else changed at the "
        "intervention date and the baseline pattern would otherwise have continued."
    )
    return " ".join(sentences)
