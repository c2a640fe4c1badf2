"""The four on-demand analyses of the study app's seed endpoints, on the statistics core and the current marts.

Why these functions are synchronous and small: they run in the bounded worker pool (``pool``), each borrows the
caller's marts (``warehouse.Warehouse.marts``) for its own duration only, and each calls the same core function the
pipeline does (the randomization test through ``analysis.methods.randomization``, so a protocol is analysed
exactly as its published result was, with its registered direction and minimum phase length). Every result is
exploratory (the pipeline's runs are the confirmatory/supportive ones) and says so, with the data version of the
marts it read. A ``ValueError`` of the core (too short a baseline, a missing day ...) becomes ``InvalidInput``.
Sequential boundaries depend on their four arguments only, so they are computed once per distinct request
(``SEQUENTIAL_CACHE`` of them), and the core integrates each design (alpha, spending function, looks) once
whatever its maxN (``stats.sequential``): an integration takes 1 ms per look, more than the rest of a request.

Results of the Bayesian ITS and the change points are remembered too (issue #15): a fit takes 0.3-0.7 s of two
cores, and a dashboard reload asks the same question again. The answer is a function of the caller, the request
(every field of it), the seed and what the marts hold, so those are the key (``_key``): the caller's id, so an
answer is never served to another user; the request and seed as the provenance's parameters; and the release of
the marts (``Warehouse.marts(...).release()``), its data version and the build that made the marts from it, so a
new data version (or a rebuild of the marts from the same one) computes afresh, as does another warehouse file.
Identical requests in flight at the same time share one computation: the first computes, the others wait for it
in their workers (``_Answers.answer``; a waiting request holds its worker, which it would otherwise have spent
computing the same answer); an error is shared with them, never remembered. At most ``ANSWER_CACHE`` characters
of answers (as JSON) are kept, least recently used out first: about 500 ITS answers on two-month windows (7.5 kB
each), fewer on longer ones; an answer that alone exceeds it is never kept. They are kept as JSON text, so every
caller gets its own copy and none can change what the next one is served. An answer that was not computed for the
request (remembered, or shared with one in flight) carries the provenance of the computation that made it plus
``"cached": true``, so the recorder can tell it from a fresh computation. The randomization test is not
remembered: it computes in about 20 ms and its answer holds the whole permutation distribution (up to 100,000
values).
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from typing import TypeVar

from americano_pipeline.api import models
from americano_pipeline.api.inputs import InvalidInput
from americano_pipeline.api.warehouse import UserMarts, Warehouse, catalogue_metric

SEED = 0
WARM_UP_DAYS = 42  # a synthetic series long enough for every form of the ITS model (``warm_up``)
SEQUENTIAL_CACHE = 1024
ANSWER_CACHE = 4_000_000  # characters of JSON
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
        key = _key(warehouse, marts, provenance)
    return _ANSWERS.answer(key, provenance, lambda: _core(
        fit, series, request.interventionDate.isoformat(), pre_period_days=request.prePeriodDays,
        post_period_days=request.postPeriodDays, prior_effect_mean=prior and prior.effectMean,
        prior_effect_sd=prior and prior.effectSd, seed=SEED).to_dict())


def warm_up() -> float:
    """Fit each form of the ITS model a request on daily data can need once, on a synthetic series, so no request
    pays for its compilation, and run the fast analyses' code once; returns the seconds it took. The forms
    (``stats.its.design``): a baseline of 14 days or more gets day-of-week terms, and a trend too when it is at
    least as long as the post period; a shorter one gets neither; each with and without an effect prior (the
    segmented model).

    Why at start: the models are compiled once per process (``stats.its.sampler``), seconds each; compiled under
    load by the first requests, they made those requests wait up to 25 s, beyond the 30 s request timeout in one
    bench run. The fast analyses only import on first use, but the imports hold the GIL: the first change-point
    request of a process (Pandera's backends, ruptures) took 1.1 s, and every request of that process waited. A
    server started with ``--processes 2`` warms each process."""
    import time

    import numpy as np
    import pandas as pd

    from americano_pipeline.stats.its import bayesian_its as fit

    started = time.perf_counter()
    days = pd.date_range("2026-01-05", periods=WARM_UP_DAYS, freq="D")
    series = pd.Series(50.0 + np.random.default_rng(SEED).normal(0.0, 3.0, WARM_UP_DAYS), index=days,
                       name="study_minutes")
    for baseline, post in ((28, 14), (14, 28), (10, 20)):
        for prior in ({}, {"prior_effect_mean": 0.0, "prior_effect_sd": 5.0}):
            fit(series, days[baseline], post_period_days=post, seed=SEED, **prior)
    _warm_fast_analyses(series)
    return time.perf_counter() - started


def _warm_fast_analyses(series) -> None:
    """The Pandera check, change points and sequential boundaries once; the randomization test's and DuckDB's
    imports, and the metric catalogue."""
    import duckdb  # noqa: F401

    import americano_pipeline.analysis.methods.randomization  # noqa: F401
    from americano_pipeline.analysis.protocol import metric_catalogue
    from americano_pipeline.api.inputs import validated_series
    from americano_pipeline.stats.changepoints import detect_change_points
    from americano_pipeline.stats.sequential import sequential_boundaries as boundaries

    detect_change_points(validated_series(series), seed=SEED)
    boundaries(max_n=len(series), n_interim_analyses=2)
    metric_catalogue()


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
        key = _key(warehouse, marts, provenance)
    return _ANSWERS.answer(key, provenance, lambda: {
        **_core(detect_change_points, series, min_segment_length=request.minSegmentLength, seed=SEED).to_dict(),
        "minSegmentLength": request.minSegmentLength})


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


def _key(warehouse: Warehouse, marts: UserMarts, provenance: dict) -> tuple:
    """What an answer depends on (module doc): warehouse file, release of its marts, caller, method, parameters."""
    release = marts.release()
    return (str(warehouse.path), release.data_version, release.invocation_id, marts.user_id, provenance["method"],
            json.dumps(provenance["parameters"], sort_keys=True))


class _Answers:
    """Answers remembered by key, at most ``limit`` characters of them as JSON, and the computations in flight
    (module doc)."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self._kept: OrderedDict[tuple, str] = OrderedDict()
        self._running: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def answer(self, key: tuple, provenance: dict, compute: Callable[[], dict]) -> dict:
        """``compute()`` with ``provenance`` as the answer for ``key``: computed here, or the remembered answer or
        the one in flight for the same key, marked ``cached``."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
            running = self._running.get(key)
            leader = kept is None and running is None
            if leader:
                running = self._running[key] = Future()
        if not leader:
            answer = json.loads(kept if kept is not None else running.result())
            return {**answer, "provenance": {**answer["provenance"], "cached": True}}
        try:
            answer = {**compute(), "provenance": provenance}
            text = json.dumps(answer)
        except BaseException as exc:
            with self._lock:
                del self._running[key]
            running.set_exception(exc)
            raise
        with self._lock:
            del self._running[key]
            self._keep(key, text)
        running.set_result(text)
        return answer

    def _keep(self, key: tuple, text: str) -> None:
        """Remember ``text`` under ``key``, dropping the least recently used answers beyond the limit (lock held)."""
        if len(text) > self.limit:
            return
        self._kept[key] = text
        self.size += len(text)
        while self.size > self.limit:
            self.size -= len(self._kept.popitem(last=False)[1])


_ANSWERS = _Answers(ANSWER_CACHE)
