"""The warehouse's reading of the four designs (docs/DESIGNS.md) on small hand-made snapshots, built with the real
dbt CLI: no PostgreSQL, the Parquet files are written here with the extract's own schema.

What must hold: a MULTIPLE_BASELINE protocol's series (fct_protocol_daily_outcomes, dim_protocols) is its primary
tier's and fct_protocol_tier_daily_outcomes holds every tier with its own outcome; ALTERNATING and
CHANGING_CRITERION protocols carry their run limit and criteria; overlapping tiers are no fault but two phases of
one tier are; and assert_design_is_recorded names every broken rule of the convention with its protocol and phase.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from americano_pipeline.assets.dbt import DBT_PROJECT_DIR, dbt_executable
from americano_pipeline.source.analysis_plan import MULTIPLE_BASELINE_SCHEMES
from americano_pipeline.source.extract import arrow_schema
from tests.integration.warehouse_support import warehouse_env, warehouse_path

pytestmark = pytest.mark.integration

START = date(2026, 3, 2)  # day 0 of every protocol of the fixtures
USER = "c" + "user" * 6
OBSERVED_DAYS = 40  # the user's events run from START - 1 to START + OBSERVED_DAYS - 2


def cuid(*parts: object) -> str:
    """A CUID-shaped id (c + 24 of [a-z0-9]) that reads as what it names."""
    text = "".join(str(p) for p in parts).lower().replace("_", "").replace(" ", "")
    return "c" + text[:24].ljust(24, "0")


def day(n: int) -> date:
    return START + timedelta(days=n)


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# ---------------------------------------------------------------- the day's outcome values the events plant
# One session a day: study_minutes = 10 + n, engagement_score = 50 + n, mean_performance = 70 + (n % 5),
# session_count = 1 on day n (relative to START).

def planted(metric: str, n: int) -> float:
    return {"study_minutes": 10.0 + n, "engagement_score": 50.0 + n, "mean_performance": 70.0 + n % 5,
            "session_count": 1.0}[metric]


@dataclass
class Snapshot:
    """The four tables of a hand-made snapshot; ``write`` puts them where profiles.yml reads them."""

    protocols: list[dict] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)

    def protocol(self, key: str, design: str, days: int, primary_outcome: str = "study_minutes",
                 min_phase_length: int = 1, **plan) -> str:
        protocol_id = cuid("p", key)
        body = {"confirmatory": "phase_randomization_test", "alternative": "greater", "alpha": 0.05, **plan}
        self.protocols.append({
            "id": protocol_id, "userId": USER, "protocolName": key, "hypothesis": f"{key} works",
            "startDate": midnight(START), "endDate": midnight(day(days - 1)), "designType": design,
            "primaryOutcome": primary_outcome, "sampleSizeTarget": days, "analysisPlan": json.dumps(body),
            "minPhaseLength": min_phase_length, "deviations": "[]", "screened": 1, "eligible": 1, "enrolled": 1,
            "completed": 1})
        return protocol_id

    def phase(self, protocol_id: str, label: str, phase_type: str, first: int, last: int, **params) -> str:
        phase_id = cuid("ph", protocol_id[2:8], label)
        assert phase_id not in {p["id"] for p in self.phases}, label
        self.phases.append({
            "id": phase_id, "protocolId": protocol_id, "phaseLabel": label, "phaseType": phase_type,
            "startDate": midnight(day(first)), "endDate": midnight(day(last)), "plannedDuration": last - first + 1,
            "randomizationSeed": 42, "interventionParams": json.dumps(params)})
        return phase_id

    def tier(self, protocol_id: str, name: str, outcome: str | None, first_b: int, last: int,
             window: list[int] | None, baseline_params: dict | None = None) -> tuple[str, str]:
        """One multiple-baseline tier: baseline from day 0, intervention from ``first_b`` to ``last``."""
        base = {"tier": name, "outcome": outcome}
        window_param = {"startWindow": [day(n).isoformat() for n in window]} if window else {}
        return (self.phase(protocol_id, f"{name} baseline", "BASELINE", 0, first_b - 1,
                           **(base if baseline_params is None else baseline_params)),
                self.phase(protocol_id, f"{name} intervention", "INTERVENTION_A", first_b, last, **base,
                           **window_param))

    def write(self, data_dir: Path) -> Path:
        events = []
        for n in range(-1, OBSERVED_DAYS - 1):
            at = midnight(day(n)) + timedelta(hours=9)
            session = {"sessionId": f"s{n}"}
            events.append({"id": cuid("es", f"{n + 1:03d}"), "userId": USER, "eventType": "SESSION_STARTED",
                           "eventData": json.dumps(session), "timestamp": at})
            events.append({"id": cuid("ee", f"{n + 1:03d}"), "userId": USER, "eventType": "SESSION_ENDED",
                           "eventData": json.dumps({**session, "durationMinutes": planted("study_minutes", n),
                                                    "engagementScore": planted("engagement_score", n)}),
                           "timestamp": at + timedelta(minutes=30),
                           "sessionPerformanceScore": int(planted("mean_performance", n))})
        current = data_dir / "raw" / "current"
        current.mkdir(parents=True, exist_ok=True)
        for table, rows in (("experiment_protocols", self.protocols), ("phase_assignments", self.phases),
                            ("behavioral_events", events), ("context_metadata", [])):
            schema = arrow_schema(table)
            pq.write_table(pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows],
                                                schema=schema), current / f"{table}.parquet")
        return data_dir


def run_dbt(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """The dbt CLI with artifacts under ``data_dir``, so the project's own target/ stays untouched."""
    with warehouse_env(data_dir):
        environment = dict(os.environ)
    artifacts = data_dir / "dbt_target"
    command = [str(dbt_executable()), "--no-use-colors", *args, "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(artifacts), "--log-path",
               str(artifacts)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=data_dir, timeout=600)


def query(data_dir: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(data_dir)), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def explained(build: subprocess.CompletedProcess, test: str) -> list[str]:
    """The failure explanations dbt logged for ``test`` (macro explain_failures)."""
    marker = f"FAIL {test}: "
    return [line.split(marker, 1)[1] for line in build.stdout.splitlines() if marker in line]


def failed_tests(build: subprocess.CompletedProcess) -> set[str]:
    results = json.loads((Path(build.args[build.args.index("--target-path") + 1]) / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2] for r in results["results"]
            if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")}


def design_failures(data_dir: Path) -> set[tuple[str, str | None, str]]:
    """(protocol name, phase label, rule) of every failure row of assert_design_is_recorded (--store-failures)."""
    return set(query(data_dir, """
        select protocols.protocol_name, failures.phase_label, failures.rule
        from main_dbt_test__audit.assert_design_is_recorded as failures
        inner join stg_experiment_protocols as protocols using (protocol_id)"""))


# ---------------------------------------------------------------- a valid study of every design

def valid_study() -> Snapshot:
    study = Snapshot()
    abab = study.protocol("abab", "ABAB", 12, "engagement_score", 3)
    for j, (label, phase_type) in enumerate([("baseline_1", "BASELINE"), ("intervention_1", "INTERVENTION_A"),
                                             ("baseline_2", "BASELINE"), ("intervention_2", "INTERVENTION_A")]):
        study.phase(abab, label, phase_type, 3 * j, 3 * j + 2, reward_probability=0.15 + 0.05 * (j % 2))
    # three tiers over 12 days: 'study time' (primary) starts last; 'engagement' and 'performance' tie on day 4
    mb = study.protocol("mb", "MULTIPLE_BASELINE", 12, "study_minutes", 3, multipleBaselineScheme="koehler_levin")
    study.tier(mb, "study time", "study_minutes", 6, 11, [5, 7])
    study.tier(mb, "performance", "mean_performance", 4, 11, [3, 5])
    study.tier(mb, "engagement", "engagement_score", 4, 11, [4, 4])
    alt = study.protocol("alt", "ALTERNATING", 10, "mean_performance", maxConsecutive=2)
    for j, (first, last, condition) in enumerate([(0, 1, "A"), (2, 2, "B"), (3, 3, "A"), (4, 5, "B"), (6, 6, "A"),
                                                 (7, 7, "B"), (8, 9, "A")]):
        study.phase(alt, f"{'baseline' if condition == 'A' else 'intervention'}_{j + 1}",
                    "BASELINE" if condition == "A" else "INTERVENTION_B", first, last, method=condition)
    unlimited = study.protocol("alt_unlimited", "ALTERNATING", 6, "mean_performance", maxConsecutive=None)
    study.phase(unlimited, "baseline_1", "BASELINE", 0, 3)
    study.phase(unlimited, "intervention_1", "INTERVENTION_A", 4, 5)
    cc = study.protocol("cc", "CHANGING_CRITERION", 12, "study_minutes", 3)
    study.phase(cc, "baseline_1", "BASELINE", 0, 2, daily_goal_minutes=None)
    for j, criterion in enumerate([15, 18, 15], start=1):
        study.phase(cc, f"criterion_{j}", "INTERVENTION_A", 3 * j, 3 * j + 2, criterion=criterion)
    return study


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    data_dir = valid_study().write(tmp_path_factory.mktemp("valid") / "data")
    return data_dir, run_dbt(data_dir, "build")


def test_a_valid_study_of_every_design_builds_and_passes_every_test(valid):
    data_dir, build = valid
    assert build.returncode == 0, build.stdout[-5000:]
    assert explained(build, "assert_design_is_recorded") == []


def test_a_multiple_baseline_series_is_its_primary_tier(valid):
    data_dir, _ = valid
    mb = cuid("p", "mb")
    rows = query(data_dir, """
        select phase_label, phase_number, condition, min(date), max(date), count(*), min(primary_outcome),
               bool_and(primary_outcome_value = study_minutes)
        from fct_protocol_daily_outcomes where protocol_id = ? group by all order by min(date)""", [mb])
    assert rows == [("study time baseline", 1, "A", day(0), day(5), 6, "study_minutes", True),
                    ("study time intervention", 2, "B", day(6), day(11), 6, "study_minutes", True)]
    [dim] = query(data_dir, """
        select design_type, tier_count, multiple_baseline_scheme, max_consecutive, phase_count, phase_sequence,
               phase_labels, phase_lengths, intervention_start_date, actual_duration_days
        from dim_protocols where protocol_id = ?""", [mb])
    assert dim == ("MULTIPLE_BASELINE", 3, "koehler_levin", None, 2, "AB",
                   ["study time baseline", "study time intervention"], [6, 6], day(6), 12)


def test_the_tier_mart_holds_every_tier_day_with_its_own_outcome(valid):
    data_dir, _ = valid
    mb = cuid("p", "mb")
    tiers = query(data_dir, """
        select tier_number, tier, tier_outcome, tier_start_date, start_window_earliest, start_window_latest,
               count(*), min(date), max(date), min(protocol_day_index), max(protocol_day_index),
               count(distinct phase_id), min(user_id)
        from fct_protocol_tier_daily_outcomes where protocol_id = ? group by all order by tier_number""", [mb])
    assert tiers == [
        (1, "engagement", "engagement_score", day(4), day(4), day(4), 12, day(0), day(11), 1, 12, 2, USER),
        (2, "performance", "mean_performance", day(4), day(3), day(5), 12, day(0), day(11), 1, 12, 2, USER),
        (3, "study time", "study_minutes", day(6), day(5), day(7), 12, day(0), day(11), 1, 12, 2, USER)]
    rows = query(data_dir, """
        select tier, date, protocol_day_index, phase_label, phase_type, condition, outcome_value
        from fct_protocol_tier_daily_outcomes where protocol_id = ? order by tier_number, date""", [mb])
    starts = {"engagement": 4, "performance": 4, "study time": 6}
    outcomes = {"engagement": "engagement_score", "performance": "mean_performance", "study time": "study_minutes"}
    expected = [(tier, day(n), n + 1, f"{tier} {'baseline' if n < starts[tier] else 'intervention'}",
                 "BASELINE" if n < starts[tier] else "INTERVENTION_A", "A" if n < starts[tier] else "B",
                 planted(outcomes[tier], n))
                for tier in ("engagement", "performance", "study time") for n in range(12)]
    assert rows == expected
    assert query(data_dir, """
        select distinct p.design_type from fct_protocol_tier_daily_outcomes t
        join dim_protocols p using (protocol_id)""") == [("MULTIPLE_BASELINE",)]


def test_alternating_and_changing_criterion_carry_their_registration(valid):
    data_dir, _ = valid
    assert query(data_dir, """
        select protocol_name, max_consecutive, has_max_consecutive_key, multiple_baseline_scheme
        from stg_experiment_protocols order by protocol_name""") == [
        ("abab", None, False, None), ("alt", 2, True, None), ("alt_unlimited", None, True, None),
        ("cc", None, False, None), ("mb", None, False, "koehler_levin")]
    assert query(data_dir, """
        select protocol_name, max_consecutive, tier_count from dim_protocols order by protocol_name""") == [
        ("abab", None, 0), ("alt", 2, 0), ("alt_unlimited", None, 0), ("cc", None, 0), ("mb", None, 3)]
    criteria = query(data_dir, """
        select phase_label, min(criterion), max(criterion), count(*) from fct_protocol_daily_outcomes
        where protocol_id = ? group by all order by min(date)""", [cuid("p", "cc")])
    assert criteria == [("baseline_1", None, None, 3), ("criterion_1", 15.0, 15.0, 3), ("criterion_2", 18.0, 18.0, 3),
                        ("criterion_3", 15.0, 15.0, 3)]
    assert query(data_dir, "select count(*) from fct_protocol_daily_outcomes where criterion is not null "
                           "and protocol_id <> ?", [cuid("p", "cc")]) == [(0,)]


def test_staging_parses_the_design_parameters(valid):
    data_dir, _ = valid
    rows = query(data_dir, """
        select phase_label, tier, tier_outcome, criterion, start_window_earliest, start_window_latest
        from stg_phase_assignments where protocol_id in (?, ?) order by protocol_id, start_date, phase_label""",
                 [cuid("p", "mb"), cuid("p", "cc")])
    assert ("performance intervention", "performance", "mean_performance", None, day(3), day(5)) in rows
    assert ("performance baseline", "performance", "mean_performance", None, None, None) in rows
    assert ("criterion_2", None, None, 18.0, None, None) in rows
    assert ("baseline_1", None, None, None, None, None) in rows


def test_the_declared_schemes_agree_with_the_analysis_plan():
    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert tuple(variables["analysis_plan"]["multiple_baseline_schemes"]) == MULTIPLE_BASELINE_SCHEMES


# ---------------------------------------------------------------- every rule broken once

def broken_study() -> tuple[Snapshot, set[tuple[str, str | None, str]]]:
    """Protocols breaking the convention, and the (protocol, phase label, rule) failures each must raise."""
    study, expected = Snapshot(), set()

    mb = study.protocol("mb_broken", "MULTIPLE_BASELINE", 12, "study_minutes")  # no multipleBaselineScheme
    expected.add(("mb_broken", None, "multiple_baseline_scheme"))
    study.tier(mb, "a", "focus_score", 4, 11, None)  # outcome outside the catalogue, no start window
    expected |= {("mb_broken", "a baseline", "tier_outcome_not_in_catalogue"),
                 ("mb_broken", "a intervention", "tier_outcome_not_in_catalogue"),
                 ("mb_broken", "a intervention", "start_window")}
    study.tier(mb, "b", "engagement_score", 6, 11, [2, 4],  # starts after its window; baseline names no outcome
               baseline_params={"tier": "b"})
    expected |= {("mb_broken", "b intervention", "start_window"), ("mb_broken", "b baseline", "tier_outcome_missing")}
    study.phase(mb, "c baseline", "BASELINE", 0, 1, tier="c", outcome="engagement_score")  # two baselines in c
    study.phase(mb, "c baseline 2", "BASELINE", 2, 3, tier="c", outcome="engagement_score")
    study.phase(mb, "c intervention", "INTERVENTION_B", 4, 11, tier="c", outcome="engagement_score",
                startWindow=[day(3).isoformat(), day(5).isoformat()])
    expected |= {("mb_broken", None, "tier_phases"), ("mb_broken", None, "tier_outcomes_not_distinct")}
    study.phase(mb, "untiered", "BASELINE", 0, 11, outcome="session_count")  # no tier
    expected.add(("mb_broken", "untiered", "tier_missing"))
    expected.add(("mb_broken", None, "primary_tier"))  # no tier measures study_minutes

    mb2 = study.protocol("mb_two_primaries", "MULTIPLE_BASELINE", 12, "study_minutes",
                         multipleBaselineScheme="lottery")
    study.tier(mb2, "x", "study_minutes", 4, 11, [4, 5])
    study.tier(mb2, "y", "study_minutes", 6, 11, [5, 6])
    study.tier(mb2, "z", "engagement_score", 8, 11, [8, 9],  # its baseline names another outcome
               baseline_params={"tier": "z", "outcome": "session_count"})
    expected |= {("mb_two_primaries", None, rule) for rule in ("tier_outcome_inconsistent", "primary_tier",
                                                              "tier_outcomes_not_distinct", "multiple_baseline_scheme")}

    no_limit = study.protocol("alt_no_limit", "ALTERNATING", 4)  # the plan lacks maxConsecutive
    study.phase(no_limit, "baseline_1", "BASELINE", 0, 1)
    study.phase(no_limit, "intervention_1", "INTERVENTION_A", 2, 3)
    expected.add(("alt_no_limit", None, "max_consecutive_missing"))

    fraction = study.protocol("alt_fraction", "ALTERNATING", 4, maxConsecutive=2.5)
    study.phase(fraction, "baseline_1", "BASELINE", 0, 1)
    study.phase(fraction, "intervention_1", "INTERVENTION_A", 2, 3)
    expected.add(("alt_fraction", None, "max_consecutive_invalid"))

    runs = study.protocol("alt_runs", "ALTERNATING", 14, maxConsecutive=2)
    for label, phase_type, first, last in [
            ("baseline_1", "BASELINE", 0, 0), ("baseline_2", "BASELINE", 1, 2),  # one run of 3 A days
            ("intervention_1", "INTERVENTION_A", 3, 5),  # 3 B days in one phase
            ("baseline_3", "BASELINE", 6, 7), ("washout_1", "WASHOUT", 8, 8),  # a washout ends the run
            ("baseline_4", "BASELINE", 9, 10),
            ("intervention_2", "INTERVENTION_A", 11, 11), ("intervention_3", "INTERVENTION_B", 12, 13)]:  # B: 3 days
        study.phase(runs, label, phase_type, first, last)
    expected |= {("alt_runs", "baseline_1", "max_consecutive_exceeded"),
                 ("alt_runs", "intervention_1", "max_consecutive_exceeded"),
                 ("alt_runs", "intervention_2", "max_consecutive_exceeded")}

    cc = study.protocol("cc_broken", "CHANGING_CRITERION", 18)
    study.phase(cc, "baseline_1", "BASELINE", 0, 2, criterion=10)
    study.phase(cc, "criterion_1", "INTERVENTION_A", 3, 5, criterion="high")
    study.phase(cc, "criterion_2", "INTERVENTION_A", 6, 8)
    study.phase(cc, "criterion_3", "INTERVENTION_A", 9, 11, criterion=20)
    study.phase(cc, "criterion_4", "INTERVENTION_A", 12, 14, criterion=20)
    study.phase(cc, "baseline_2", "BASELINE", 15, 17)
    expected |= {("cc_broken", "baseline_1", "criterion_baseline"), ("cc_broken", "criterion_1", "criterion_missing"),
                 ("cc_broken", "criterion_2", "criterion_missing"), ("cc_broken", "criterion_4", "criterion_repeated"),
                 ("cc_broken", "baseline_2", "criterion_phase_type")}

    cc2 = study.protocol("cc_no_baseline", "CHANGING_CRITERION", 6)
    study.phase(cc2, "criterion_1", "INTERVENTION_A", 0, 2, criterion=10)
    study.phase(cc2, "criterion_2", "INTERVENTION_A", 3, 5, criterion=12)
    expected.add(("cc_no_baseline", "criterion_1", "criterion_baseline"))

    abab = study.protocol("abab_mistyped", "ABAB", 8, maxConsecutive=None, multipleBaselineScheme="koehler_levin")
    study.phase(abab, "baseline_1", "BASELINE", 0, 1, tier="t", outcome="study_minutes")
    study.phase(abab, "intervention_1", "INTERVENTION_A", 2, 3, criterion=5)
    study.phase(abab, "baseline_2", "BASELINE", 4, 5, startWindow=[day(4).isoformat(), day(5).isoformat()])
    study.phase(abab, "intervention_2", "INTERVENTION_A", 6, 7)
    expected |= {("abab_mistyped", "baseline_1", "tier_on_other_design"),
                 ("abab_mistyped", "intervention_1", "criterion_on_other_design"),
                 ("abab_mistyped", "baseline_2", "start_window_on_other_design"),
                 ("abab_mistyped", None, "plan_key_of_other_design")}
    return study, expected


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, set]:
    study, expected = broken_study()
    data_dir = study.write(tmp_path_factory.mktemp("broken") / "data")
    return data_dir, run_dbt(data_dir, "build", "--store-failures"), expected


def test_every_broken_rule_is_one_failure_row(broken):
    data_dir, build, expected = broken
    assert build.returncode == 1
    assert design_failures(data_dir) == expected
    # the plan of abab_mistyped holds two keys of other designs: one row each
    assert query(data_dir, """
        select count(*) from main_dbt_test__audit.assert_design_is_recorded
        where rule = 'plan_key_of_other_design'""") == [(2,)]


def test_failures_name_the_protocol_the_phase_and_the_rule(broken):
    data_dir, build, _ = broken
    lines = query(data_dir, "select failure from main_dbt_test__audit.assert_design_is_recorded")
    by_rule = {}
    for (line,) in lines:
        by_rule.setdefault(line.rsplit("[", 1)[1].rstrip("]"), []).append(line)
    mb, cc, alt = cuid("p", "mb_broken"), cuid("p", "cc_broken"), cuid("p", "alt_runs")
    b_intervention = cuid("ph", mb[2:8], "b intervention")
    assert by_rule["start_window"].count(
        f"protocol {mb} (MULTIPLE_BASELINE): phase b intervention ({b_intervention}, {day(6)} .. {day(11)}) starts "
        f"on {day(6)}, outside its startWindow {day(2)} .. {day(4)} [start_window]") == 1
    assert (f"protocol {mb} (MULTIPLE_BASELINE): no tier measures the primary outcome 'study_minutes': exactly one "
            "tier, the primary tier, must [primary_tier]") in by_rule["primary_tier"]
    [shared] = [line for line in by_rule["tier_outcomes_not_distinct"] if mb in line]
    assert "tiers 'b', 'c' all measure the outcome 'engagement_score'" in shared
    [phases] = by_rule["tier_phases"]
    assert phases.startswith(f"protocol {mb} (MULTIPLE_BASELINE): tier 'c' has the phases c baseline (BASELINE")
    [run_a, run_b, run_c] = sorted(by_rule["max_consecutive_exceeded"])
    assert run_a.startswith(f"protocol {alt} (ALTERNATING): phase baseline_1 ({cuid('ph', alt[2:8], 'baseline_1')}")
    assert (f"begins a run of 3 consecutive days of condition A ({day(0)} .. {day(2)}: baseline_1 "
            f"({cuid('ph', alt[2:8], 'baseline_1')}), baseline_2 ({cuid('ph', alt[2:8], 'baseline_2')})), longer "
            "than maxConsecutive 2") in run_a
    assert "begins a run of 3 consecutive days of condition B" in run_b
    [inconsistent] = by_rule["tier_outcome_inconsistent"]
    assert "tier 'z' names 2 outcomes (engagement_score, session_count) on its phases z baseline" in inconsistent
    assert f"begins a run of 3 consecutive days of condition B ({day(11)} .. {day(13)}: intervention_2" in run_c
    assert any("records the criterion 'high', which is not a number" in line and cc in line
               for line in by_rule["criterion_missing"])
    assert any("has the criterion 20.0 of the phase before it, criterion_3" in line
               for line in by_rule["criterion_repeated"])
    # dbt's own output explains the failures the same way
    assert set(explained(build, "assert_design_is_recorded")) <= {line for (line,) in lines}
    assert len(explained(build, "assert_design_is_recorded")) == min(20, len(lines))


def test_overlapping_tiers_are_no_fault_but_overlapping_phases_of_one_tier_are(broken):
    data_dir, build, _ = broken
    overlaps = explained(build, "assert_phases_do_not_overlap")
    # mb_broken: the untiered phase is compared with nothing of another tier; abab and cc phases are contiguous
    assert overlaps == []
    assert "assert_design_is_recorded" in failed_tests(build)


def test_a_tier_day_in_no_phase_or_two_phases_of_one_tier_fails_naming_the_tier(tmp_path):
    """The engagement tier's intervention starts a day late (its window widened, so the design stays valid) and the
    performance tier's baseline runs a day into its intervention."""
    study = valid_study()
    mb = cuid("p", "mb")
    for phase in study.phases:
        params = json.loads(phase["interventionParams"])
        if phase["protocolId"] == mb and phase["phaseLabel"] == "engagement intervention":
            phase["startDate"] = midnight(day(5))
            phase["interventionParams"] = json.dumps(
                {**params, "startWindow": [day(4).isoformat(), day(6).isoformat()]})
        if phase["protocolId"] == mb and phase["phaseLabel"] == "performance baseline":
            phase["endDate"] = midnight(day(4))
    data_dir = study.write(tmp_path / "data")
    # models first, then every test: a failed test in `dbt build` would skip the marts the day tests read
    assert run_dbt(data_dir, "run").returncode == 0
    tests = run_dbt(data_dir, "test")
    assert tests.returncode == 1
    baseline, intervention = (cuid("ph", mb[2:8], f"performance {kind}") for kind in ("baseline", "intervention"))
    assert explained(tests, "assert_phases_do_not_overlap") == [
        f"protocol {mb} tier 'performance': phase performance baseline ({baseline}, {day(0)} .. {day(4)}) overlaps "
        f"phase performance intervention ({intervention}, {day(4)} .. {day(11)})"]
    two_phases = ", ".join(sorted([f"performance baseline ({baseline})", f"performance intervention ({intervention})"],
                                  key=lambda text: text.split("(")[1]))
    assert sorted(explained(tests, "assert_one_phase_per_protocol_day")) == [
        f"protocol {mb} tier 'engagement' on {day(4)} is in 0 phases (every protocol day must be in exactly one "
        "phase of each tier)",
        f"protocol {mb} tier 'performance' on {day(4)} is in 2 phases: {two_phases} (every protocol day must be in "
        "exactly one phase of each tier)"]
    assert explained(tests, "assert_design_is_recorded") == []
    # the primary tier's series is untouched: one row per day in one phase
    assert query(data_dir, "select count(*), count(distinct date), count(phase_id) from fct_protocol_daily_outcomes "
                           "where protocol_id = ?", [mb]) == [(12, 12, 12)]
    assert failed_tests(tests) >= {"assert_phases_do_not_overlap", "assert_one_phase_per_protocol_day"}


def test_two_primary_tiers_do_not_double_the_protocol_series(broken, tmp_path):
    """Even a design the test refuses builds marts without duplicated days when its models are run anyway."""
    source, _, _ = broken
    data_dir = tmp_path / "data"
    shutil.copytree(source / "raw", data_dir / "raw")
    assert run_dbt(data_dir, "run").returncode == 0
    mb = cuid("p", "mb_two_primaries")
    assert query(data_dir, """
        select count(*), count(distinct date), string_agg(distinct phase_label, ', ' order by phase_label)
        from fct_protocol_daily_outcomes where protocol_id = ?""", [mb]) == [(12, 12, "x baseline, x intervention")]
    assert query(data_dir, "select phase_count, tier_count from dim_protocols where protocol_id = ?", [mb]) == [(2, 3)]
    assert query(data_dir, """
        select tier, count(*), count(distinct date) from fct_protocol_tier_daily_outcomes where protocol_id = ?
        group by tier order by tier""", [mb]) == [("x", 12, 12), ("y", 12, 12), ("z", 12, 12)]
    # no primary tier: the protocol's days are in no phase (assert_one_phase_per_protocol_day reports them)
    assert query(data_dir, "select count(*), count(phase_id) from fct_protocol_daily_outcomes where protocol_id = ?",
                 [cuid("p", "mb_broken")]) == [(12, 0)]
