"""Each registered design is analysed by its own randomization test, effect sizes, WWC standard and figure
(docs/DESIGNS.md), on ProtocolData shaped as the marts deliver it; the ITS says why it does not run where the
design has no interruption."""

from dataclasses import replace
from datetime import date
from itertools import permutations, product

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.methods import analyse_its, analyse_randomization, analyse_sequential
from americano_pipeline.analysis.protocol import Protocol, ProtocolData
from americano_pipeline.stats.randomization import (
    alternating_treatments_test,
    count_admissible_assignments,
)

START = pd.Timestamp("2026-03-02")
PROTOCOL = Protocol(protocol_id="c" + "p" * 24, user_id="c" + "u" * 24, name="test", design_type="ABAB",
                    primary_outcome="study_minutes", hypothesis="h", min_phase_length=1, sample_size_target=1,
                    start_date=date(2026, 3, 2), end_date=None, phase_sequence="",
                    confirmatory="phase_randomization_test", alternative="greater", alpha=0.05)
RUN = {"statistic": "mean_difference", "alternative": "registered", "exploratory": False, "n_permutations": 10_000,
       "seed": 0}


def _days(phases: list[tuple[str, str, int, float | None]], values) -> pd.DataFrame:
    """Daily rows of phases (label, condition, days, criterion) with ``values`` as study_minutes."""
    rows = []
    for number, (label, condition, length, criterion) in enumerate(phases, start=1):
        phase_type = "BASELINE" if condition == "A" else "INTERVENTION_A"
        rows += [{"phase_number": number, "phase_label": label, "phase_type": phase_type, "condition": condition,
                  "criterion": criterion}] * length
    days = pd.DataFrame(rows, index=pd.date_range(START, periods=len(rows), name="date"))
    days["study_minutes"] = np.asarray(values, dtype=float)
    return days


def _drawn(analysis, tmp_path) -> str:
    """The analysis' one figure, drawn: its file name, after checking it is a PNG."""
    [(name, draw)] = analysis.figures
    assert draw(tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return name


def test_an_alternating_protocol_runs_the_run_limited_test_and_reports_each_condition(tmp_path):
    order = "ABBAABABBA"
    values = np.array([10.0 if c == "A" else 14.0 for c in order]) + np.arange(10) * 0.1
    runs = [(f"run_{i}", c, 1, None) for i, c in enumerate(order)]
    data = ProtocolData(replace(PROTOCOL, design_type="ALTERNATING", max_consecutive=2), _days(runs, values))
    analysis = analyse_randomization(data, "study_minutes", **RUN)
    assert _drawn(analysis, tmp_path) == "conditions.png"
    direct = alternating_treatments_test(values, list(order), max_consecutive=2, alternative="greater")
    result = analysis.result
    assert result["test"] == "alternating_treatments_test" and result["pValue"] == direct.p_value
    assert result["nAssignments"] == direct.n_assignments
    assert result["wwcDesignStandard"]["standard"] == "alternating treatments"
    conditions = result["effectSizes"]["conditions"]
    assert conditions["A"]["n"] == conditions["B"]["n"] == 5
    assert result["effectSizes"]["difference"] == pytest.approx(4.02)  # 4 + 0.1 x (mean B day - mean A day)
    assert result["effectSizes"]["NAP"] == 1.0
    assert result["alphaCheck"]["nAssignments"] == direct.n_assignments
    assert result["design"] == {"designType": "ALTERNATING", "maxConsecutive": 2}


def test_a_changing_criterion_protocol_that_meets_every_criterion_gets_the_smallest_p(tmp_path):
    phases = [("baseline_1", "A", 4, None), ("criterion_1", "B", 3, 20.0), ("criterion_2", "B", 4, 30.0),
              ("criterion_3", "B", 3, 40.0)]
    values = [10, 12, 11, 10, 20, 20, 20, 30, 30, 30, 30, 40, 40, 40]
    data = ProtocolData(replace(PROTOCOL, design_type="CHANGING_CRITERION", min_phase_length=3), _days(phases, values))
    analysis = analyse_randomization(data, "study_minutes", **RUN)
    result = analysis.result
    assert _drawn(analysis, tmp_path) == "criteria.png"
    n = count_admissible_assignments(14, 4, 3)  # C(14 - 12 + 3, 3) = 10 splits
    assert n == 10 and result["nAssignments"] == n and result["exact"]
    assert result["test"] == "changing_criterion_test" and result["alternative"] == "tracking"
    assert result["observedEffect"] == 0.0 and result["pValue"] == pytest.approx(1 / n)
    means = [row["mean"] for row in result["effectSizes"]["phases"]]
    assert means == [10.75, 20.0, 30.0, 40.0]
    assert result["wwcDesignStandard"]["standard"] == "changing criterion"
    assert result["alphaCheck"]["reachable"] is False  # 1/10 > 0.05, and the check says so


def _tiers(starts: list[int], windows: list[tuple[int, int]], n: int, effects: list[float]) -> pd.DataFrame:
    rows = []
    for number, (name, start, window, effect) in enumerate(zip("xyz", starts, windows, effects), start=1):
        for day in range(n):
            rows.append({"tier": name, "tier_outcome": f"metric_{name}", "tier_number": number,
                         "date": START + pd.Timedelta(days=day), "condition": "A" if day < start else "B",
                         "tier_start_date": START + pd.Timedelta(days=start),
                         "start_window_earliest": START + pd.Timedelta(days=window[0]),
                         "start_window_latest": START + pd.Timedelta(days=window[1]),
                         "outcome_value": 5.0 + (day % 2) * 0.5 + (effect if day >= start else 0.0)})
    return pd.DataFrame(rows)


def test_a_multiple_baseline_protocol_runs_koehler_levin_over_its_recorded_windows(tmp_path):
    windows, starts = [(3, 4), (6, 7), (9, 10)], [4, 6, 10]
    tiers = _tiers(starts, windows, 14, [3.0, 3.0, 3.0])
    protocol = replace(PROTOCOL, design_type="MULTIPLE_BASELINE", multiple_baseline_scheme="koehler_levin")
    days = _days([("x baseline", "A", 4, None), ("x intervention", "B", 10, None)], np.zeros(14))
    analysis = analyse_randomization(ProtocolData(protocol, days, tiers), "study_minutes", **RUN)
    result = analysis.result
    assert _drawn(analysis, tmp_path) == "tiers.png"
    assert result["test"] == "multiple_baseline_test" and result["design"]["scheme"] == "koehler_levin"
    assert result["design"]["possibleStarts"] == [[3, 4], [6, 7], [9, 10]]
    assert result["nAssignments"] == 6 * 2 ** 3  # 3! orders of the tiers x two starts per slot
    # by hand: the statistic of every member of the reference set; the observed one is the largest
    values = [tiers[tiers.tier == t].outcome_value.to_numpy() - 3.0 * (np.arange(14) >= s) for t, s in
              zip("xyz", starts)]

    def statistic(tier_starts):
        return np.mean([(v + 3.0 * (np.arange(14) >= s0))[s:].mean() - (v + 3.0 * (np.arange(14) >= s0))[:s].mean()
                        for v, s, s0 in zip(values, tier_starts, starts)])

    members = [tuple(slot[order.index(i)] for i in range(3))
               for order in permutations(range(3)) for slot in product(*[range(a, b + 1) for a, b in windows])]
    observed = statistic(starts)
    expected = sum(statistic(m) >= observed - 1e-9 for m in members) / len(members)
    assert result["pValue"] == pytest.approx(expected)
    assert [row["difference"] for row in result["effectSizes"]["tiers"]] == pytest.approx([3.0] * 3, abs=0.3)
    assert result["wwcDesignStandard"]["standard"] == "multiple baseline"


def test_a_multiple_baseline_tier_without_a_window_is_refused_by_name():
    tiers = _tiers([4, 6, 10], [(3, 4), (6, 7), (9, 10)], 14, [3.0] * 3)
    tiers.loc[tiers.tier == "y", ["start_window_earliest", "start_window_latest"]] = pd.NaT
    protocol = replace(PROTOCOL, design_type="MULTIPLE_BASELINE", multiple_baseline_scheme="marascuilo_busk")
    days = _days([("x baseline", "A", 4, None), ("x intervention", "B", 10, None)], np.zeros(14))
    with pytest.raises(AnalysisError, match="tier 'y' has no startWindow; the marascuilo_busk scheme"):
        analyse_randomization(ProtocolData(protocol, days, tiers), "study_minutes", **RUN)


@pytest.mark.parametrize("design_type", ["ALTERNATING", "CHANGING_CRITERION"])
def test_the_its_and_the_monitoring_plan_say_why_they_do_not_run_on_designs_they_do_not_fit(design_type):
    data = ProtocolData(replace(PROTOCOL, design_type=design_type), _days([("a", "A", 5, None)], np.ones(5)))
    its = analyse_its(data, "study_minutes", pd.DataFrame(index=data.days.index), seed=0, draws=10, tune=10, chains=1)
    sequential = analyse_sequential(data, "study_minutes", spending_function="obrien_fleming", alpha=None)
    for analysis, names in ((its, "its randomization test"), (sequential, "test is the confirmatory analysis")):
        assert analysis.result["notRun"] is True and analysis.figures == () and analysis.metrics == {}
        assert analysis.summary == f"not run: {analysis.result['reason']}" and names in analysis.result["reason"]
