"""The ITS of a reversal design: every baseline -> intervention change analysed, and their effects pooled.

Why: an ABAB design replicates its interruption; analysing only the first A -> B change throws half the
treatment days away, and fails outright when the first baseline is short (issue #12: 43% of admissible 32-day
ABAB schedules). Here each change is an interruption of its own, with the counterfactual projected from its own
preceding baseline (``bayesian_its`` on the window from that baseline to the next change), and the pooled effect
is the posterior of the mean of observed - untreated over every analysed treatment day.

Pooling. The per-change fits are independent (disjoint treatment days, each counterfactual from its own
baseline), so the joint posterior is their product, and averaging the k-th draw of every change's mean effect,
weighted by its number of treatment days, draws from the posterior of the pooled mean. Each change is sampled
with its own seed (the first with ``seed`` itself, so a single change reproduces ``bayesian_its``): the same
seed would reuse the same noise draws in every counterfactual and make their errors identical instead of
independent.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.its.api import (
    ITSResult,
    _Analysed,
    _analysed,
    _Model,
    _require_errors,
    _result,
    _sampler_settings,
    _ShortBaseline,
    _trend_summary,
)
from americano_pipeline.stats.its.crosscheck import hac_level_change
from americano_pipeline.stats.its.design import _checked_covariates
from americano_pipeline.stats.its.fit import _hdi, _summary
from americano_pipeline.stats.its.prose import _interpretation, _pooled_opening
from americano_pipeline.stats.validation import date_label, regular_series

_BASELINE, _TREATMENT = "A", "B"


@dataclass(frozen=True)
class PooledITSResult(ITSResult):
    """Result of :func:`pooled_its`; ``to_dict()`` is ``bayesian_its``'s JSON shape plus ``changes`` and
    ``skippedChanges``."""

    changes: list
    skipped_changes: list

    def to_dict(self) -> dict:
        return {**super().to_dict(), "changes": copy.deepcopy(self.changes),
                "skippedChanges": copy.deepcopy(self.skipped_changes)}


@dataclass(frozen=True)
class _Change:
    """One baseline -> intervention change: its analysis window [start, stop) and treatment phase."""

    start: pd.Timestamp
    intervention: pd.Timestamp
    treatment_end: pd.Timestamp | None
    last: pd.Timestamp


def pooled_its(
    series: pd.Series,
    conditions: Sequence[str],
    *,
    covariates: pd.DataFrame | None = None,
    day_of_week: bool | None = None,
    trend: bool | None = None,
    errors: str = "ar1",
    seed=0,
    draws: int = 2000,
    tune: int = 1000,
    chains: int = 2,
) -> PooledITSResult:
    """Bayesian ITS of every baseline -> intervention change of ``series``, pooled (module doc).

    ``conditions`` gives each date's condition in time order: "A" (baseline), "B" (intervention) or any other
    label (e.g. "W" for a washout), which belongs to no baseline and no treatment phase. A change is a run of B
    days directly after a run of A days; its window runs from the first of those A days (the pre period) up to
    the next change's first B day, so the phases after the treatment (a withdrawal A, a washout) are its
    withdrawal period and ``persistence`` is reported as in ``bayesian_its``. Model, arguments and the per-change
    result are those of ``bayesian_its`` (the default counterfactual estimand); covariates are used in every
    change or in none.

    A change whose baseline is too short for the model (``bayesian_its``'s pre-period minimum, 5 days for a level
    model) is not analysed and is listed in ``skippedChanges`` with the reason; ``ValueError`` when no change
    is analysable or there is none.

    ``to_dict()``: ``causalEffect`` (the pooled mean per treatment day with ``sd``, ``hdi95``,
    ``probability_positive``, ``cumulative`` over all analysed treatment days and its ``cumulativeHdi95``,
    ``method``, ``trendContribution``), ``counterfactual`` on the analysed treatment days, ``preFit`` on every
    analysed change's pre period, ``diagnostics``
    (worst R-hat and ESS over the changes, the largest pre-period residual lag-1 autocorrelation and whether any
    change flagged it), ``crossCheck`` (OLS of the outcome on a B-day indicator over all A and B days with
    Newey-West HAC errors), ``persistence`` (pooled over the changes that have a withdrawal), ``autocorrelation``
    (phi over the changes' draws), ``changes`` (per change: ``intervention``, ``treatmentEnd``, ``preDays``,
    ``treatmentDays``, ``weight`` and its own ``bayesian_its`` result) and ``skippedChanges``.
    """
    sampler = _sampler_settings(seed, draws, tune, chains)
    _require_errors(errors)
    outcome = regular_series(series, name="series", min_length=3)
    labels = _labels(conditions, outcome.index)
    checked = None if covariates is None else _checked_covariates(covariates)
    analysed, skipped = [], []
    for number, change in enumerate(_changes(labels, outcome.index)):
        model = _Model(day_of_week=day_of_week, trend=trend, errors=errors,
                       sampler={**sampler, "random_seed": _change_seed(sampler["random_seed"], number)})
        window = outcome[change.start:change.last]
        try:
            analysed.append(_analysed(window, change.intervention, change.treatment_end, checked, None, model))
        except _ShortBaseline as exc:
            skipped.append({"intervention": date_label(change.intervention), "reason": str(exc)})
    if not analysed:
        reasons = "; ".join(f"{s['intervention']}: {s['reason']}" for s in skipped)
        raise ValueError(
            "no baseline (A) run followed by an intervention (B) run can be analysed"
            + (f": {reasons}" if reasons else f" in the conditions {_sequence(labels)!r}")
        )
    return _pooled(outcome, labels, analysed, skipped)


def _labels(conditions: Sequence[str], index: pd.DatetimeIndex) -> np.ndarray:
    labels = np.asarray([str(condition) for condition in conditions])
    if len(labels) != len(index):
        raise ValueError(f"conditions has {len(labels)} labels but the series has {len(index)} dates")
    return labels


def _sequence(labels: np.ndarray) -> str:
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    return "".join(labels[starts])


def _changes(labels: np.ndarray, index: pd.DatetimeIndex) -> list[_Change]:
    """Every run of B days that directly follows a run of A days, with its window (``pooled_its``)."""
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    stops = np.r_[starts[1:], len(labels)]
    runs = list(zip(labels[starts], starts, stops))
    changes = []
    for position in range(1, len(runs)):
        (before, pre_start, _), (label, start, stop) = runs[position - 1], runs[position]
        if before != _BASELINE or label != _TREATMENT:
            continue
        following = [run for run in runs[position + 1:] if run[0] == _TREATMENT]
        window_stop = following[0][1] if following else len(labels)
        changes.append(_Change(start=index[pre_start], intervention=index[start],
                               treatment_end=index[stop] if stop < window_stop else None,
                               last=index[window_stop - 1]))
    return changes


def _change_seed(seed: int, number: int) -> int:
    return seed if number == 0 else int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _pooled(outcome: pd.Series, labels: np.ndarray, analysed: list[_Analysed], skipped: list) -> PooledITSResult:
    weights = np.array([int(a.phases.treated.sum()) for a in analysed], dtype=float)
    share = weights / weights.sum()
    effect = sum(w * a.scale * a.fit.effect for w, a in zip(share, analysed))
    cumulative = sum(a.scale * a.fit.cumulative for a in analysed)
    trends = [a.scale * a.fit.trend if a.fit.trend is not None else None for a in analysed]
    trend = None if all(t is None for t in trends) else sum(w * t for w, t in zip(share, trends) if t is not None)
    causal_effect = {
        **_summary(effect),
        "cumulative": float(cumulative.mean()),
        "cumulativeHdi95": [float(bound) for bound in _hdi(cumulative)[0]],
        "method": f"observed minus pre-period counterfactual (CausalPy InterruptedTimeSeries), pooled over "
                  f"{len(analysed)} baseline -> intervention change{'s' if len(analysed) > 1 else ''}, weighted "
                  "by treatment days",
        "trendContribution": _trend_summary(trend),
    }
    withdrawn = [a for a in analysed if a.fit.persistence is not None]
    persistence = None
    if withdrawn:
        spans = np.array([int(a.phases.withdrawal.sum()) for a in withdrawn], dtype=float)
        draws = sum(s * a.scale * a.fit.persistence for s, a in zip(spans / spans.sum(), withdrawn))
        persistence = _summary(draws)
        persistence["ratio"] = persistence["mean"] / causal_effect["mean"] if causal_effect["mean"] else None
    phis = [a.fit.posterior.phi for a in analysed if a.fit.posterior.phi is not None]
    autocorrelation = {"errors": "ar1" if phis else "iid",
                       "phi": _summary(np.concatenate(phis, axis=1)) if phis else None}
    results = [_result(a) for a in analysed]
    diagnostics = _worst_diagnostics([result.diagnostics for result in results])
    in_design = np.isin(labels, [_BASELINE, _TREATMENT])
    cross_check = hac_level_change(
        outcome.to_numpy()[in_design], pd.DataFrame({"b": (labels[in_design] == _TREATMENT).astype(float)}), "b",
        method="OLS of the outcome on a B-day indicator over all A and B days, Newey-West HAC errors")
    unit = analysed[0].wording.unit
    opening = _pooled_opening(causal_effect, [int(w) for w in weights],
                              [date_label(a.outcome.index[a.phases.treated][0]) for a in analysed], unit)
    text = _interpretation(opening, causal_effect, persistence, diagnostics, autocorrelation, cross_check, unit)
    return PooledITSResult(
        causal_effect=causal_effect,
        counterfactual=_merged([result.counterfactual for result in results],
                               [a.phases.treated[~a.phases.pre] for a in analysed]),
        diagnostics=diagnostics,
        interpretation=text,
        cross_check=cross_check,
        persistence=persistence,
        autocorrelation=autocorrelation,
        pre_fit=_merged([result.pre_fit for result in results],
                        [np.ones(len(result.pre_fit["dates"]), dtype=bool) for result in results]),
        changes=[_change_summary(a, result, float(w)) for a, result, w in zip(analysed, results, share)],
        skipped_changes=skipped,
    )


def _worst_diagnostics(each: list[dict]) -> dict:
    lag1 = [d["residualLag1Autocorrelation"] for d in each]
    return {
        "rhat": max(d["rhat"] for d in each),
        "ess_bulk": min(d["ess_bulk"] for d in each),
        "ess_tail": min(d["ess_tail"] for d in each),
        "residualLag1Autocorrelation": max(lag1),
        "autocorrelationWarning": any(d["autocorrelationWarning"] for d in each),
    }


def _merged(paths: list[dict], masks: list[np.ndarray]) -> dict:
    """The changes' paths (``counterfactual`` or ``preFit``), each on the days its mask keeps, in date order: the
    counterfactual on the treatment days the pooled effect averages, the fit on every pre period."""
    merged = {key: [] for key in paths[0]}
    for path, keep in zip(paths, masks):
        for key in merged:
            merged[key].extend(value for value, kept in zip(path[key], keep) if kept)
    return merged


def _change_summary(a: _Analysed, result, weight: float) -> dict:
    treated = a.outcome.index[a.phases.treated]
    withdrawal = a.outcome.index[a.phases.withdrawal]
    return {
        "intervention": date_label(treated[0]),
        "treatmentEnd": date_label(withdrawal[0]) if len(withdrawal) else None,
        "preDays": int(a.phases.pre.sum()),
        "treatmentDays": len(treated),
        "weight": weight,
        **result.to_dict(),
    }
