"""The four protocol analyses: each turns a protocol's data into an ``Analysis`` (JSON result, recorded settings,
key numbers, a markdown summary and its figures), calling the statistics core exactly once per method.

Every ``ValueError`` of the statistics core (too few points, a phase shorter than the minimum, a constant
series ...) becomes an ``AnalysisError`` that names the protocol and the method in front of the core's own message
(which already names the value, date and minimum needed), so one protocol's failure never hides which it was.
The settings have no defaults here: the Dagster config classes hold them (one place), and the statistics core
documents what each means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.comparisons import accrual_position, compare_change_points
from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.inputs import (
    hypothesis_alternative,
    its_window,
    outcome_series,
    phase_observations,
    planned_changes,
)
from americano_pipeline.analysis.protocol import ProtocolData

ITS = "bayesian_its"
RANDOMIZATION = "phase_randomization_test"
CHANGE_POINTS = "detect_change_points"
SEQUENTIAL = "sequential_boundaries"
FROM_HYPOTHESIS = "hypothesis"


@dataclass(frozen=True)
class Analysis:
    """What one method produced for one protocol, ready to be published."""

    method: str
    result: dict  # the statistics core's to_dict() plus the analysis' own keys (camelCase)
    params: dict  # settings as run, recorded in MLflow params and analysis_runs.inputParams
    metrics: dict  # key numbers (finite floats), recorded in MLflow metrics, Dagster metadata, resultsSummary
    summary: str  # one markdown line
    figures: tuple[tuple[str, Callable[[Path], Path]], ...]  # (file name, draw to that path)


def _checked(data: ProtocolData, method: str, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except AnalysisError:
        raise
    except ValueError as exc:
        raise AnalysisError(data.protocol.protocol_id, method, str(exc)) from exc


def _numbers(**values) -> dict:
    """Key numbers without the undefined ones (MLflow metrics must be numbers)."""
    return {name: float(value) for name, value in values.items() if value is not None}


def _title(data: ProtocolData, metric: str) -> str:
    return f"{data.protocol.name} ({data.protocol.design_type}, {data.protocol.protocol_id}): {metric}"


def _excluded(observations) -> dict:
    return {"washoutDays": observations.washout_days, "missingOutcomeDays": list(observations.missing_days)}


def analyse_its(data: ProtocolData, metric: str, covariates: pd.DataFrame, *, seed: int, draws: int, tune: int,
                chains: int) -> Analysis:
    """Bayesian ITS at the first A -> B change (``inputs.its_window``), with sleep/HRV-type covariates if possible.

    Covariates (columns of ``covariates``, indexed by date) are used only when every one is recorded on every day
    of the window and the statistics core accepts the model with them (its pre period must hold enough days for
    the extra coefficients, and each covariate must vary there); otherwise the model runs without covariates and
    the result says why (``covariates.reason``). One rule, fixed before seeing the outcome, so the choice cannot
    be tuned to the effect.
    """
    from americano_pipeline.stats.its import bayesian_its

    window = its_window(data, ITS)
    series = outcome_series(data, metric)[window.start:window.end]
    considered = list(covariates.columns)
    frame = covariates.reindex(series.index)
    incomplete = {column: int(frame[column].isna().sum()) for column in considered if frame[column].isna().any()}
    used, reason = ([], "; ".join(f"{c} is missing on {n} of the window's {len(series)} days"
                                  for c, n in incomplete.items())) if incomplete else (considered, None)
    run = partial(bayesian_its, series, window.intervention, treatment_end_date=window.treatment_end, seed=seed,
                  draws=draws, tune=tune, chains=chains)
    result = None
    if used:
        try:
            result = run(covariates=frame[used])
        except ValueError as exc:
            used, reason = [], f"the model with covariates was not identifiable here: {exc}"
    if result is None:
        result = _checked(data, ITS, run, covariates=None)
    body = {**result.to_dict(), "analysisWindow": window.to_dict(),
            "covariates": {"considered": considered, "used": used, "reason": reason}}
    effect, cross = body["causalEffect"], body["crossCheck"]
    persistence = body["persistence"] or {}
    low, high = effect["hdi95"]
    draw = partial(figures.its_figure, observed=series, counterfactual=body["counterfactual"],
                   intervention=window.intervention, treatment_end=window.treatment_end, effect=effect,
                   title=_title(data, metric))
    return Analysis(
        method=ITS,
        result=body,
        params={"seed": seed, "draws": draws, "tune": tune, "chains": chains, "sampler": "nutpie",
                "covariates_considered": ",".join(considered), "covariates_used": ",".join(used),
                "intervention_date": window.to_dict()["intervention"],
                "treatment_end_date": window.to_dict()["treatmentEnd"]},
        metrics=_numbers(effect_mean=effect["mean"], effect_sd=effect["sd"], effect_hdi95_low=low,
                         effect_hdi95_high=high, probability_positive=effect["probability_positive"],
                         cumulative_effect=effect["cumulative"], hac_level_change=cross["levelChange"],
                         hac_p_value=cross["pValue"], rhat=body["diagnostics"]["rhat"],
                         ess_bulk=body["diagnostics"]["ess_bulk"], persistence_mean=persistence.get("mean")),
        summary=(f"effect **{effect['mean']:+.3g}** per day (95% HDI {low:.3g} to {high:.3g}), "
                 f"P(effect > 0) = {effect['probability_positive']:.2f}; HAC cross-check "
                 f"{cross['levelChange']:+.3g} (p = {cross['pValue']:.2g}); covariates: {', '.join(used) or 'none'}"),
        figures=(("its.png", draw),),
    )


def analyse_randomization(data: ProtocolData, metric: str, *, statistic: str, alternative: str,
                          n_permutations: int, seed: int) -> Analysis:
    """Randomization test over the admissible phase-change placements with the protocol's registered minimum
    phase length, plus single-case effect sizes and the WWC design verdict, on the A/B days.

    ``alternative="hypothesis"`` takes the direction the registered hypothesis states
    (``inputs.hypothesis_alternative``); the effect sizes read "larger is better" in the tested direction
    (``improvement="decrease"`` for "less").
    """
    from americano_pipeline.stats.effect_sizes import single_case_effect_sizes
    from americano_pipeline.stats.randomization import phase_randomization_test
    from americano_pipeline.stats.standards import wwc_design_standard

    protocol = data.protocol
    observations = phase_observations(data, metric)
    values, labels = observations.values.to_numpy(), list(observations.labels)
    from_hypothesis = alternative == FROM_HYPOTHESIS
    chosen = hypothesis_alternative(protocol.hypothesis, metric) if from_hypothesis else alternative
    test = _checked(data, RANDOMIZATION, phase_randomization_test, values, labels,
                    min_phase_length=protocol.min_phase_length, statistic=statistic, alternative=chosen,
                    n_permutations=n_permutations, seed=seed)
    sizes = _checked(data, RANDOMIZATION, single_case_effect_sizes, values, labels,
                     improvement="decrease" if chosen == "less" else "increase")
    verdict, reason = _checked(data, RANDOMIZATION, wwc_design_standard, labels)
    body = {**test.to_dict(), "alternative": chosen, "alternativeSource": FROM_HYPOTHESIS if from_hypothesis else "config",
            "statistic": statistic, "minPhaseLength": protocol.min_phase_length, "effectSizes": sizes,
            "wwcDesignStandard": {"verdict": verdict, "reason": reason}, "excluded": _excluded(observations)}
    draw = partial(figures.randomization_figure, values=observations.values.rename(metric), labels=labels,
                   distribution=test.permutation_distribution, observed=test.observed_effect,
                   p_value=test.p_value, alternative=chosen, title=_title(data, metric))
    return Analysis(
        method=RANDOMIZATION,
        result=body,
        params={"statistic": statistic, "alternative": chosen, "alternative_source": body["alternativeSource"],
                "n_permutations": n_permutations, "seed": seed, "min_phase_length": protocol.min_phase_length,
                "wwc_verdict": verdict},
        metrics=_numbers(p_value=test.p_value, observed_effect=test.observed_effect, cohens_d=test.effect_size,
                         nap=sizes["NAP"], tau_u=sizes["TauU"], smd_pooled=sizes["SMD_pooled"],
                         n_assignments=test.n_assignments, n_observations=len(values)),
        summary=(f"B - A = **{test.observed_effect:+.3g}**, randomization p = **{test.p_value:.3g}** ({chosen}, "
                 f"{'exact' if test.exact else 'Monte Carlo'} over {test.n_assignments:,} placements); "
                 f"NAP {sizes['NAP']:.2f}; WWC: {verdict}"),
        figures=(("randomization.png", draw),),
    )


def analyse_change_points(data: ProtocolData, metric: str, *, algorithm: str, min_segment_length: int | None,
                          penalty: float | None, n_bootstrap: int, seed: int, tolerance_days: int) -> Analysis:
    """Change points over the whole protocol period, compared with the planned phase changes.

    The minimum segment length defaults to the protocol's registered minimum phase length: no planned phase is
    shorter, so the detector can find every planned change and nothing finer than the design allows.
    """
    from americano_pipeline.stats.changepoints import detect_change_points

    series = outcome_series(data, metric)
    segment = min_segment_length or data.protocol.min_phase_length
    found = _checked(data, CHANGE_POINTS, detect_change_points, series, min_segment_length=segment,
                     algorithm=algorithm, penalty=penalty, n_bootstrap=n_bootstrap, seed=seed)
    planned = planned_changes(data)
    comparison = compare_change_points([pd.Timestamp(c.date) for c in found.change_points], planned, tolerance_days)
    body = {**found.to_dict(), "penalty": found.penalty, "noiseSd": found.noise_sd, "minSegmentLength": segment,
            "nBootstrap": found.n_bootstrap, "blockLength": found.block_length, "comparison": comparison}
    draw = partial(figures.change_points_figure, series=series, detected=body["changePoints"], planned=planned,
                   title=_title(data, metric))
    distances = ", ".join(f"{row['date']} ({row['distanceDays']:+d} d)" for row in comparison["detected"]
                          if row["distanceDays"] is not None)
    return Analysis(
        method=CHANGE_POINTS,
        result=body,
        params={"algorithm": algorithm, "min_segment_length": segment, "penalty": penalty, "n_bootstrap": n_bootstrap,
                "seed": seed, "tolerance_days": tolerance_days},
        metrics=_numbers(n_detected=len(found.change_points), n_planned=len(planned),
                         matched_planned=comparison["matchedPlanned"],
                         unmatched_detected=comparison["unmatchedDetected"],
                         mean_abs_distance_days=comparison["meanAbsoluteDistanceDays"]),
        summary=(f"**{len(found.change_points)}** detected vs {len(planned)} planned changes, "
                 f"{comparison['matchedPlanned']} matched within {tolerance_days} d"
                 + (f"; detected (vs nearest planned): {distances}" if distances else "")),
        figures=(("change_points.png", draw),),
    )


def analyse_sequential(data: ProtocolData, metric: str, *, n_looks: int, spending_function: str, alpha: float,
                       sides: int) -> Analysis:
    """Lan-DeMets boundaries for the registered sampleSizeTarget, and where the accrued A/B days stand today."""
    from americano_pipeline.stats.sequential import sequential_boundaries

    target = data.protocol.sample_size_target
    plan = _checked(data, SEQUENTIAL, sequential_boundaries, alpha=alpha, spending_function=spending_function,
                    max_n=target, n_interim_analyses=n_looks, sides=sides)
    observations = phase_observations(data, metric)
    boundaries = plan.to_dict()["boundaries"]
    position = accrual_position(observations.values.to_numpy(), observations.labels, boundaries, sides)
    body = {**plan.to_dict(), "maxN": target, "alpha": alpha, "sides": sides, "spendingFunction": spending_function,
            "position": position, "excluded": _excluded(observations)}
    draw = partial(figures.sequential_figure, boundaries=boundaries, position=position, sides=sides,
                   title=_title(data, metric))
    z = position["z"]
    look = position["currentLook"]
    stand = ("before the first look" if look is None
             else f"look {look} of {n_looks}, boundary ±{position['currentCriticalValue']:.3g}" if sides == 2
             else f"look {look} of {n_looks}, boundary {position['currentCriticalValue']:.3g}")
    crossed = position["firstCrossingLook"]
    return Analysis(
        method=SEQUENTIAL,
        result=body,
        params={"n_looks": n_looks, "spending_function": spending_function, "alpha": alpha, "sides": sides,
                "max_n": target},
        metrics=_numbers(n_observed=position["nObserved"], z=z,
                         current_critical_value=position["currentCriticalValue"],
                         crossed=float(crossed is not None), first_crossing_look=crossed),
        summary=(f"n = {position['nObserved']} of {target}, z = "
                 f"{'n/a' if z is None else f'{z:+.2f}'} ({stand}); "
                 + (f"**crossed at look {crossed}**" if crossed else "no boundary crossed")),
        figures=(("sequential.png", draw),),
    )
