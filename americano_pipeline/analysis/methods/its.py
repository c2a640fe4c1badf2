"""The Bayesian interrupted time series of a protocol: every baseline -> intervention change, pooled."""

from __future__ import annotations

from functools import partial

import pandas as pd

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.inputs import its_conditions, moved_covariates, outcome_series
from americano_pipeline.analysis.methods.base import Analysis, checked, not_run, numbers, title
from americano_pipeline.analysis.protocol import ProtocolData

ITS = "bayesian_its"

# Designs without an interruption to model, and why (docs/DESIGNS.md): the ITS projects a baseline's trajectory
# over a later period, which needs one baseline followed by a sustained change.
NOT_MODELLED = {
    "ALTERNATING": "an alternating-treatments design switches condition every day or two, so there is no "
                   "baseline period to project a counterfactual from; its randomization test compares the "
                   "conditions directly",
    "CHANGING_CRITERION": "a changing-criterion design predicts a step to each new criterion, not one sustained "
                          "level change an ITS counterfactual could measure; its randomization test scores how "
                          "closely the series tracks the criteria",
}


def registered_direction(data: ProtocolData, probability_positive: float) -> dict:
    """The posterior probability of an effect in the protocol's registered direction (None when two-sided)."""
    alternative = data.protocol.alternative
    probability = {"greater": probability_positive, "less": 1 - probability_positive}.get(alternative)
    statement = (f"P(effect > 0) = {probability_positive:.2f} (registered: two-sided)" if probability is None
                 else f"P(effect {'>' if alternative == 'greater' else '<'} 0) = {probability:.2f} (registered)")
    return {"alternative": alternative, "probability": probability, "statement": statement}


def analyse_its(data: ProtocolData, metric: str, covariates: pd.DataFrame, *, seed: int, draws: int, tune: int,
                chains: int) -> Analysis:
    """Bayesian ITS of every A -> B change, pooled (``stats.its.pooled_its`` on ``inputs.its_conditions``), with
    the requested covariates if they hold; for a multiple baseline, of its primary tier (the series ``data.days``
    follows). Designs without an interruption (``NOT_MODELLED``) publish why instead.

    Covariates (columns of ``covariates``, indexed by date; none unless the run asks for them) are used only when
    every one is recorded on every day of the protocol, none moved with the intervention
    (``inputs.moved_covariates``: a covariate the intervention shifts would absorb part of the effect), and the
    statistics core accepts the model with them (every pre period must hold enough days for the extra
    coefficients, and each covariate must vary there); otherwise the model runs without covariates and the result
    says why (``covariates.reason``). One rule, fixed before seeing the outcome, so the choice cannot be tuned to
    the effect.
    """
    from americano_pipeline.stats.its import pooled_its

    if data.protocol.design_type in NOT_MODELLED:
        return not_run(data, ITS, NOT_MODELLED[data.protocol.design_type])
    series = outcome_series(data, metric)
    conditions = its_conditions(data)
    considered = list(covariates.columns)
    frame = covariates.reindex(series.index)
    incomplete = {column: int(frame[column].isna().sum()) for column in considered if frame[column].isna().any()}
    moved = moved_covariates(frame.drop(columns=list(incomplete)), conditions)
    problems = [f"{c} is missing on {n} of the protocol's {len(series)} days" for c, n in incomplete.items()]
    problems += [f"{c} moved with the intervention (standardized difference {d:+.2f})" for c, d in moved.items()]
    used, reason = ([], "; ".join(problems)) if problems else (considered, None)
    run = partial(pooled_its, series, conditions, seed=seed, draws=draws, tune=tune, chains=chains)
    result = None
    if used:
        try:
            result = run(covariates=frame[used])
        except ValueError as exc:
            used, reason = [], f"the model with covariates was not identifiable here: {exc}"
    if result is None:
        result = checked(data, ITS, run, covariates=None)
    body = {**result.to_dict(), "covariates": {"considered": considered, "used": used, "reason": reason}}
    effect, cross = body["causalEffect"], body["crossCheck"]
    direction = registered_direction(data, effect["probability_positive"])
    body["registeredDirection"] = direction
    persistence = body["persistence"] or {}
    trend = effect["trendContribution"] or {}
    low, high = effect["hdi95"]
    changes = body["changes"]
    draw = partial(figures.its_figure, observed=series, changes=changes, effect=effect, title=title(data, metric),
                   conditions=conditions)
    return Analysis(
        method=ITS,
        result=body,
        params={"seed": seed, "draws": draws, "tune": tune, "chains": chains, "sampler": "nutpie",
                "covariates_considered": ",".join(considered), "covariates_used": ",".join(used),
                "interventions": ",".join(change["intervention"] for change in changes),
                "skipped_interventions": ",".join(skip["intervention"] for skip in body["skippedChanges"])},
        metrics=numbers(effect_mean=effect["mean"], effect_sd=effect["sd"], effect_hdi95_low=low,
                        effect_hdi95_high=high, probability_positive=effect["probability_positive"],
                        probability_registered_direction=direction["probability"],
                        cumulative_effect=effect["cumulative"], trend_contribution=trend.get("mean"),
                        hac_level_change=cross["levelChange"], hac_p_value=cross["pValue"],
                        rhat=body["diagnostics"]["rhat"], ess_bulk=body["diagnostics"]["ess_bulk"],
                        persistence_mean=persistence.get("mean"), n_changes=len(changes)),
        summary=(f"effect **{effect['mean']:+.3g}** per day (95% HDI {low:.3g} to {high:.3g}) over "
                 f"{len(changes)} A->B change{'s' if len(changes) != 1 else ''}"
                 f"{_skipped(body['skippedChanges'])}, {direction['statement']}"
                 f"{_trend_part(trend)}; HAC cross-check "
                 f"{cross['levelChange']:+.3g} (p = {cross['pValue']:.2g}); covariates: {', '.join(used) or 'none'}"),
        figures=(("its.png", draw),),
    )


def _trend_part(trend: dict) -> str:
    return f"; trend part {trend['mean']:+.3g}" if trend else ""


def _skipped(skipped: list[dict]) -> str:
    return f" ({len(skipped)} with too short a baseline skipped)" if skipped else ""
