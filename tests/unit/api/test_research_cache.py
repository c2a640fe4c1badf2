"""The research API's answer cache (``research._Answers``, issue #15): a repeated request is answered from it with
the provenance of the computation plus ``cached: true``, another user or a new release computes afresh, identical
requests in flight share one computation, and what it keeps stays within its limit.

The warehouse and the core's functions are stand-ins: each answer carries the value its (fake) computation made,
and every computation is counted."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.api import models, research
from americano_pipeline.api.inputs import InvalidInput
from americano_pipeline.lineage.warehouse_release import Release

ITS = models.BayesianITSRequest(userId="u1", metric="engagement_score", interventionDate=date(2026, 3, 1),
                                prePeriodDays=20, postPeriodDays=10)
CHANGES = models.ChangePointsRequest(userId="u1", metric="engagement_score", startDate=date(2026, 2, 1),
                                     endDate=date(2026, 3, 10))


class Marts:
    """A user's marts: every day of the metric is the user's number (u1: 1.0, u2: 2.0 ...)."""

    def __init__(self, user_id: str, release: Release):
        self.user_id, self._release = user_id, release

    def user_metric(self, metric, start, end) -> pd.Series:
        days = pd.date_range(start, end, freq="D")
        return pd.Series(float(self.user_id[1:]), index=days, name=metric)

    def release(self) -> Release:
        return self._release


class Warehouse:
    path = Path("/warehouse/marts.duckdb")

    def __init__(self):
        self.release = Release(data_version="v1", invocation_id="build-1", finished_at="2026-03-11 00:00:00")

    @contextmanager
    def marts(self, user_id: str):
        yield Marts(user_id, self.release)


class Result:
    def __init__(self, body: dict):
        self.body = body

    def to_dict(self) -> dict:
        return dict(self.body)


class Core:
    """Stand-in for a core function: counts its calls; each answer is the series' value and the call's number;
    ``gate`` (when set) holds every call until it is opened; ``error`` makes the calls fail."""

    def __init__(self):
        self.calls, self.gate, self.error = 0, None, None
        self.started = threading.Event()

    def __call__(self, series: pd.Series, *args, **kwargs) -> Result:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return Result({"value": float(series.iloc[0]), "call": self.calls, "days": len(series)})


@pytest.fixture
def core(monkeypatch) -> Core:
    """A fresh cache, and the ITS and change-point core functions replaced by one counting stand-in."""
    from americano_pipeline.stats import changepoints, its

    fake = Core()
    monkeypatch.setattr(research, "_ANSWERS", research._Answers(research.ANSWER_CACHE))
    monkeypatch.setattr(its, "bayesian_its", fake)
    monkeypatch.setattr(changepoints, "detect_change_points", fake)
    return fake


def without_cached(answer: dict) -> dict:
    return {**answer, "provenance": {k: v for k, v in answer["provenance"].items() if k != "cached"}}


@pytest.mark.parametrize(("endpoint", "request_"), [(research.bayesian_its, ITS), (research.change_points, CHANGES)])
def test_a_repeated_request_is_answered_from_the_cache_with_the_same_provenance_marked_cached(core, endpoint,
                                                                                               request_):
    warehouse = Warehouse()
    fresh = endpoint(warehouse, "u1", request_)
    again = endpoint(warehouse, "u1", request_)
    assert core.calls == 1
    assert "cached" not in fresh["provenance"] and again["provenance"]["cached"] is True
    assert without_cached(again) == fresh
    assert fresh["call"] == 1 and fresh["provenance"]["dataVersionHash"] == "v1"
    assert fresh["provenance"]["parameters"] == {**request_.model_dump(mode="json"), "seed": 0}
    again["provenance"]["parameters"]["seed"] = 99  # a caller changing its copy changes nothing remembered
    assert endpoint(warehouse, "u1", request_)["provenance"]["parameters"]["seed"] == 0


def test_two_users_never_share_an_answer_even_for_the_same_request(core):
    warehouse = Warehouse()
    first = research.bayesian_its(warehouse, "u1", ITS)
    second = research.bayesian_its(warehouse, "u2", ITS)
    assert core.calls == 2
    assert (first["value"], second["value"]) == (1.0, 2.0)
    assert "cached" not in second["provenance"]
    assert research.bayesian_its(warehouse, "u2", ITS)["value"] == 2.0 and core.calls == 2


def test_a_new_data_version_or_a_rebuild_of_the_marts_computes_afresh(core):
    warehouse = Warehouse()
    assert research.bayesian_its(warehouse, "u1", ITS)["call"] == 1
    warehouse.release = Release(data_version="v2", invocation_id="build-2", finished_at="2026-03-12 00:00:00")
    newer = research.bayesian_its(warehouse, "u1", ITS)
    assert newer["call"] == 2 and newer["provenance"]["dataVersionHash"] == "v2" and "cached" not in newer["provenance"]
    warehouse.release = Release(data_version="v2", invocation_id="build-3", finished_at="2026-03-13 00:00:00")
    assert research.bayesian_its(warehouse, "u1", ITS)["call"] == 3
    other = ITS.model_copy(update={"postPeriodDays": 11})  # any other field of the request is another question
    assert research.bayesian_its(warehouse, "u1", other)["days"] == 31 and core.calls == 4


def test_identical_requests_in_flight_share_one_computation(core):
    warehouse = Warehouse()
    core.gate = threading.Event()
    answers: dict[int, dict] = {}

    def ask(number: int) -> None:
        answers[number] = research.bayesian_its(warehouse, "u1", ITS)

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    assert core.started.wait(10)
    others = [threading.Thread(target=ask, args=(number,)) for number in (1, 2, 3)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(0.3)
    # the three wait for the one computation in flight instead of starting their own
    assert core.calls == 1 and all(thread.is_alive() for thread in others)
    core.gate.set()
    for thread in (first, *others):
        thread.join(10)
    assert core.calls == 1
    assert [answers[n]["provenance"].get("cached") for n in range(4)] == [None, True, True, True]
    assert all(without_cached(answers[n]) == answers[0] for n in (1, 2, 3))


def test_an_error_reaches_the_requests_waiting_for_it_and_is_not_remembered(core):
    warehouse = Warehouse()
    core.gate, core.error = threading.Event(), ValueError("the pre period has 4 observations")
    failures: list[str] = []

    def ask() -> None:
        try:
            research.bayesian_its(warehouse, "u1", ITS)
        except InvalidInput as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    threads[0].start()
    assert core.started.wait(10)
    threads[1].start()
    threads[1].join(0.3)
    core.gate.set()
    for thread in threads:
        thread.join(10)
    assert failures == ["the pre period has 4 observations"] * 2 and core.calls == 1
    core.error = None
    assert research.bayesian_its(warehouse, "u1", ITS)["call"] == 2


def test_the_cache_keeps_at_most_its_limit_least_recently_used_out_first():
    answers = research._Answers(limit=100)

    def compute(size: int):
        return lambda: {"x": "a" * size}

    provenance = {"method": "m"}
    for key in ("a", "b"):
        answers.answer((key,), provenance, compute(10))
    assert answers.size == 2 * len('{"x": "aaaaaaaaaa", "provenance": {"method": "m"}}') == 100
    answers.answer(("a",), provenance, compute(10))  # "a" used again: "b" is now the least recent
    answers.answer(("c",), provenance, compute(10))
    assert list(answers._kept) == [("a",), ("c",)] and answers.size == 100
    answers.answer(("huge",), provenance, compute(200))  # larger than the limit alone: answered, never kept
    assert list(answers._kept) == [("a",), ("c",)]
    assert answers.answer(("huge",), provenance, compute(200))["provenance"] == {"method": "m"}


def test_json_keeps_every_number_of_an_answer_exactly():
    values = np.random.default_rng(0).normal(size=1000).tolist() + [0.1 + 0.2, 1e-300, float("nan")]
    answers = research._Answers(limit=10**6)
    answers.answer(("k",), {}, lambda: {"v": values})
    kept = answers.answer(("k",), {}, lambda: {})["v"]
    assert kept[:-1] == values[:-1] and np.isnan(kept[-1])
