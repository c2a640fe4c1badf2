"""Bayesian interrupted time series (ITS) for one n-of-1 outcome series, with a frequentist HAC cross-check.

Why: an n-of-1 experimenter who starts an intervention on a known date wants to know how far the outcome moved
away from what the baseline pattern predicts, with honest uncertainty. The default analysis follows CausalPy's
``InterruptedTimeSeries`` (the CausalImpact idea without the state-space part): a PyMC linear model of trend,
day-of-week seasonality and optional covariates, with AR(1) residuals because daily outcomes are autocorrelated
(issue #12), is fitted to the pre period only, forecast into the post period as the counterfactual, and the effect
is observed minus counterfactual (``bayesian_its`` says exactly how, and ``bench/calibration.py`` checks that its
intervals cover planted effects as often as they claim).

Conventions:
- The outcome and the predictors (trend, day-of-week dummies, covariates) are standardised with their pre-period
  mean and sd before fitting, as CausalImpact does (``standardize.data = TRUE``), so CausalPy's default priors
  (coefficients N(0, 50), noise sd HalfNormal(1)) are weakly informative for any unit (steps, hours, ms of HRV);
  every reported number is transformed back to the outcome's units.
- Periods: pre = dates before ``intervention_date``; post = dates on or after it (CausalPy's inclusive
  ``treatment_time``). With ``treatment_end_date`` (ABA), the treatment phase is [intervention, end) and the
  withdrawal phase is the dates on or after the end date (CausalPy's ``treatment_end_time``).
- Sampling uses nutpie on a model compiled once per number of coefficients and error model, and reused across
  calls (only the data change), so warm calls take a fraction of a second; see ``bench/its.py`` for the speed
  and agreement check against CausalPy's default ``pm.sample`` settings.

Modules, one job each (imports point one way: ``pooled`` -> ``api`` -> ``crosscheck``, ``design``, ``fit``,
``prose``, ``sampler``; ``fit`` -> ``design``, ``sampler``; ``prose`` -> ``design``):
- ``pooled``: ``pooled_its``, every baseline -> intervention change of a reversal design analysed and pooled;
- ``api``: argument checking, the ``bayesian_its`` orchestration and ``ITSResult``;
- ``design``: phases, trend/day-of-week/covariate predictors, standardisation, phase indicators;
- ``sampler``: the nutpie-compiled CausalPy ``LinearRegression`` with iid or AR(1) errors, its per-process cache,
  its draws as plain arrays, the fit over the periods it was fitted on and the forecast of the untreated outcome;
- ``fit``: the counterfactual and segmented fits, HDIs, summaries and sampler diagnostics;
- ``prose``: the interpretation text;
- ``crosscheck``: the frequentist Newey-West HAC cross-check.
Only ``bayesian_its``, ``pooled_its`` and their result classes are public; underscored names are shared between
these modules only.
"""

from americano_pipeline.stats.its.api import ITSResult, bayesian_its
from americano_pipeline.stats.its.pooled import PooledITSResult, pooled_its

__all__ = ["ITSResult", "PooledITSResult", "bayesian_its", "pooled_its"]
