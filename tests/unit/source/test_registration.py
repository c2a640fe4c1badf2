"""Registering a protocol from a YAML file (`americano protocol`): every design's example validates, every problem
is named by its field and all of them are listed, a design that cannot reach its alpha is refused with the
arithmetic, and a recorded seed draws the same schedule again."""

import copy
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from americano_pipeline.checks.schemas import metric_catalogue
from americano_pipeline.cli import main
from americano_pipeline.commands.protocol import draw_schedule, load, prepare
from americano_pipeline.source.registration import RegistrationError, parse_protocol

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "protocols"
ABAB = EXAMPLES / "abab_reward.yaml"
MB = EXAMPLES / "multiple_baseline_goal_setting.yaml"
ALTERNATING = EXAMPLES / "alternating_retrieval.yaml"
CC = EXAMPLES / "changing_criterion_minutes.yaml"


def example(path: Path) -> dict:
    return copy.deepcopy(load(path))


def problems(doc) -> list[str]:
    with pytest.raises(RegistrationError) as refused:
        prepare(doc)
    return refused.value.problems


def layout(registration) -> list[tuple]:
    return [(p.label, p.phase_type, p.start, p.end, json.dumps(p.params)) for p in registration.schedule.phases]


@pytest.mark.parametrize("path, design, n_phases", [
    (ABAB, "ABAB", 4), (MB, "MULTIPLE_BASELINE", 6), (CC, "CHANGING_CRITERION", 4), (ALTERNATING, "ALTERNATING", None),
])
def test_each_designs_example_validates(path, design, n_phases):
    registration = prepare(example(path))
    assert registration.spec.design_type == design and registration.alpha.reachable
    assert not registration.seed_drawn
    if n_phases:
        assert len(registration.phases) == n_phases
    protocol = registration.protocol
    assert re.fullmatch(r"c[a-z0-9]{24}", protocol["id"])
    assert protocol["sampleSizeTarget"] == registration.spec.total_days
    assert (protocol["endDate"] - protocol["startDate"]).days + 1 == registration.spec.total_days
    assert {phase["randomizationSeed"] for phase in registration.phases} == {registration.spec.randomization_seed}
    assert {phase["protocolId"] for phase in registration.phases} == {protocol["id"]}
    days = sum(phase["plannedDuration"] for phase in registration.phases)
    tiers = len(registration.spec.tiers) or 1
    assert days == registration.spec.total_days * tiers  # the phases cover the protocol (per tier)


def test_the_multiple_baseline_example_records_tiers_windows_and_scheme():
    registration = prepare(example(MB))
    plan = json.loads(registration.protocol["analysisPlan"])
    assert plan["multipleBaselineScheme"] == "koehler_levin" and plan["alpha"] == 0.05
    interventions = [phase for phase in registration.phases if phase["phaseType"] == "INTERVENTION_A"]
    assert sorted(phase["interventionParams"]["outcome"] for phase in interventions) == \
        ["engagement_score", "mean_performance", "study_minutes"]
    start = date(2027, 2, 1)
    windows = sorted(tuple(phase["interventionParams"]["startWindow"]) for phase in interventions)
    assert windows == [tuple(str(start + timedelta(days=d)) for d in pair) for pair in ((10, 14), (20, 24), (30, 34))]
    for phase in interventions:
        first, last = phase["interventionParams"]["startWindow"]
        assert first <= phase["startDate"].date().isoformat() <= last
    assert registration.alpha.n_assignments == 750


def test_a_fixed_seed_draws_the_same_schedule_twice_with_new_ids():
    first, second = prepare(example(ABAB)), prepare(example(ABAB))
    assert layout(first) == layout(second)
    assert first.protocol["id"] != second.protocol["id"]  # ids are fresh, never derived from the seed
    other = example(ABAB) | {"randomizationSeed": 1}
    assert layout(prepare(other)) != layout(first)


def test_an_absent_seed_is_drawn_and_recorded_so_it_draws_the_schedule_again():
    doc = example(CC)
    del doc["randomizationSeed"]
    registration = prepare(doc)
    assert registration.seed_drawn
    seed = registration.schedule.randomization_seed
    assert 1 <= seed < 2**31 and {phase["randomizationSeed"] for phase in registration.phases} == {seed}
    assert layout(prepare(doc | {"randomizationSeed": seed})) == layout(registration)


def test_an_ab_design_that_cannot_reach_its_alpha_is_refused_with_the_arithmetic():
    doc = example(ABAB) | {"phases": ["BASELINE", "INTERVENTION_A"], "totalDays": 44, "minPhaseLength": 14}
    [problem] = problems(doc)
    assert problem.startswith("analysisPlan.alpha: ")
    assert "1/17 = 0.0588 > alpha = 0.05" in problem
    assert "Smallest fixes: 47 observations with minimum phase 14" in problem


def _set(doc: dict, path: str, value):
    """``doc`` with the field at ``path`` ('analysisPlan.alpha', 'tiers[1].outcome') set (or deleted: ...)."""
    *parents, last = re.findall(r"[^.\[\]]+", path)
    target = doc
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    key = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return doc


@pytest.mark.parametrize("source, path, value, expected", [
    (ABAB, "userId", ..., "userId: required"),
    (ABAB, "userId", "  ", "userId: must be non-empty text, got '  '"),
    (ABAB, "protocolName", 3, "protocolName: must be non-empty text, got 3"),
    (ABAB, "designType", "AB", "designType: 'AB' is not one of ABAB, MULTIPLE_BASELINE, ALTERNATING, "
                               "CHANGING_CRITERION"),
    (ABAB, "primaryOutcome", "steps", "primaryOutcome: 'steps' is not a catalogue metric (engagement_score, "),
    (ABAB, "startDate", "2027-02-30", "startDate: '2027-02-30' is not a date (YYYY-MM-DD)"),
    (ABAB, "minPhaseLength", 0, "minPhaseLength: 0 is not a whole number from 1 to 365"),
    (ABAB, "totalDays", 2.5, "totalDays: 2.5 is not a whole number from 1 to 100000"),
    (ABAB, "totalDays", 19, "totalDays: 19 days cannot hold 4 phases of at least minPhaseLength 5 days (20 needed)"),
    (ABAB, "randomizationSeed", -1, "randomizationSeed: -1 is not a whole number from 0 to 2147483647"),
    (ABAB, "analysisPlan.alpha", 0.5, "analysisPlan.alpha: 0.5 is not a number in (0, 0.2]"),
    (ABAB, "analysisPlan.alpha", ..., "analysisPlan.alpha: required"),
    (ABAB, "analysisPlan.alternative", "up", "analysisPlan.alternative: 'up' is not one of greater, less, "
                                             "two-sided"),
    (ABAB, "analysisPlan.confirmatory", "t_test", "analysisPlan.confirmatory: 't_test' is not one of "),
    (ABAB, "analysisPlan.maxConsecutive", 2, "analysisPlan: maxConsecutive belongs to another design, not to ABAB"),
    (ABAB, "analysisPlan.power", 0.8, "analysisPlan.power: unknown key"),
    (ABAB, "conditions.B", ..., "conditions: must be a mapping of A (baseline) and B (intervention)"),
    (ABAB, "conditions.B.criterion", 5, "conditions.B.criterion: reserved: the design writes it"),
    (ABAB, "phases", ["BASELINE"], "phases: must list at least two phase types"),
    (ABAB, "phases.2", "WASHOUT", "phases[2]: WASHOUT is not drawn by registration yet"),
    (ABAB, "phases.2", "CONTROL", "phases[2]: 'CONTROL' is not one of BASELINE, INTERVENTION_A, INTERVENTION_B, "
                                  "WASHOUT"),
    (ABAB, "phases.1", "BASELINE", "phases[1]: BASELINE follows BASELINE; adjacent phases differ"),
    (ABAB, "criteria", [60, 70], "criteria: belongs to a CHANGING_CRITERION design, not to ABAB"),
    (ABAB, "consort.completed", 2, "consort.completed: 2 exceeds enrolled 1"),
    (ABAB, "blinding", "none", "blinding: unknown field"),
    (MB, "tiers.1.outcome", "steps", "tiers[1].outcome: 'steps' is not a catalogue metric (engagement_score, "),
    (MB, "tiers.1.outcome", "study_minutes", "tiers[1].outcome: 'study_minutes' is measured by another tier too"),
    (MB, "tiers.2.tier", "study time", "tiers[2].tier: 'study time' names another tier too"),
    (MB, "tiers.0.outcome", "session_count", "tiers: no tier measures primaryOutcome 'study_minutes'"),
    (MB, "analysisPlan.multipleBaselineScheme", ..., "analysisPlan: the analysisPlan of a protocol of design "
                                                     "MULTIPLE_BASELINE needs multipleBaselineScheme"),
    (MB, "analysisPlan.multipleBaselineScheme", "random", "analysisPlan.multipleBaselineScheme: 'random' is not one "
                                                          "of marascuilo_busk"),
    (MB, "startWindows.1", [24, 20], "startWindows[1]: must be [earliest, latest]"),
    (MB, "startWindows.2", ..., "startWindows: must list one [earliest, latest] day offset per tier (3)"),
    (MB, "startWindows.0", [5, 14], "startWindows[0]: a start on day 5 leaves a baseline of 5 days, shorter than "
                                    "minPhaseLength 10"),
    (MB, "startWindows.2", [30, 45], "startWindows[2]: a start on day 45 leaves an intervention of 5 days"),
    (ALTERNATING, "analysisPlan.maxConsecutive", ..., "analysisPlan: the analysisPlan of a protocol of design "
                                                      "ALTERNATING needs maxConsecutive"),
    (ALTERNATING, "analysisPlan.maxConsecutive", 0, "analysisPlan.maxConsecutive: 0 is not a whole number >= 1"),
    (ALTERNATING, "minPhaseLength", 3, "minPhaseLength: an ALTERNATING design has one phase per run of days, so its "
                                       "minPhaseLength is 1, got 3"),
    (CC, "criteria.1", 60, "criteria[1]: 60 equals the criterion before it; adjacent criteria differ"),
    (CC, "criteria.0", "sixty", "criteria[0]: 'sixty' is not a finite number"),
    (CC, "tiers", [], "tiers: belongs to a MULTIPLE_BASELINE design, not to CHANGING_CRITERION"),
])
def test_every_problem_names_its_field(source, path, value, expected):
    found = problems(_set(example(source), path, value))
    assert any(problem.startswith(expected) for problem in found), found


def test_all_problems_are_listed_not_just_the_first():
    doc = _set(_set(_set(example(MB), "analysisPlan.alpha", 0.5), "tiers.1.outcome", "steps"), "userId", "")
    doc["startDate"] = "tomorrow"
    found = problems(doc)
    assert [problem.split(":")[0] for problem in found] == \
        ["userId", "startDate", "analysisPlan.alpha", "tiers[1].outcome"]


def test_the_rows_go_through_the_snapshot_checks():
    doc = example(ABAB) | {"phases": ["BASELINE", "INTERVENTION_A"], "minPhaseLength": 1, "totalDays": 9000}
    [problem] = problems(doc)  # a phase longer than the column's CHECK allows
    assert problem.startswith("schedule: phase_assignments.plannedDuration breaks in_range(1.0, 3650.0): ")


def test_marascuilo_busk_draws_each_tier_in_its_own_window():
    doc = _set(example(MB), "analysisPlan.multipleBaselineScheme", "marascuilo_busk")
    registration = prepare(doc)
    starts = [phase.start for phase in registration.schedule.phases if phase.phase_type == "INTERVENTION_A"]
    tiers = [phase.tier.name for phase in registration.schedule.phases if phase.phase_type == "INTERVENTION_A"]
    assert tiers == ["study time", "engagement", "performance"]  # in the file's order, each in its own window
    offsets = [(start - date(2027, 2, 1)).days for start in starts]
    assert all(low <= offset <= high for offset, (low, high) in zip(offsets, [(10, 14), (20, 24), (30, 34)]))
    assert registration.alpha.n_assignments == 125


def test_wampold_worsham_fixes_the_starts_and_draws_the_order():
    doc = _set(example(MB), "analysisPlan.multipleBaselineScheme", "wampold_worsham")
    assert problems(doc)[0].startswith("startWindows[0]: wampold_worsham fixes each start: give [d, d]")
    doc["startWindows"] = [[10, 10], [20, 20], [30, 30]]
    [problem] = problems(doc)  # 3! = 6 orders of the tiers
    assert problem.startswith("analysisPlan.alpha: 6 assignments") and "1/6 = 0.167 > alpha = 0.05" in problem
    planned = draw_schedule(parse_protocol(doc, metric_catalogue()), 5)
    starts = sorted((phase.start - date(2027, 2, 1)).days for phase in planned.phases
                    if phase.phase_type == "INTERVENTION_A")
    assert starts == [10, 20, 30]


def test_a_file_that_is_not_yaml_or_missing_is_named(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("userId: [\n")
    with pytest.raises(RegistrationError, match=r"broken.yaml: not YAML \(line 2, column 1\)"):
        load(broken)
    with pytest.raises(RegistrationError, match=r"absent.yaml: cannot read it"):
        load(tmp_path / "absent.yaml")
    with pytest.raises(RegistrationError, match=r"\(file\): must be a mapping"):
        prepare(["a", "list"])


def test_validate_prints_the_schedule_and_refuses_a_broken_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path / "data"))  # no cluster here: overlap cannot be checked
    monkeypatch.delenv("AMERICANO_DATABASE_URL", raising=False)
    assert main(["protocol", "validate", str(MB)]) == 0
    out = capsys.readouterr().out
    assert "MULTIPLE_BASELINE" in out and "randomization seed 424242 (from the file)" in out
    assert "study time intervention" in out and "1/750 = 0.00133 <= alpha = 0.05" in out
    assert "nothing written" in out
    assert "overlap with the user's other protocols not checked (the local cluster at " in out
    broken = tmp_path / "broken.yaml"
    broken.write_text(MB.read_text().replace("alpha: 0.05", "alpha: 0.5")
                      .replace("outcome: engagement_score", "outcome: steps"))
    assert main(["protocol", "validate", str(broken)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"americano protocol validate: {broken}: 2 problems, nothing registered:"
    assert err[1:] == ["  analysisPlan.alpha: 0.5 is not a number in (0, 0.2]",
                       "  tiers[1].outcome: 'steps' is not a catalogue metric (engagement_score, session_count, "
                       "study_minutes, completion_rate, mean_performance, streak_days)"]
