"""The analysis layer's rules, on protocols built in memory: the metric under pre-registration, the tested
direction, the ITS conditions of a reversal design, and which days a phase design observes."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.inputs import (
    REGISTERED,
    analysis_role,
    chosen_alternative,
    chosen_metric,
    its_conditions,
    moved_covariates,
    phase_observations,
    planned_changes,
)
from americano_pipeline.analysis.protocol import Protocol, ProtocolData

PHASES = {"A": ("baseline", "BASELINE"), "B": ("intervention", "INTERVENTION_A"), "W": ("washout", "WASHOUT")}


def protocol_data(sequence: str, lengths: list[int], values=None) -> ProtocolData:
    """A protocol whose phases follow ``sequence`` (A, B, W = washout) with ``lengths`` days, from 2026-03-02."""
    rows, counts = [], {}
    for number, (code, length) in enumerate(zip(sequence, lengths), start=1):
        counts[code] = counts.get(code, 0) + 1
        label, phase_type = PHASES[code]
        rows += [{"phase_number": number, "phase_label": f"{label}_{counts[code]}", "phase_type": phase_type,
                  "condition": None if code == "W" else code}] * length
    days = pd.DataFrame(rows, index=pd.date_range("2026-03-02", periods=len(rows), name="date"))
    days["engagement_score"] = np.arange(len(rows), dtype=float) if values is None else values
    protocol = Protocol(protocol_id="c" + "p" * 24, user_id="c" + "u" * 24, name="test", design_type="ABAB",
                        primary_outcome="engagement_score", hypothesis="Rewards raise engagement_score.",
                        min_phase_length=3, sample_size_target=len(rows), start_date=date(2026, 3, 2),
                        end_date=None, phase_sequence=sequence, confirmatory="phase_randomization_test",
                        alternative="greater", alpha=0.05)
    return ProtocolData(protocol, days)


def test_the_registered_direction_is_tested_unless_an_exploratory_run_tests_another():
    protocol = protocol_data("AB", [5, 5]).protocol
    assert chosen_alternative(protocol, "m", REGISTERED, exploratory=False) == "greater"
    assert chosen_alternative(protocol, "m", "greater", exploratory=False) == "greater"
    assert chosen_alternative(protocol, "m", "two-sided", exploratory=True) == "two-sided"
    with pytest.raises(AnalysisError, match="the registered alternative is 'greater'; testing 'less' instead is only "
                                            "possible as an explicitly labelled exploratory run"):
        chosen_alternative(protocol, "m", "less", exploratory=False)


def test_the_registered_confirmatory_analysis_is_the_one_confirmatory_result():
    protocol = protocol_data("AB", [5, 5]).protocol
    confirmatory = analysis_role(protocol, "phase_randomization_test", exploratory=False)
    supportive = analysis_role(protocol, "bayesian_its", exploratory=False)
    exploratory = analysis_role(protocol, "phase_randomization_test", exploratory=True)
    assert [confirmatory.name, supportive.name, exploratory.name] == ["confirmatory", "supportive", "exploratory"]
    assert "phase_randomization_test (greater, alpha 0.05)" in confirmatory.multiplicity
    assert "not adjusted for multiplicity" in supportive.multiplicity
    assert "confirms nothing" in exploratory.multiplicity


def test_the_registered_outcome_is_analysed_unless_an_exploratory_run_names_another():
    protocol = protocol_data("AB", [5, 5]).protocol
    assert chosen_metric(protocol, "m", None, exploratory=False) == "engagement_score"
    assert chosen_metric(protocol, "m", "study_minutes", exploratory=True) == "study_minutes"
    with pytest.raises(AnalysisError, match="pre-registered primaryOutcome is 'engagement_score'"):
        chosen_metric(protocol, "m", "study_minutes", exploratory=False)
    with pytest.raises(AnalysisError, match="exploratory run must name the metric"):
        chosen_metric(protocol, "m", None, exploratory=True)
    with pytest.raises(AnalysisError, match="'focus' is not in the metric catalogue"):
        chosen_metric(protocol, "m", "focus", exploratory=True)


def test_the_its_conditions_are_every_day_s_condition_with_washouts_marked():
    assert its_conditions(protocol_data("AWB", [2, 1, 3])) == ["A", "A", "W", "B", "B", "B"]


def test_phase_observations_leave_out_washout_and_unmeasured_days_and_count_them():
    values = np.arange(13, dtype=float)
    values[1] = np.nan
    observations = phase_observations(protocol_data("AWB", [4, 3, 6], values), "engagement_score")
    assert observations.labels == ("A",) * 3 + ("B",) * 6
    assert list(observations.values) == [0.0, 2.0, 3.0, *range(7, 13)]
    assert (observations.washout_days, observations.missing_days) == (3, ("2026-03-03",))


def test_planned_changes_are_the_first_day_of_every_later_phase():
    assert planned_changes(protocol_data("AWB", [4, 3, 6])) == [pd.Timestamp("2026-03-06"),
                                                                 pd.Timestamp("2026-03-09")]


def test_a_covariate_the_intervention_moves_is_named_and_a_steady_one_is_not():
    data = protocol_data("ABAB", [7, 6, 5, 8])
    rng = np.random.default_rng(4)
    steady = rng.normal(7.0, 0.5, len(data.days))
    mediator = steady + np.where(data.days["condition"].eq("B"), 1.0, 0.0)
    covariates = pd.DataFrame({"sleep_hours": steady, "hrv_score": mediator}, index=data.days.index)
    moved = moved_covariates(covariates, its_conditions(data))
    assert list(moved) == ["hrv_score"] and moved["hrv_score"] > 1
