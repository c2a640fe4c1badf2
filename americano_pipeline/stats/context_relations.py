"""Context-outcome relations of one person's daily series: prewhitened lagged cross-correlations and Granger
tests between context variables (sleep, HRV, steps ...) and outcome metrics, Benjamini-Hochberg across the family.

Why prewhitening and nuisance terms: two autocorrelated daily series that have nothing to do with each other
still correlate by chance far more often than the textbook 1/sqrt(n) allows (the variance of their sample
cross-correlation is (1/n) sum_j rho_x(j) rho_y(j)), and two series that both dip at weekends, or both shift
while a protocol's intervention runs, correlate through the calendar, not through each other. So, per pair:

* Nuisance: every series is first taken relative to the nuisance terms: an intercept, the weekday means
  (``weekdays``: six day-of-week indicators), a linear trend (``trend``) and any caller-supplied per-day columns
  (``nuisance``: e.g. one indicator per protocol that is 1 on its intervention days, so a phase's level shift is
  not read as a relation). Both tests work on the series' least-squares residuals on these terms (fitted on the
  days the series is recorded).
* Prewhitened cross-correlation (Box & Jenkins): an AR(p) is fitted to the context residuals by conditional
  least squares, p in 0..``max_order`` chosen by AIC on a common sample; that filter turns the context into
  (nearly) white innovations alpha_t, and the same filter is applied to the outcome residuals (beta_t). The
  sample correlation r_k of (alpha_t, beta_{t+k}) for k = 0..``max_lag`` (context leading by k days) has, under
  no relation, the null N(0, 1/n_k) whatever the outcome's own autocorrelation, because alpha is white (n_k the
  number of day pairs with both values; the figures draw its +-1.96/sqrt(n_k) band). The p-value is that
  null's finite-sample form, Pearson's t = r sqrt(df / (1 - r^2)) on df = n_k - d - p - 1 degrees of freedom,
  d the rank of the nuisance terms and p the filter's order: both were fitted to the same days, and with
  z = r sqrt(n_k) the lag tests rejected about 6% of null lags at 5% on 90 days (weekdays and trend fitted).
* Granger test (statsmodels OLS, F test of nested models) on the same nuisance residuals: outcome_t on the
  nuisance terms and its own lags 1..q, q in 0..``max_order`` chosen by AIC in this restricted model on a
  common sample (the days the context lags are recorded too), against the
  same model plus ``granger_lags`` lags of the context; H0: the context lags add nothing. Why residuals and not
  the raw series with the nuisance terms as regressors: the outcome's own lags would carry yesterday's phase
  and weekday level, which only the nuisance terms' own lags could absorb, and a context that shares them
  (yesterday's HRV was also raised by yesterday's intervention) would "predict" the outcome (a phase dummy of
  an alternating design made 19% of null pairs significant that way). The nuisance terms stay in the models
  so that their degrees of freedom are counted. Lag 0 and the dating of the night: a context value
  dated day d that is measured before day d's outcome (sleep of the night that ENDS on d, the morning's HRV or
  resting heart rate, a morning self-report: the columns in ``same_day``) already precedes that outcome, so for
  those columns the context lags are 0..granger_lags-1. This equals statsmodels' ``grangercausalitytests`` with
  lags 1..granger_lags once the night is dated by the evening it starts (shifted one day back), which is how the
  unit tests check it. Columns measured over the day itself (steps, activity strain) start at lag 1: their lag
  0 is simultaneous with the outcome and cannot precede it.

Missing days are never filled: every day of the span from the first to the last date is on the spine, a missing
value stays NaN, and each statistic uses exactly the days it can use (the nuisance fit: days the series is
recorded; the AR filter: days whose p previous days are recorded too; r_k: day pairs with both filtered values;
the Granger models: days whose outcome, own lags and context lags are all recorded). The counts are reported.
A pair with fewer than ``min_days`` days recording both series, with a constant series, or with too few complete
rows for its models gets ``status = "insufficient"`` and a reason, not an exception, and stays out of the family.

The family (Benjamini & Hochberg 1995, step-up, q-values as ``statsmodels.stats.multitest.multipletests(method=
"fdr_bh")``) is every analysed pair of one call, twice over:
* primary: one Granger p-value per (context, outcome) pair; a pair is ``significant`` when its q-value is below
  ``alpha``;
* supportive: every cross-correlation lag of every analysed pair ((max_lag + 1) x pairs tests), whose q-values
  say at which lags the relation shows.

Calibration (``bench/calibration_context.py``, 1500 simulated users per cell, both series AR(1) with phi in
{0, 0.3, 0.6}, 90 and 270 days, weekdays and trend fitted): at nominal 5% the lag tests reject 4.4-5.0% of null
lags and the Granger test 4.4-5.7% of null pairs (weekday-confounded null pairs: 4.5-5.5%); the families' false
discovery rate is 3.9-4.9% (Granger) and 3.2-5.6% (lags); the demo's 3 points per hour of sleep is found in
99% of 90-day and all 270-day users.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from americano_pipeline.stats.validation import check_positive_int, date_label

ANALYSED, INSUFFICIENT = "analysed", "insufficient"
_MIN_RESIDUAL_DF = 10  # a Granger model with fewer residual degrees of freedom tests nothing reliably
_CONSTANT = 1e-10  # relative variance below which a series (or a model's residual) counts as constant


@dataclass(frozen=True)
class LagCorrelation:
    """The prewhitened cross-correlation at one lag (context leading the outcome by ``lag`` days)."""

    lag: int
    r: float
    n: int
    p_value: float
    q_value: float

    def to_dict(self) -> dict:
        return {"lag": self.lag, "r": self.r, "n": self.n, "pValue": self.p_value, "qValue": self.q_value}


@dataclass(frozen=True)
class GrangerTest:
    """The F test of the context lags in the outcome's regression on its own lags and the nuisance terms."""

    f_statistic: float
    df_num: int
    df_denom: int
    p_value: float
    q_value: float
    outcome_lags: int  # q, chosen by AIC
    context_lags: tuple[int, ...]  # the lags of the context in the model (0 = the same day)
    coefficients: tuple[float, ...]  # per context lag, outcome units per context unit
    n: int  # days in the models

    def to_dict(self) -> dict:
        return {"fStatistic": self.f_statistic, "dfNum": self.df_num, "dfDenom": self.df_denom,
                "pValue": self.p_value, "qValue": self.q_value, "outcomeLags": self.outcome_lags,
                "contextLags": list(self.context_lags), "coefficients": list(self.coefficients),
                "sumOfCoefficients": float(sum(self.coefficients)), "n": self.n}


@dataclass(frozen=True)
class PairResult:
    """One (context, outcome) pair: its tests, or why it could not be analysed."""

    context: str
    outcome: str
    status: str  # ANALYSED or INSUFFICIENT
    reason: str | None
    days: int  # days on which both series are recorded
    prewhitening_order: int | None
    prewhitening_coefficients: tuple[float, ...]
    ccf: tuple[LagCorrelation, ...]
    granger: GrangerTest | None
    alpha: float

    @property
    def significant(self) -> bool:
        """The primary family's verdict: the Granger q-value is below alpha."""
        return self.granger is not None and self.granger.q_value < self.alpha

    @property
    def significant_lags(self) -> tuple[int, ...]:
        """The cross-correlation lags whose q-value (supportive family) is below alpha."""
        return tuple(c.lag for c in self.ccf if c.q_value < self.alpha)

    def to_dict(self) -> dict:
        return {"context": self.context, "outcome": self.outcome, "status": self.status, "reason": self.reason,
                "days": self.days,
                "prewhitening": {"order": self.prewhitening_order,
                                 "coefficients": list(self.prewhitening_coefficients)},
                "ccf": [c.to_dict() for c in self.ccf],
                "granger": None if self.granger is None else self.granger.to_dict(),
                "significant": self.significant, "significantLags": list(self.significant_lags)}


@dataclass(frozen=True)
class ContextRelationsResult:
    """Every pair of one person's context and outcome columns, with the settings and families behind them."""

    pairs: tuple[PairResult, ...]
    alpha: float
    max_lag: int
    max_order: int
    granger_lags: int
    weekdays: bool
    trend: bool
    nuisance_columns: tuple[str, ...]
    same_day: tuple[str, ...]
    first_date: str | None
    last_date: str | None

    def pair(self, context: str, outcome: str) -> PairResult:
        return next(p for p in self.pairs if (p.context, p.outcome) == (context, outcome))

    @property
    def analysed(self) -> tuple[PairResult, ...]:
        return tuple(p for p in self.pairs if p.status == ANALYSED)

    @property
    def significant_pairs(self) -> tuple[PairResult, ...]:
        return tuple(p for p in self.pairs if p.significant)

    def interpretation(self) -> str:
        analysed, found = self.analysed, self.significant_pairs
        skipped = len(self.pairs) - len(analysed)
        named = "; ".join(f"{p.context} -> {p.outcome} (q = {p.granger.q_value:.3g}, sum of coefficients "
                          f"{sum(p.granger.coefficients):+.3g})" for p in found)
        lead = (f"{len(found)} of {len(analysed)} context-outcome pairs Granger-predict the outcome after "
                f"Benjamini-Hochberg at q < {self.alpha}" + (f": {named}." if found else "."))
        tail = f" {skipped} pairs had too little data (see their reason)." if skipped else ""
        terms = [term for term, used in (("weekdays", self.weekdays), ("a linear trend", self.trend),
                                         ("the nuisance terms given (protocol phases)", self.nuisance_columns))
                 if used]
        adjusted = ("adjusted for " + " and ".join([", ".join(terms[:-1]), terms[-1]] if len(terms) > 1 else terms)
                    if terms else "without adjustment")
        return (f"{lead}{tail} Associations in one person's observational data, {adjusted}; not randomized, so not "
                "proof of cause.")

    def to_dict(self) -> dict:
        analysed = self.analysed
        return {
            "method": "context_relations",
            "alpha": self.alpha, "maxLag": self.max_lag, "maxOrder": self.max_order,
            "grangerLags": self.granger_lags, "sameDayContext": list(self.same_day),
            "nuisance": {"weekdays": self.weekdays, "trend": self.trend, "columns": list(self.nuisance_columns)},
            "firstDate": self.first_date, "lastDate": self.last_date,
            "families": {
                "granger": {"role": "primary", "tests": len(analysed),
                            "significant": len(self.significant_pairs),
                            "description": "one Granger F test per analysed (context, outcome) pair, "
                                           "Benjamini-Hochberg"},
                "ccf": {"role": "supportive", "tests": sum(len(p.ccf) for p in analysed),
                        "significant": sum(len(p.significant_lags) for p in analysed),
                        "description": f"prewhitened cross-correlation at lags 0..{self.max_lag} of every "
                                       "analysed pair, Benjamini-Hochberg"},
            },
            "pairs": [p.to_dict() for p in self.pairs],
            "significantPairs": [{"context": p.context, "outcome": p.outcome, "qValue": p.granger.q_value,
                                  "sumOfCoefficients": float(sum(p.granger.coefficients))}
                                 for p in self.significant_pairs],
            "interpretation": self.interpretation(),
        }


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up adjusted p-values, capped at 1) in the order of ``p_values``."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be a flat sequence of numbers in [0, 1], got {p_values!r}")
    if not p.size:
        return p
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    q = np.empty_like(p)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


# --- inputs ------------------------------------------------------------------------------------------------------

def _daily_frame(frame, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame indexed by date, got {type(frame).__name__}")
    if not pd.api.types.is_datetime64_any_dtype(frame.index):
        raise ValueError(f"{name} must be indexed by dates (a DatetimeIndex), got an index of dtype "
                         f"{frame.index.dtype}")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.hasnans:
        raise ValueError(f"{name} has a missing date in its index")
    off_midnight = index[index != index.normalize()]
    if len(off_midnight):
        raise ValueError(f"{name} must hold one row per calendar day; {off_midnight[0].isoformat()} is not a date")
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise ValueError(f"{name} has {date_label(duplicated[0])} more than once; one row per day is required")
    numeric = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == bool or not (pd.api.types.is_numeric_dtype(values) or values.isna().all()):
            raise ValueError(f"{name} column {column!r} must be numeric, got dtype {values.dtype}")
        numeric[str(column)] = values.to_numpy(dtype=float)
    out = pd.DataFrame(numeric, index=index).sort_index()
    infinite = [c for c in out.columns if np.isinf(out[c].to_numpy()).any()]
    if infinite:
        day = out.index[np.isinf(out[infinite[0]].to_numpy())][0]
        raise ValueError(f"{name} column {infinite[0]!r} is infinite on {date_label(day)}")
    return out


def _check_settings(max_lag, max_order, granger_lags, min_days, alpha) -> None:
    for value, label in ((max_lag, "max_lag"), (max_order, "max_order")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{label} must be a whole number >= 0, got {value!r}")
    check_positive_int(granger_lags, "granger_lags")
    check_positive_int(min_days, "min_days")
    if isinstance(alpha, bool) or not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")


def _nuisance_matrix(spine: pd.DatetimeIndex, nuisance: pd.DataFrame | None, weekdays: bool,
                     trend: bool) -> np.ndarray:
    """Intercept, six weekday indicators (Monday the reference), a centred linear trend and the caller's columns,
    one row per day of the spine."""
    columns = [np.ones(len(spine))]
    if weekdays:
        columns += [(spine.dayofweek == day).astype(float) for day in range(1, 7)]
    if trend:
        columns.append(np.linspace(-1.0, 1.0, len(spine)))
    if nuisance is not None:
        aligned = nuisance.reindex(spine)
        for column in aligned.columns:
            values = aligned[column].to_numpy()
            if np.isnan(values).any():
                day = spine[np.isnan(values)][0]
                raise ValueError(f"nuisance column {column!r} has no value on {date_label(day)}; nuisance terms "
                                 "must be known on every day from the first to the last date (0 where they do "
                                 "not apply)")
            columns.append(values)
    return np.column_stack(columns)


# --- the pieces ----------------------------------------------------------------------------------------------------

def _lag(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` shifted ``k`` days later (row t holds values[t - k]); NaN where there is no earlier day."""
    if k == 0:
        return values
    out = np.full_like(values, np.nan)
    out[k:] = values[:-k]
    return out


def _residuals(values: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Least-squares residuals of ``values`` on ``design`` over the recorded days; NaN elsewhere."""
    seen = ~np.isnan(values)
    if not seen.any():
        return values.copy()
    coefficients = np.linalg.lstsq(design[seen], values[seen], rcond=None)[0]
    out = np.full_like(values, np.nan)
    out[seen] = values[seen] - design[seen] @ coefficients
    return out


def _ssr(y: np.ndarray, x: np.ndarray) -> float:
    if x.shape[1] == 0:
        return float(y @ y)
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return float(residual @ residual)


def _aic_order(y: np.ndarray, base: np.ndarray, lags: np.ndarray, max_order: int,
               usable: np.ndarray | None = None) -> int:
    """The number of leading ``lags`` columns (0..max_order) that minimises AIC = n ln(SSR/n) + 2 k on the rows
    where every candidate is recorded (and ``usable``: a common sample, so the AICs compare)."""
    rows = ~np.isnan(y) & ~np.isnan(base).any(axis=1) & ~np.isnan(lags[:, :max_order]).any(axis=1)
    if usable is not None:
        rows &= usable
    n = int(rows.sum())
    if n <= base.shape[1] + max_order + 1:
        return 0
    best, best_aic = 0, math.inf
    for order in range(max_order + 1):
        x = np.column_stack([base[rows], lags[rows, :order]])
        ssr = _ssr(y[rows], x)
        if ssr <= 0:
            return order
        aic = n * math.log(ssr / n) + 2 * (x.shape[1])
        if aic < best_aic - 1e-12:
            best, best_aic = order, aic
    return best


@dataclass(frozen=True)
class _Whitened:
    """A context series' prewhitening filter, its innovations, or why it has none."""

    order: int | None
    coefficients: tuple[float, ...]
    innovations: np.ndarray | None
    reason: str | None


def _prewhitening(name: str, residual: np.ndarray, max_order: int) -> _Whitened:
    """The AR(p) filter of the context residuals (p by AIC) and the innovations it leaves (module doc)."""
    seen = residual[~np.isnan(residual)]
    if seen.size < 3 or np.var(seen) <= _CONSTANT * max(1.0, float(np.mean(seen**2))):
        return _Whitened(None, (), None, f"{name} does not vary once the nuisance terms are removed")
    lags = np.column_stack([_lag(residual, k) for k in range(1, max_order + 1)]) if max_order else \
        np.empty((len(residual), 0))
    order = _aic_order(residual, np.empty((len(residual), 0)), lags, max_order)
    rows = ~np.isnan(residual) & ~np.isnan(lags[:, :order]).any(axis=1)
    phi = np.linalg.lstsq(lags[rows, :order], residual[rows], rcond=None)[0] if order else np.empty(0)
    return _Whitened(order, tuple(float(c) for c in phi), _filtered(residual, phi), None)


def _filtered(values: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """x_t - sum_i phi_i x_{t-i}; NaN where x_t or one of its p previous days is missing."""
    out = values.copy()
    for i, coefficient in enumerate(phi, start=1):
        out = out - coefficient * _lag(values, i)
    return out


def _ccf(alpha_: np.ndarray, beta: np.ndarray, max_lag: int, fitted: int) -> list[tuple[int, float, int, float]]:
    """(lag, r, n, two-sided p) of corr(alpha_t, beta_{t+k}), k = 0..max_lag; ``fitted`` parameters were spent on
    the series before (module doc: the null's degrees of freedom)."""
    found = []
    for k in range(max_lag + 1):
        a, b = alpha_[: len(alpha_) - k], beta[k:]
        both = ~np.isnan(a) & ~np.isnan(b)
        n = int(both.sum())
        a, b = a[both] - a[both].mean(), b[both] - b[both].mean()
        scale = math.sqrt(float(a @ a) * float(b @ b))
        r = float(a @ b) / scale if scale > 0 else 0.0
        df = n - fitted - 1
        t = abs(r) * math.sqrt(df / max(1.0 - r * r, 1e-300)) if df > 0 else 0.0
        found.append((k, r, n, float(2 * student_t.sf(t, df)) if df > 0 else 1.0))
    return found


def _granger(outcome: np.ndarray, context: np.ndarray, design: np.ndarray, first_lag: int, granger_lags: int,
             max_order: int, outcome_lags: int | None):
    """The Granger F test (module doc) as (GrangerTest without q, None) or (None, reason)."""
    import statsmodels.api as sm

    most = max_order if outcome_lags is None else outcome_lags
    own = np.column_stack([_lag(outcome, k) for k in range(1, most + 1)]) if most else np.empty((len(outcome), 0))
    context_lags = tuple(range(first_lag, first_lag + granger_lags))
    leading = np.column_stack([_lag(context, k) for k in context_lags])
    # q is the restricted model's (the context must not pick the lags it is then tested against: chosen with the
    # context lags in the model, the test rejected 6.2% of null pairs at 5% on 90 white-noise days, 5.6% without),
    # on the days the context lags are recorded too
    context_seen = ~np.isnan(leading).any(axis=1)
    order = _aic_order(outcome, design, own, max_order, context_seen) if outcome_lags is None else outcome_lags
    rows = ~np.isnan(outcome) & ~np.isnan(own[:, :order]).any(axis=1) & ~np.isnan(leading).any(axis=1)
    n = int(rows.sum())
    restricted_x = np.column_stack([design[rows], own[rows, :order]])
    # constant nuisance columns on these rows (a protocol outside the recorded days) would only cost rank
    keep = np.r_[True, np.ptp(restricted_x[:, 1:], axis=0) > 0]
    restricted_x = restricted_x[:, keep]
    full_x = np.column_stack([restricted_x, leading[rows]])
    if n - np.linalg.matrix_rank(full_x) < _MIN_RESIDUAL_DF:
        return None, (f"only {n} days have the outcome, its {order} previous days and the context at lags "
                      f"{', '.join(map(str, context_lags))} recorded: too few for the Granger models")
    full = sm.OLS(outcome[rows], full_x).fit()
    restricted = sm.OLS(outcome[rows], restricted_x).fit()
    if full.ssr <= _CONSTANT * max(1.0, float(np.sum(outcome[rows] ** 2))):
        return None, "the outcome is an exact function of its own past and the nuisance terms (nothing to predict)"
    f_statistic, p_value, df_num = full.compare_f_test(restricted)
    if not np.isfinite(p_value) or df_num < 1:
        return None, "the context lags are collinear with the outcome's own lags and the nuisance terms"
    coefficients = tuple(float(c) for c in full.params[-granger_lags:])
    return GrangerTest(f_statistic=float(f_statistic), df_num=int(df_num), df_denom=int(full.df_resid),
                       p_value=float(p_value), q_value=float("nan"), outcome_lags=order, context_lags=context_lags,
                       coefficients=coefficients, n=n), None


# --- the analysis --------------------------------------------------------------------------------------------------

def context_relations(context: pd.DataFrame, outcomes: pd.DataFrame, *, nuisance: pd.DataFrame | None = None,
                      same_day: Collection[str] = (), max_lag: int = 7, max_order: int = 7, granger_lags: int = 2,
                      outcome_lags: int | None = None, weekdays: bool = True, trend: bool = True, min_days: int = 42,
                      alpha: float = 0.05) -> ContextRelationsResult:
    """Every (context column, outcome column) pair of one person's daily series (module doc).

    ``context`` and ``outcomes``: one row per calendar day (dates need not be contiguous or shared: the spine is
    every day from the first to the last date of either), numeric columns, NaN where not recorded.
    ``nuisance``: numeric per-day columns known on every day of that span (e.g. protocol phase indicators).
    ``same_day``: context columns whose value dated d is measured before day d's outcome (lag 0 admissible in
    the Granger test). ``outcome_lags``: the outcome's own lags in the Granger models, fixed (e.g. as
    pre-registered) instead of chosen by AIC up to ``max_order``. Raises ValueError naming the argument, column,
    date or value when the input is unusable; a pair whose data are too few gets an ``insufficient`` result with its
    reason instead.
    """
    _check_settings(max_lag, max_order, granger_lags, min_days, alpha)
    if outcome_lags is not None and (isinstance(outcome_lags, bool) or not isinstance(outcome_lags, int | np.integer)
                                     or outcome_lags < 0):
        raise ValueError(f"outcome_lags must be None (chosen by AIC) or a whole number >= 0, got {outcome_lags!r}")
    context = _daily_frame(context, "context")
    outcomes = _daily_frame(outcomes, "outcomes")
    shared = sorted(set(context.columns) & set(outcomes.columns))
    if shared:
        raise ValueError(f"column {shared[0]!r} is both a context and an outcome column; a variable is one or the "
                         "other")
    unknown = sorted(set(same_day) - set(context.columns))
    if unknown:
        raise ValueError(f"same_day names {unknown[0]!r}, which is not a context column "
                         f"({', '.join(context.columns) or 'none'})")
    checked_nuisance = None if nuisance is None else _daily_frame(nuisance, "nuisance")
    dates = context.index.union(outcomes.index)
    spine = pd.date_range(dates.min(), dates.max(), freq="D") if len(dates) else pd.DatetimeIndex([])
    context, outcomes = context.reindex(spine), outcomes.reindex(spine)
    design = _nuisance_matrix(spine, checked_nuisance, weekdays, trend)
    rank = int(np.linalg.matrix_rank(design)) if len(spine) else 0

    context_residuals = {name: _residuals(context[name].to_numpy(), design) for name in context.columns}
    whitened = {name: _prewhitening(name, context_residuals[name], max_order)
                if context[name].notna().any() else _Whitened(None, (), None, f"{name} is never recorded")
                for name in context.columns}
    outcome_residuals = {name: _residuals(outcomes[name].to_numpy(), design) for name in outcomes.columns}
    drafts = []
    for name in context.columns:
        x = context[name].to_numpy()
        for metric in outcomes.columns:
            y = outcomes[metric].to_numpy()
            days = int((~np.isnan(x) & ~np.isnan(y)).sum())
            filt = whitened[name]
            reason = filt.reason
            if reason is None and days < min_days:
                reason = f"only {days} days record both {name} and {metric}; at least {min_days} are needed"
            if reason is None and np.nanvar(y) <= _CONSTANT * max(1.0, float(np.nanmean(y**2))):
                reason = f"{metric} is constant on the recorded days"
            granger = ccf = None
            if reason is None:
                granger, reason = _granger(outcome_residuals[metric], context_residuals[name], design,
                                           0 if name in same_day else 1, granger_lags, max_order, outcome_lags)
            if reason is None:
                beta = _filtered(outcome_residuals[metric], np.asarray(filt.coefficients))
                ccf = _ccf(filt.innovations, beta, max_lag, rank + filt.order)
            drafts.append((name, metric, days, filt, granger, ccf, reason))

    analysed = [d for d in drafts if d[6] is None]
    granger_q = benjamini_hochberg([d[4].p_value for d in analysed])
    ccf_q = iter(benjamini_hochberg([lag[3] for d in analysed for lag in d[5]]))
    q_of = dict(zip([(d[0], d[1]) for d in analysed], granger_q))
    pairs = []
    for name, metric, days, filt, granger, ccf, reason in drafts:
        if reason is not None:
            pairs.append(PairResult(name, metric, INSUFFICIENT, reason, days, filt.order, filt.coefficients, (),
                                    None, float(alpha)))
            continue
        lags = tuple(LagCorrelation(k, r, n, p, float(next(ccf_q))) for k, r, n, p in ccf)
        tested = dataclasses.replace(granger, q_value=float(q_of[(name, metric)]))
        pairs.append(PairResult(name, metric, ANALYSED, None, days, filt.order, filt.coefficients, lags, tested,
                                float(alpha)))
    return ContextRelationsResult(
        pairs=tuple(pairs), alpha=float(alpha), max_lag=int(max_lag), max_order=int(max_order),
        granger_lags=int(granger_lags), weekdays=bool(weekdays), trend=bool(trend),
        nuisance_columns=tuple(checked_nuisance.columns) if checked_nuisance is not None else (),
        same_day=tuple(c for c in context.columns if c in same_day),
        first_date=date_label(spine[0]) if len(spine) else None,
        last_date=date_label(spine[-1]) if len(spine) else None)
