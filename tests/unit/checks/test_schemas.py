"""The Pandera rules a Prisma-managed database does not enforce, here the registered analysis plan and the rules for
a protocol's phases, reported with the row and the reason."""

from datetime import datetime, timezone

import pandas as pd
import pytest

from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source.analysis_plan import AnalysisPlan
from tests.unit.checks.cuts import phase_row, protocol_row, write_cut

PLAN = AnalysisPlan("phase_randomization_test", "greater", 0.05).to_json()
PROTOCOL = f"c{1:024d}"
# The registered ABAB schedule of one protocol (2025-10-01 .. 2025-10-28, minPhaseLength 5): four 7-day phases.
SCHEDULE = (("baseline_1", "2025-10-01", "2025-10-07"), ("intervention_1", "2025-10-08", "2025-10-14"),
            ("baseline_2", "2025-10-15", "2025-10-21"), ("intervention_2", "2025-10-22", "2025-10-28"))
LATER = "2025-12-01"  # the protocol is over


def test_a_protocol_without_a_registered_plan_is_named_with_the_reason(tmp_path):
    files = write_cut(tmp_path, "s1", {"experiment_protocols": [protocol_row(1, PLAN),
                                                                 protocol_row(2, "Randomization test, alpha 0.05")]})
    report = validate_cut({table: read_frame(f.path) for table, f in files.items()})["experiment_protocols"]
    assert report.failing_rows == [1]
    assert report.summary() == (
        "experiment_protocols: 1 of 2 rows fail: analysisPlan registered_analysis_plan (e.g. id "
        f"c{2:024d} value 'not a JSON object')")


def day(text: str | None) -> datetime | None:
    return text and datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def with_phase(label: str, start: str, end: str | None) -> tuple:
    """SCHEDULE with the phase ``label`` re-dated, or added after the others when SCHEDULE has no such label."""
    kept = tuple(phase for phase in SCHEDULE if phase[0] != label)
    position = next((i for i, phase in enumerate(SCHEDULE) if phase[0] == label), len(SCHEDULE))
    return kept[:position] + ((label, start, end),) + kept[position:]


def phase_violations(tmp_path, phases: tuple, *, protocol_end: str | None, today: str) -> set[tuple]:
    """(row, column, rule, value) of every violation in phase_assignments, validated at noon (UTC) of ``today``."""
    protocol = protocol_row(1, PLAN, startDate=day("2025-10-01"), endDate=day(protocol_end))
    rows = [phase_row(100 + number, 1, label, day(start), day(end))
            for number, (label, start, end) in enumerate(phases)]
    files = write_cut(tmp_path, "s1", {"experiment_protocols": [protocol], "phase_assignments": rows})
    now = pd.Timestamp(f"{today} 12:00", tz="UTC")
    report = validate_cut({table: read_frame(f.path) for table, f in files.items()}, now)["phase_assignments"]
    return set(report.violations[["row", "column", "rule", "value"]].itertuples(index=False, name=None))


def outside(row: int, label: str, how: str) -> tuple:
    return row, "startDate", "phase_within_protocol_dates", f"protocol {PROTOCOL}: {label} {how}"


def short(row: int, label: str, days: int) -> tuple:
    return row, "endDate", "phase_meets_min_phase_length", f"protocol {PROTOCOL}: {label} lasts {days} days (min 5)"


# (case, phases, protocol endDate, today, expected violations)
PHASE_CASES = [
    ("the registered schedule", SCHEDULE, "2025-10-28", LATER, set()),
    ("a rogue phase before the protocol", with_phase("baseline_0", "2025-09-20", "2025-09-25"), "2025-10-28", LATER,
     {outside(4, "baseline_0", "starts before the protocol")}),
    ("a phase past the protocol's end", with_phase("intervention_2", "2025-10-22", "2025-10-30"), "2025-10-28",
     LATER, {outside(3, "intervention_2", "runs past the protocol's end")}),
    ("an open phase after the protocol ended", with_phase("follow_up", "2025-10-29", None), "2025-10-28", LATER,
     {outside(4, "follow_up", "runs past the protocol's end"), short(4, "follow_up", 0)}),
    ("a finished phase shorter than minPhaseLength",
     with_phase("baseline_2", "2025-10-15", "2025-10-18")[:3] + (("intervention_2", "2025-10-19", "2025-10-28"),),
     "2025-10-28", LATER, {short(2, "baseline_2", 4)}),
    ("the running last phase of an ongoing protocol, open", with_phase("intervention_2", "2025-10-22", None), None,
     "2025-10-24", set()),
    ("the running last phase, ending in the future", with_phase("intervention_2", "2025-10-22", "2025-10-25"), None,
     "2025-10-24", set()),
    ("the same last phase once it has ended", with_phase("intervention_2", "2025-10-22", "2025-10-25"), None,
     "2025-10-26", {short(3, "intervention_2", 4)}),
    ("a running phase that is not the last", SCHEDULE[:1] + (("intervention_1", "2025-10-08", "2025-10-10"),
                                                             ("baseline_2", "2025-10-11", None)), None,
     "2025-10-09", {short(1, "intervention_1", 3)}),
    ("an open last phase measured to the protocol's end", with_phase("intervention_2", "2025-10-22", None),
     "2025-10-24", LATER, {short(3, "intervention_2", 3)}),
    ("the phases of a protocol that ends before it starts, which its own rule reports", SCHEDULE, "2025-09-30",
     LATER, set()),
    ("overlapping phases", with_phase("baseline_1", "2025-10-01", "2025-10-08"), "2025-10-28", LATER,
     {(0, "startDate", "phases_do_not_overlap", f"protocol {PROTOCOL}: baseline_1 overlaps intervention_1"),
      (1, "startDate", "phases_do_not_overlap", f"protocol {PROTOCOL}: intervention_1 overlaps baseline_1")}),
]


@pytest.mark.parametrize("case, phases, protocol_end, today, expected", PHASE_CASES, ids=[c[0] for c in PHASE_CASES])
def test_each_phase_rule_names_the_protocol_and_the_phase(tmp_path, case, phases, protocol_end, today, expected):
    assert phase_violations(tmp_path, phases, protocol_end=protocol_end, today=today) == expected


def test_a_phase_of_zero_days_fails_even_as_the_last_phase_of_an_ongoing_protocol(tmp_path):
    phases = with_phase("intervention_2", "2025-10-22", "2025-10-21")
    assert phase_violations(tmp_path, phases, protocol_end=None, today="2025-10-22") == {
        short(3, "intervention_2", 0),
        (3, "endDate", "endDate_not_before_startDate", pd.Timestamp("2025-10-21", tz="UTC"))}
