"""The design rules of docs/DESIGNS.md as Pandera checks: a valid cut of each of the four designs passes, and each
broken cut is reported by the failing row, the rule and a message naming the protocol and the phase."""

import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source.analysis_plan import AnalysisPlan
from tests.unit.checks.cuts import protocol_row, write_cut

PROTOCOL = f"c{1:024d}"
LATER = "2025-12-01"  # the protocol (2025-10-01 .. 2025-10-28) is over
ABAB_PLAN = AnalysisPlan("phase_randomization_test", "greater", 0.05).to_json()
MB_PLAN = AnalysisPlan("phase_randomization_test", "greater", 0.05, multiple_baseline_scheme="marascuilo_busk",
                       keys=frozenset({"multipleBaselineScheme"})).to_json()
CC_PLAN = ABAB_PLAN


def alternating_plan(limit: int | None) -> str:
    return AnalysisPlan("phase_randomization_test", "greater", 0.05, max_consecutive=limit,
                        keys=frozenset({"maxConsecutive"})).to_json()


def day(text: str | None) -> datetime | None:
    return text and datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def phase_id(row: int) -> str:
    return f"c{100 + row:024d}"


def phase(label: str, phase_type: str, start: str, end: str | None, **params) -> dict:
    """A phase row of protocol 1 (its id is set by position in ``run``)."""
    return {"protocolId": PROTOCOL, "phaseLabel": label, "phaseType": phase_type, "startDate": day(start),
            "endDate": day(end), "plannedDuration": 7, "randomizationSeed": 7,
            "interventionParams": json.dumps(params)}


def event(number: int, label: str, timestamp: str) -> dict:
    return {"id": f"c{900 + number:024d}", "userId": "c" + "u" * 24, "eventType": "SESSION_STARTED",
            "eventData": "{}", "timestamp": datetime.fromisoformat(timestamp).replace(tzinfo=timezone.utc),
            "experimentPhase": label}


def run(tmp_path, design: str, plan: str, phases: list[dict], *, events: tuple = (), today: str = LATER,
        end: str | None = "2025-10-28", **protocol_fields) -> dict:
    """The reports of a cut of one protocol of ``design`` with ``phases``, validated at noon (UTC) of ``today``."""
    protocol = protocol_row(1, plan, designType=design, startDate=day("2025-10-01"), endDate=day(end),
                            **protocol_fields)
    rows = [{**row, "id": phase_id(number)} for number, row in enumerate(phases)]
    files = write_cut(tmp_path, "s1", {"experiment_protocols": [protocol], "phase_assignments": rows,
                                       "behavioral_events": list(events)})
    now = pd.Timestamp(f"{today} 12:00", tz="UTC")
    return validate_cut({table: read_frame(f.path) for table, f in files.items()}, now)


def violations(reports: dict, table: str = "phase_assignments") -> set[tuple]:
    """(row, column, rule, value) of every violation in ``table``."""
    return set(reports[table].violations[["row", "column", "rule", "value"]].itertuples(index=False, name=None))


def failure(row: int, label: str, rule: str, reason: str) -> tuple:
    return row, "interventionParams", rule, f"protocol {PROTOCOL}: phase {phase_id(row)} ({label}) {reason}"


# --- the four designs, valid -------------------------------------------------------------------------------------

ABAB = [phase("baseline_1", "BASELINE", "2025-10-01", "2025-10-07", reward=0.15),
        phase("intervention_1", "INTERVENTION_A", "2025-10-08", "2025-10-14", reward=0.2),
        phase("baseline_2", "BASELINE", "2025-10-15", "2025-10-21", reward=0.15),
        phase("intervention_2", "INTERVENTION_A", "2025-10-22", "2025-10-28", reward=0.2)]

# Two tiers overlapping in time, each a baseline then an intervention starting within its window; the primary
# outcome (study_minutes) is measured by the tier "minutes".
MB = [phase("minutes_baseline", "BASELINE", "2025-10-01", "2025-10-08", tier="minutes", outcome="study_minutes"),
      phase("minutes_intervention", "INTERVENTION_A", "2025-10-09", "2025-10-28", tier="minutes",
            outcome="study_minutes", startWindow=["2025-10-07", "2025-10-10"], reminder="19:00"),
      phase("sessions_baseline", "BASELINE", "2025-10-01", "2025-10-14", tier="sessions", outcome="session_count"),
      phase("sessions_intervention", "INTERVENTION_B", "2025-10-15", "2025-10-28", tier="sessions",
            outcome="session_count", startWindow=["2025-10-15", "2025-10-18"])]
MB_FIELDS = {"primaryOutcome": "study_minutes", "minPhaseLength": 5}

# Runs of at most 2 days per condition: adjacent phases of one condition join a run; a washout ends a run.
ALTERNATING = [phase("a_1", "BASELINE", "2025-10-01", "2025-10-02"),
               phase("b_1", "INTERVENTION_A", "2025-10-03", "2025-10-03"),
               phase("b_2", "INTERVENTION_A", "2025-10-04", "2025-10-04"),
               phase("a_2", "BASELINE", "2025-10-05", "2025-10-05"),
               phase("washout", "WASHOUT", "2025-10-06", "2025-10-06"),
               phase("a_3", "BASELINE", "2025-10-07", "2025-10-08")]
ALTERNATING_FIELDS = {"minPhaseLength": 1}
ALTERNATING_END = "2025-10-08"

CC = [phase("baseline", "BASELINE", "2025-10-01", "2025-10-07"),
      phase("criterion_1", "INTERVENTION_A", "2025-10-08", "2025-10-14", criterion=10),
      phase("criterion_2", "INTERVENTION_A", "2025-10-15", "2025-10-21", criterion=20.5),
      phase("criterion_3", "INTERVENTION_A", "2025-10-22", "2025-10-28", criterion=30)]


def with_params(phases: list[dict], row: int, **changes) -> list[dict]:
    """``phases`` with the interventionParams of ``row`` changed (a value None drops the key)."""
    params = {**json.loads(phases[row]["interventionParams"]), **changes}
    params = {key: value for key, value in params.items() if value is not None}
    return [*phases[:row], {**phases[row], "interventionParams": json.dumps(params)}, *phases[row + 1:]]


def with_fields(phases: list[dict], row: int, **fields) -> list[dict]:
    return [*phases[:row], {**phases[row], **fields}, *phases[row + 1:]]


VALID = [("ABAB", "ABAB", ABAB_PLAN, ABAB, "2025-10-28", {}),
         ("MULTIPLE_BASELINE", "MULTIPLE_BASELINE", MB_PLAN, MB, "2025-10-28", MB_FIELDS),
         ("ALTERNATING", "ALTERNATING", alternating_plan(2), ALTERNATING, ALTERNATING_END, ALTERNATING_FIELDS),
         ("ALTERNATING without a run limit", "ALTERNATING", alternating_plan(None),
          with_fields(ALTERNATING, 2, phaseType="BASELINE"), ALTERNATING_END, ALTERNATING_FIELDS),
         ("CHANGING_CRITERION", "CHANGING_CRITERION", CC_PLAN, CC, "2025-10-28", {})]


@pytest.mark.parametrize("case, design, plan, phases, end, fields", VALID, ids=[c[0] for c in VALID])
def test_a_valid_cut_of_each_design_passes(tmp_path, case, design, plan, phases, end, fields):
    reports = run(tmp_path, design, plan, phases, end=end, **fields)
    assert {table: report.summary() for table, report in reports.items() if not report.passed} == {}


# --- the plan ----------------------------------------------------------------------------------------------------

PLAN_CASES = [
    ("MULTIPLE_BASELINE", ABAB_PLAN, MB, MB_FIELDS,
     "the analysisPlan of a protocol of design MULTIPLE_BASELINE needs multipleBaselineScheme (docs/DESIGNS.md)"),
    ("ALTERNATING", ABAB_PLAN, ALTERNATING, ALTERNATING_FIELDS,
     "the analysisPlan of a protocol of design ALTERNATING needs maxConsecutive (docs/DESIGNS.md)"),
    ("ABAB", alternating_plan(2), ABAB, {}, "maxConsecutive belongs to another design, not to ABAB"),
    ("CHANGING_CRITERION", MB_PLAN, CC, {},
     "multipleBaselineScheme belongs to another design, not to CHANGING_CRITERION"),
]


@pytest.mark.parametrize("design, plan, phases, fields, reason", PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_a_plan_that_does_not_fit_the_design_is_named(tmp_path, design, plan, phases, fields, reason):
    reports = run(tmp_path, design, plan, phases, end=phases[-1]["endDate"].date().isoformat(), **fields)
    assert violations(reports, "experiment_protocols") == {
        (0, "analysisPlan", "analysis_plan_fits_design", f"protocol {PROTOCOL}: {reason}")}
    assert "analysisPlan analysis_plan_fits_design" in reports["experiment_protocols"].summary()


def test_a_plan_that_does_not_parse_fails_only_its_own_rule(tmp_path):
    reports = run(tmp_path, "MULTIPLE_BASELINE", "not a plan", MB, **MB_FIELDS)
    assert {rule for _, _, rule, _ in violations(reports, "experiment_protocols")} == {"registered_analysis_plan"}


# --- the phases --------------------------------------------------------------------------------------------------

MB_CASES = [
    ("a tier without its outcome", with_params(MB, 2, outcome=None),
     {failure(2, "sessions_baseline", "tier_and_outcome_recorded", "lacks outcome")}),
    ("a tier that is not a name", with_params(MB, 0, tier=1),
     {failure(0, "minutes_baseline", "tier_and_outcome_recorded", "has tier 1, not a name"),
      failure(1, "minutes_intervention", "tier_baseline_then_intervention", "in tier 'minutes': the tier's phases "
              "are INTERVENTION_A (by startDate), not one BASELINE phase then one INTERVENTION phase")}),
    ("an outcome outside the catalogue", with_params(with_params(MB, 2, outcome="happiness"), 3, outcome="happiness"),
     {failure(row, label, "tier_outcome_in_catalogue", "measures 'happiness', not a metric of the catalogue "
              "(engagement_score, session_count, study_minutes, completion_rate, mean_performance, streak_days)")
      for row, label in ((2, "sessions_baseline"), (3, "sessions_intervention"))}),
    ("a tier whose phases measure two outcomes", with_params(MB, 3, outcome="completion_rate"),
     {failure(row, label, "tier_outcomes_distinct", f"in tier 'sessions' measures {outcome!r}, but its tier's "
              "phases measure 'completion_rate', 'session_count'; each tier measures one outcome of its own")
      for row, label, outcome in ((2, "sessions_baseline", "session_count"),
                                  (3, "sessions_intervention", "completion_rate"))}),
    ("two tiers measuring the primary outcome",
     with_params(with_params(MB, 2, outcome="study_minutes"), 3, outcome="study_minutes"),
     {failure(row, label, "tier_outcomes_distinct", f"in tier {tier!r} measures 'study_minutes', but tier "
              f"{other!r} measures it too; each tier measures one outcome of its own")
      for row, label, tier, other in ((0, "minutes_baseline", "minutes", "sessions"),
                                      (1, "minutes_intervention", "minutes", "sessions"),
                                      (2, "sessions_baseline", "sessions", "minutes"),
                                      (3, "sessions_intervention", "sessions", "minutes"))}
     | {failure(row, label, "one_tier_measures_primary_outcome", f"in tier {tier!r}: tiers 'minutes', 'sessions' "
                "all measure the primaryOutcome 'study_minutes'; exactly one may")
        for row, label, tier in ((0, "minutes_baseline", "minutes"), (1, "minutes_intervention", "minutes"),
                                 (2, "sessions_baseline", "sessions"), (3, "sessions_intervention", "sessions"))}),
    ("no tier measuring the primary outcome", with_params(with_params(MB, 0, outcome="streak_days"), 1,
                                                          outcome="streak_days"),
     {failure(row, label, "one_tier_measures_primary_outcome", f"in tier {tier!r}: no tier measures the "
              "primaryOutcome 'study_minutes'; exactly one must")
      for row, label, tier in ((0, "minutes_baseline", "minutes"), (1, "minutes_intervention", "minutes"),
                               (2, "sessions_baseline", "sessions"), (3, "sessions_intervention", "sessions"))}),
    ("a tier that never leaves its finished baseline",
     MB[:2] + [with_fields(MB, 2, endDate=day("2025-10-28"))[2]],
     {failure(2, "sessions_baseline", "tier_baseline_then_intervention", "in tier 'sessions': the tier's phases "
              "are BASELINE (by startDate), not one BASELINE phase then one INTERVENTION phase")}),
    ("a tier with a washout between its phases",
     MB[:3] + [phase("sessions_washout", "WASHOUT", "2025-10-15", "2025-10-19", tier="sessions",
                     outcome="session_count"),
               with_fields(with_params(MB, 3, startWindow=["2025-10-18", "2025-10-21"]), 3,
                           startDate=day("2025-10-20"))[3]],
     {failure(row, label, "tier_baseline_then_intervention", "in tier 'sessions': the tier's phases are "
              "BASELINE, WASHOUT, INTERVENTION_B (by startDate), not one BASELINE phase then one INTERVENTION phase")
      for row, label in ((2, "sessions_baseline"), (3, "sessions_washout"), (4, "sessions_intervention"))}),
    ("an intervention starting outside its window", with_params(MB, 1, startWindow=["2025-10-11", "2025-10-13"]),
     {failure(1, "minutes_intervention", "tier_start_within_window",
              "has startWindow 2025-10-11..2025-10-13 but starts 2025-10-09")}),
    ("an intervention without a window", with_params(MB, 3, startWindow=None),
     {failure(3, "sessions_intervention", "tier_start_within_window",
              "has no startWindow (the days its tier's start was drawn from)")}),
    ("a window that is not two ISO dates in order", with_params(MB, 3, startWindow=["2025-10-18", "2025-10-15"]),
     {failure(3, "sessions_intervention", "tier_start_within_window",
              'has startWindow ["2025-10-18", "2025-10-15"], not two ISO dates [earliest, latest]')}),
    ("a window on a baseline", with_params(MB, 0, startWindow=["2025-10-01", "2025-10-02"]),
     {failure(0, "minutes_baseline", "tier_start_within_window",
              "is a BASELINE phase with a startWindow; only its tier's INTERVENTION phase records one")}),
]


@pytest.mark.parametrize("case, phases, expected", MB_CASES, ids=[c[0] for c in MB_CASES])
def test_each_multiple_baseline_rule_names_the_protocol_and_the_phase(tmp_path, case, phases, expected):
    assert violations(run(tmp_path, "MULTIPLE_BASELINE", MB_PLAN, phases, **MB_FIELDS)) == expected


def test_phases_of_one_tier_still_must_not_overlap(tmp_path):
    phases = with_fields(MB, 0, endDate=day("2025-10-09"))
    assert violations(run(tmp_path, "MULTIPLE_BASELINE", MB_PLAN, phases, **MB_FIELDS)) == {
        (0, "startDate", "phases_do_not_overlap",
         f"protocol {PROTOCOL}: minutes_baseline overlaps minutes_intervention"),
        (1, "startDate", "phases_do_not_overlap",
         f"protocol {PROTOCOL}: minutes_intervention overlaps minutes_baseline")}


def test_a_tier_still_in_its_running_baseline_of_an_ongoing_protocol_passes(tmp_path):
    phases = MB[:2] + [with_fields(MB, 2, endDate=None)[2]]
    assert violations(run(tmp_path, "MULTIPLE_BASELINE", MB_PLAN, phases, end=None, today="2025-10-12",
                          **MB_FIELDS)) == set()


def test_events_labelled_with_the_primary_tiers_phase_are_checked_against_its_days(tmp_path):
    events = (event(1, "minutes_baseline", "2025-10-02T09:00"), event(2, "minutes_intervention", "2025-10-20T09:00"),
              event(3, "minutes_baseline", "2025-10-20T10:00"))
    reports = run(tmp_path, "MULTIPLE_BASELINE", MB_PLAN, MB, events=events, **MB_FIELDS)
    assert violations(reports) == set()
    assert violations(reports, "behavioral_events") == {
        (2, "experimentPhase", "experiment_phase_exists_at_event_time", "minutes_baseline")}


ALTERNATING_CASES = [
    ("a run of three A days over two phases", with_fields(ALTERNATING, 1, phaseType="BASELINE"), 2,
     {failure(1, "b_1", "runs_within_max_consecutive", "brings a run of condition A to 3 consecutive days "
              "(2025-10-01..2025-10-03), more than maxConsecutive 2")}),
    ("a run of B days over three phases, named where it passes the limit",
     with_fields(ALTERNATING, 3, phaseType="INTERVENTION_B"), 2,
     {failure(3, "a_2", "runs_within_max_consecutive", "brings a run of condition B to 3 consecutive days "
              "(2025-10-03..2025-10-05), more than maxConsecutive 2")}),
    ("one phase longer than the limit", ALTERNATING, 1,
     {failure(0, "a_1", "runs_within_max_consecutive", "brings a run of condition A to 2 consecutive days "
              "(2025-10-01..2025-10-02), more than maxConsecutive 1"),
      failure(2, "b_2", "runs_within_max_consecutive", "brings a run of condition B to 2 consecutive days "
              "(2025-10-03..2025-10-04), more than maxConsecutive 1"),
      failure(5, "a_3", "runs_within_max_consecutive", "brings a run of condition A to 2 consecutive days "
              "(2025-10-07..2025-10-08), more than maxConsecutive 1")}),
]


@pytest.mark.parametrize("case, phases, limit, expected", ALTERNATING_CASES, ids=[c[0] for c in ALTERNATING_CASES])
def test_a_run_longer_than_max_consecutive_names_the_phase_that_makes_it(tmp_path, case, phases, limit, expected):
    reports = run(tmp_path, "ALTERNATING", alternating_plan(limit), phases, end=ALTERNATING_END,
                  **ALTERNATING_FIELDS)
    assert violations(reports) == expected


def test_a_day_without_a_phase_ends_a_run(tmp_path):
    phases = [phase("a_1", "BASELINE", "2025-10-01", "2025-10-02"), phase("a_2", "BASELINE", "2025-10-04", None)]
    assert violations(run(tmp_path, "ALTERNATING", alternating_plan(2), phases, end="2025-10-05",
                          **ALTERNATING_FIELDS)) == set()


CC_CASES = [
    ("a first phase that is no baseline", CC[1:],
     {failure(0, "criterion_1", "criterion_design_starts_with_baseline", "is the first phase but a INTERVENTION_A "
              "phase; a changing-criterion protocol starts with a BASELINE phase")}),
    ("a baseline with a criterion", with_params(CC, 0, criterion=5),
     {failure(0, "baseline", "criterion_design_starts_with_baseline",
              "is the baseline but records criterion 5; the baseline has none")}),
    ("an intervention without a criterion", with_params(CC, 2, criterion=None),
     {failure(2, "criterion_2", "criterion_phase_has_criterion",
              "records no criterion (the level the behaviour should meet)")}),
    ("a criterion that is no number", with_params(CC, 2, criterion="high"),
     {failure(2, "criterion_2", "criterion_phase_has_criterion", 'has criterion "high", not a finite number')}),
    ("a criterion that does not change", with_params(CC, 2, criterion=10.0),
     {failure(2, "criterion_2", "criterion_changes_between_phases",
              "has criterion 10.0, as the phase before it (criterion_1) does; adjacent criteria differ")}),
]


@pytest.mark.parametrize("case, phases, expected", CC_CASES, ids=[c[0] for c in CC_CASES])
def test_each_changing_criterion_rule_names_the_protocol_and_the_phase(tmp_path, case, phases, expected):
    assert violations(run(tmp_path, "CHANGING_CRITERION", CC_PLAN, phases)) == expected


FOREIGN_CASES = [
    ("a criterion on an ABAB phase", "ABAB", ABAB_PLAN, with_params(ABAB, 1, criterion=3), {}, "2025-10-28",
     failure(1, "intervention_1", "design_keys_belong_to_design",
             "records criterion (a CHANGING_CRITERION key) but its protocol is ABAB")),
    ("a tier and a window on a changing-criterion phase", "CHANGING_CRITERION", CC_PLAN,
     with_params(CC, 1, tier="t", startWindow=["2025-10-08", "2025-10-09"]), {}, "2025-10-28",
     failure(1, "criterion_1", "design_keys_belong_to_design", "records tier (a MULTIPLE_BASELINE key), startWindow "
             "(a MULTIPLE_BASELINE key) but its protocol is CHANGING_CRITERION")),
    ("a criterion on a multiple-baseline phase", "MULTIPLE_BASELINE", MB_PLAN, with_params(MB, 1, criterion=3),
     MB_FIELDS, "2025-10-28", failure(1, "minutes_intervention", "design_keys_belong_to_design",
                                      "records criterion (a CHANGING_CRITERION key) but its protocol is "
                                      "MULTIPLE_BASELINE")),
    ("a tier on an alternating phase", "ALTERNATING", alternating_plan(2), with_params(ALTERNATING, 0, tier="t"),
     ALTERNATING_FIELDS, ALTERNATING_END, failure(0, "a_1", "design_keys_belong_to_design",
                                                  "records tier (a MULTIPLE_BASELINE key) but its protocol is "
                                                  "ALTERNATING")),
]


@pytest.mark.parametrize("case, design, plan, phases, fields, end, expected", FOREIGN_CASES,
                         ids=[c[0] for c in FOREIGN_CASES])
def test_another_designs_key_on_a_phase_is_refused(tmp_path, case, design, plan, phases, fields, end, expected):
    assert violations(run(tmp_path, design, plan, phases, end=end, **fields)) == {expected}


def test_the_report_names_the_failing_phase_row_and_rule(tmp_path):
    phases = with_params(MB, 1, startWindow=["2025-10-11", "2025-10-13"])
    report = run(tmp_path, "MULTIPLE_BASELINE", MB_PLAN, phases, **MB_FIELDS)["phase_assignments"]
    assert report.failing_rows == [1]
    assert report.counts() == {"interventionParams: tier_start_within_window": 1}
    assert report.summary().startswith(
        f"phase_assignments: 1 of 4 rows fail: interventionParams tier_start_within_window (e.g. id {phase_id(1)} "
        f"value 'protocol {PROTOCOL}: phase ")
    assert list(report.violations["value"]) == [
        f"protocol {PROTOCOL}: phase {phase_id(1)} (minutes_intervention) has startWindow 2025-10-11..2025-10-13 but "
        "starts 2025-10-09"]
