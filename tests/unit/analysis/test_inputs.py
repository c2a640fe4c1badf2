"""The analysis layer's rules, on protocols built in memory: the metric under pre-registration, the tested
direction, the ITS window of a reversal design, and which days a phase design observes."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.inputs import (
    chosen_metric,
    hypothesis_alternative,
    its_window,
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
                        end_date=None, phase_sequence=sequence)
    return ProtocolData(protocol, days)


@pytest.mark.parametrize("hypothesis, expected", [
    ("Raising the reward probability raises daily engagement_score.", "greater"),
    ("Reducing screen time before bed lowers engagement_score.", "less"),
    ("Background music changes engagement_score.", "two-sided"),
    ("A study of engagement_score under background music.", "two-sided"),
    ("Reducing screen time raises engagement_score.", "greater"),  # the verb that governs the outcome decides
])
def test_the_tested_direction_follows_the_verb_that_governs_the_outcome(hypothesis, expected):
    assert hypothesis_alternative(hypothesis, "engagement_score") == expected


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


def test_the_its_window_of_an_abab_design_is_the_first_pair_with_its_withdrawal():
    window = its_window(protocol_data("ABAB", [7, 6, 5, 8]), "bayesian_its")
    assert window.to_dict() == {"start": "2026-03-02", "intervention": "2026-03-09", "treatmentEnd": "2026-03-15",
                                "end": "2026-03-19", "prePhase": "baseline_1", "treatmentPhase": "intervention_1",
                                "withdrawalPhases": ["baseline_2"]}


def test_the_its_window_of_an_ab_design_has_no_treatment_end():
    window = its_window(protocol_data("AB", [10, 12]), "bayesian_its")
    assert (window.treatment_end, window.end) == (None, pd.Timestamp("2026-03-23"))


def test_a_design_without_a_baseline_before_the_intervention_has_no_its_window():
    with pytest.raises(AnalysisError, match="no baseline \\(A\\) phase is followed by an intervention \\(B\\) "
                                            "phase in the observed phases 'BA'"):
        its_window(protocol_data("BA", [5, 5]), "bayesian_its")


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
