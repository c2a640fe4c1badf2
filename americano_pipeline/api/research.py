"""The four on-demand analyses of the study app's seed endpoints, on the statistics core and the current marts.

Why these functions are synchronous and small: they run in the bounded worker pool (``pool``), each borrows the
caller's marts (``warehouse.Warehouse.marts``) for its own duration only, and each calls the same core function the
pipeline does (the randomization test through ``analysis.methods.randomization``, so a protocol is analysed
exactly as its published result was, with its registered direction and minimum phase length). Every result is
exploratory (the pipeline's runs are the confirmatory/supportive ones) and says so, with the data version of the
marts it read. A ``ValueError`` of the core (too short a baseline, a missing day ...) becomes ``InvalidInput``.
Sequential boundaries depend on their four arguments only, so they are computed once per distinct request
(``SEQUENTIAL_CACHE`` of them): a fresh computation takes about 14 ms, more than the rest of a request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from americano_pipeline.api import models
from americano_pipeline.api.inputs import InvalidInput
from americano_pipeline.api.warehouse import UserMarts, Warehouse, catalogue_metric

SEED = 0
SEQUENTIAL_CACHE = 1024
T = TypeVar("T")


def _core(function: Callable[..., T], *args, **kwargs) -> T:
    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _provenance(marts: UserMarts, method: str, parameters: dict) -> dict:
    return {"exploratory": True, "role": "exploratory", "method": method, "parameters": parameters,
            "dataVersionHash": marts.release().data_version}


def bayesian_its(warehouse: Warehouse, user_id: str, request: models.BayesianITSRequest) -> dict:
    from americano_pipeline.stats.its import bayesian_its as fit

    metric = catalogue_metric(request.metric)
    start = request.interventionDate - timedelta(days=request.prePeriodDays)
    end = request.interventionDate + timedelta(days=request.postPeriodDays - 1)
    prior = request.priorParams
    with warehouse.marts(user_id) as marts:
        series = marts.user_metric(metric, start, end)
        provenance = _provenance(marts, "bayesian_its", {**request.model_dump(mode="json"), "seed": SEED})
    result = _core(fit, series, request.interventionDate.isoformat(), pre_period_days=request.prePeriodDays,
                   post_period_days=request.postPeriodDays, prior_effect_mean=prior and prior.effectMean,
                   prior_effect_sd=prior and prior.effectSd, seed=SEED)
    return {**result.to_dict(), "provenance": provenance}


def randomization_test(warehouse: Warehouse, user_id: str, request: models.RandomizationRequest) -> dict:
    from americano_pipeline.analysis.errors import AnalysisError
    from americano_pipeline.analysis.methods.randomization import RANDOMIZATION, analyse_randomization

    metric = catalogue_metric(request.metric)
    with warehouse.marts(user_id) as marts:
        data = marts.protocol(request.protocolId)
        provenance = _provenance(marts, RANDOMIZATION, {**request.model_dump(mode="json"), "seed": SEED,
                                                        "statistic": "mean_difference", "alternative": "registered"})
    try:
        analysis = analyse_randomization(data, metric, statistic="mean_difference", alternative="registered",
                                         exploratory=True, n_permutations=request.nPermutations, seed=SEED)
    except AnalysisError as exc:
        raise InvalidInput(str(exc)) from None
    return {**analysis.result, "protocolId": request.protocolId, "designType": data.protocol.design_type,
            "provenance": provenance}


def change_points(warehouse: Warehouse, user_id: str, request: models.ChangePointsRequest) -> dict:
    from americano_pipeline.stats.changepoints import detect_change_points

    metric = catalogue_metric(request.metric)
    if request.endDate < request.startDate:
        raise InvalidInput(f"endDate {request.endDate} is before startDate {request.startDate}")
    with warehouse.marts(user_id) as marts:
        series = marts.user_metric(metric, request.startDate, request.endDate)
        provenance = _provenance(marts, "detect_change_points", {**request.model_dump(mode="json"), "seed": SEED})
    found = _core(detect_change_points, series, min_segment_length=request.minSegmentLength, seed=SEED)
    return {**found.to_dict(), "minSegmentLength": request.minSegmentLength, "provenance": provenance}


def sequential_boundaries(request: models.SequentialRequest) -> dict:
    result = _boundaries(request.alphaLevel, request.spendingFunction, request.maxN, request.nInterimAnalyses)
    return {**result.to_dict(), "provenance": {"exploratory": True, "method": "sequential_boundaries",
                                               "parameters": request.model_dump(mode="json")}}


@functools.lru_cache(maxsize=SEQUENTIAL_CACHE)
def _boundaries(alpha: float, spending_function: str, max_n: int, n_interim_analyses: int):
    """The core's boundaries (a frozen result) for these arguments, computed once (module doc)."""
    from americano_pipeline.stats.sequential import sequential_boundaries as boundaries

    return _core(boundaries, alpha=alpha, spending_function=spending_function, max_n=max_n,
                 n_interim_analyses=n_interim_analyses)
