"""The dbt/DuckDB warehouse on the seeded demo study, materialized through Dagster with the real dbt CLI.

What must hold: the protocol outcome series reproduce the planted phase schedule and effect directions, the
daily metrics equal an independent computation in PostgreSQL, every dbt test passes and is a (blocking) Dagster
asset check, and the documented catalogue, enums and time-zone rule are the ones applied.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import dagster as dg
from americano_pipeline.assets.dbt import DBT_PROJECT_DIR, dbt_executable, warehouse_dbt_assets
from americano_pipeline.source.connection import connect
from americano_pipeline.demo.protocols import DESIGNS
from americano_pipeline.source.analysis_plan import ALTERNATIVES, CONFIRMATORY_METHODS
from americano_pipeline.source.schema import enums
from tests.integration.warehouse_support import STUDY as CONFIG
from tests.integration.warehouse_support import Source, materialize, warehouse_env, warehouse_path

pytestmark = pytest.mark.integration

MODELS = {"stg_behavioral_events", "stg_experiment_protocols", "stg_phase_assignments", "stg_context_metadata",
          "int_protocol_days", "int_user_days", "int_events_in_phases", "fct_daily_user_metrics",
          "fct_daily_context", "fct_protocol_daily_outcomes", "fct_protocol_tier_daily_outcomes", "dim_protocols"}
METRICS = ("engagement_score", "session_count", "study_minutes", "completion_rate", "mean_performance")
WARN_ONLY = {"assert_recorded_phase_matches_date"}


def run_dbt(data_dir: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """The dbt CLI itself, with artifacts under ``data_dir`` so the project's own target/ stays untouched."""
    with warehouse_env(data_dir, **env):
        environment = dict(os.environ)
    artifacts = data_dir / "dbt_target"
    command = [str(dbt_executable()), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
               str(DBT_PROJECT_DIR), "--target-path", str(artifacts), "--log-path", str(artifacts)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd or data_dir,
                          timeout=600)


def query(data_dir: Path, sql: str, params=None) -> list[tuple]:
    """Read the warehouse the way every reader must: read-only, so the single writer is never blocked long."""
    with duckdb.connect(str(warehouse_path(data_dir)), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def copy_snapshot(source: Source, data_dir: Path) -> Path:
    shutil.copytree(source.data_dir / "raw" / "current", data_dir / "raw" / "current")
    return data_dir


def test_dagster_materializes_every_model_and_every_check_passes(built):
    assert built.success
    materialized = {e.materialization.asset_key.to_user_string() for e in built.get_asset_materialization_events()}
    assert materialized == MODELS
    evaluations = {e.check_name: e for e in built.get_asset_check_evaluations()}
    specs = {spec.name: spec for spec in warehouse_dbt_assets.check_specs}
    assert set(evaluations) == set(specs) and len(specs) > 70
    assert [name for name, e in evaluations.items() if not e.passed] == []


def test_the_build_is_an_mlflow_run_with_counts_and_provenance_tags(built, source):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{source.data_dir / 'mlflow' / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("warehouse").experiment_id],
                               filter_string=f"tags.`dagster.run_id` = '{built.run_id}'")
    assert run.data.metrics == {"models_built": len(MODELS), "tests_passed": 120, "tests_failed": 0}
    assert run.data.tags["dbt.success"] == "true" and len(run.data.tags["git.commit"]) == 40
    assert run.info.status == "FINISHED"


def test_error_tests_are_blocking_checks_and_the_wiring_is_one_graph():
    specs = {spec.name: spec for spec in warehouse_dbt_assets.check_specs}
    assert {name for name, spec in specs.items() if not spec.blocking} == WARN_ONLY
    invariants = {"assert_primary_outcome_is_a_catalogue_metric": "stg_experiment_protocols",
                  "assert_phases_do_not_overlap": "stg_phase_assignments",
                  "assert_phases_lie_within_their_protocol": "stg_phase_assignments",
                  "assert_phases_meet_min_phase_length": "stg_phase_assignments",
                  "assert_design_is_recorded": "stg_phase_assignments",
                  "assert_one_phase_per_protocol_day": "fct_protocol_daily_outcomes",
                  "assert_protocol_daily_series_is_complete": "fct_protocol_daily_outcomes",
                  "assert_user_daily_series_has_no_gaps": "fct_daily_user_metrics"}
    for name, model in invariants.items():
        assert specs[name].blocking and specs[name].asset_key == dg.AssetKey(model), name
    assert warehouse_dbt_assets.op.pool == "duckdb"
    assert set(warehouse_dbt_assets.group_names_by_key.values()) == {"warehouse"}
    upstream = {dep.to_user_string() for key in warehouse_dbt_assets.keys
                for dep in warehouse_dbt_assets.asset_deps[key] if dep.path[0] == "raw"}
    assert upstream == {"raw/experiment_protocols", "raw/phase_assignments", "raw/context_metadata",
                        "raw/behavioral_events"}


def primary_phases(protocol: dict) -> list[dict]:
    """The planted phases of the protocol's daily series: all of them, or a multiple baseline's primary tier's."""
    return [p for p in protocol["phases"]
            if p["interventionParams"].get("outcome", protocol["primaryOutcome"]) == protocol["primaryOutcome"]]


def test_protocol_series_reproduce_the_planted_phase_schedule(built, source):
    for protocol in source.truth["protocols"]:
        rows = query(source.data_dir, """
            select phase_label, phase_type, condition, min(date), max(date), count(*), min(day_index_in_phase),
                   max(day_index_in_phase), min(phase_number), bool_or(is_washout), min(primary_outcome)
            from fct_protocol_daily_outcomes where protocol_id = ? group by all order by min(date)""",
                     [protocol["protocolId"]])
        expected = [(p["label"], p["phaseType"], p["condition"], date.fromisoformat(p["startDate"]),
                     date.fromisoformat(p["endDate"]), p["days"], 1, p["days"], number, False,
                     protocol["primaryOutcome"]) for number, p in enumerate(primary_phases(protocol), start=1)]
        assert rows == expected, protocol["key"]


def test_the_tier_mart_reproduces_every_planted_tier_with_its_own_outcome(built, source):
    tiered = [p for p in source.truth["protocols"] if p["designType"] == "MULTIPLE_BASELINE"]
    assert tiered
    for protocol in tiered:
        rows = query(source.data_dir, """
            select tier, tier_outcome, condition, min(date), max(date), count(*), min(tier_start_date)
            from fct_protocol_tier_daily_outcomes where protocol_id = ? group by all order by tier, min(date)""",
                     [protocol["protocolId"]])
        planted = sorted(protocol["phases"], key=lambda p: (p["interventionParams"]["tier"], p["startDate"]))
        starts = {p["interventionParams"]["tier"]: date.fromisoformat(p["startDate"]) for p in planted
                  if p["condition"] == "B"}
        assert rows == [(p["interventionParams"]["tier"], p["interventionParams"]["outcome"], p["condition"],
                         date.fromisoformat(p["startDate"]), date.fromisoformat(p["endDate"]), p["days"],
                         starts[p["interventionParams"]["tier"]]) for p in planted]
        [(values_match,)] = query(source.data_dir, """
            select bool_and(tiers.outcome_value is not distinct from case tiers.tier_outcome
                when 'study_minutes' then metrics.study_minutes when 'engagement_score' then metrics.engagement_score
                when 'mean_performance' then metrics.mean_performance end)
            from fct_protocol_tier_daily_outcomes as tiers
            join fct_daily_user_metrics as metrics on metrics.user_id = tiers.user_id and metrics.date = tiers.date
            where tiers.protocol_id = ?""", [protocol["protocolId"]])
        assert values_match


def test_row_counts_equal_protocol_durations_and_dim_protocols_describes_the_design(built, source):
    for protocol in source.truth["protocols"]:
        start, end = date.fromisoformat(protocol["startDate"]), date.fromisoformat(protocol["endDate"])
        [(n_rows, first, last)] = query(source.data_dir, """
            select count(*), min(date), max(date) from fct_protocol_daily_outcomes where protocol_id = ?""",
                                        [protocol["protocolId"]])
        assert (n_rows, first, last) == ((end - start).days + 1, start, end)
        [dim] = query(source.data_dir, """
            select design_type, primary_outcome, phase_count, phase_sequence, phase_lengths, planned_phase_lengths,
                   min_phase_length, meets_min_phase_length, actual_duration_days, scheduled_duration_days,
                   planned_duration_days, intervention_start_date, randomization_seed
            from dim_protocols where protocol_id = ?""", [protocol["protocolId"]])
        primary = primary_phases(protocol)
        lengths = [p["days"] for p in primary]
        assert dim == (protocol["designType"], protocol["primaryOutcome"], len(lengths),
                       "".join(p["condition"] for p in primary), lengths, lengths,
                       protocol["minPhaseLength"], True, n_rows, n_rows, n_rows,
                       date.fromisoformat(protocol["interventionDate"]), protocol["randomizationSeed"])


def test_primary_outcome_recovers_the_planted_effect_direction(built, source):
    for protocol in source.truth["protocols"]:
        means = dict(query(source.data_dir, """
            select condition, avg(primary_outcome_value) from fct_protocol_daily_outcomes
            where protocol_id = ? and not is_washout group by condition""", [protocol["protocolId"]]))
        difference, effect = means["B"] - means["A"], protocol["trueEffect"]
        if effect:
            assert difference > effect / 3, protocol["key"]
        else:
            assert abs(difference) < 4, protocol["key"]


_POSTGRES_DAILY = """
    SELECT "userId", ("timestamp" AT TIME ZONE 'UTC')::date,
           avg(("eventData"->>'engagementScore')::float) FILTER (WHERE "eventType" = 'SESSION_ENDED'),
           count(*) FILTER (WHERE "eventType" = 'SESSION_STARTED'),
           coalesce(sum(("eventData"->>'durationMinutes')::float) FILTER (WHERE "eventType" = 'SESSION_ENDED'), 0),
           (count(*) FILTER (WHERE "eventType" = 'MISSION_COMPLETED'))::float
               / nullif(count(*) FILTER (WHERE "eventType" = 'MISSION_STARTED'), 0),
           avg("sessionPerformanceScore")::float
    FROM behavioral_events GROUP BY 1, 2 ORDER BY 1, 2"""


def test_daily_metrics_equal_an_independent_postgres_computation(built, source):
    with connect(source.url) as conn:
        expected = conn.execute(_POSTGRES_DAILY).fetchall()
    actual = query(source.data_dir, f"select user_id, date, {', '.join(METRICS)} from fct_daily_user_metrics "
                                    "order by user_id, date")
    assert len(actual) == len(expected) == CONFIG.users * CONFIG.days
    for got, want in zip(actual, expected):
        assert got[:2] == want[:2]
        assert got[2:] == pytest.approx(want[2:], rel=1e-9, abs=1e-9)
    # every demo day has a session, so the streak is the day's position in the user's series
    streaks = query(source.data_dir, """
        select streak_days, date - min(date) over (partition by user_id) + 1 from fct_daily_user_metrics""")
    assert all(streak == position for streak, position in streaks)


def test_daily_context_equals_the_source_entries(built, source):
    with connect(source.url) as conn:
        expected = conn.execute("""
            SELECT "userId", ("timestamp" AT TIME ZONE 'UTC')::date, mood::text, "energyLevel"::float, "sleepHours",
                   "hrvScore"::float, "restingHeartRate"::float, "activityStrain"
            FROM context_metadata ORDER BY 1, 2""").fetchall()
    actual = query(source.data_dir, """
        select user_id, date, mood, energy_level, sleep_hours, hrv_score, resting_heart_rate, activity_strain
        from fct_daily_context order by user_id, date""")
    assert actual == expected


def test_declared_enums_and_catalogue_agree_with_the_source_schema_and_the_protocols():
    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {name: tuple(values) for name, values in variables["source_enums"].items()} == enums()
    catalogue = variables["metric_catalogue"]
    assert len(set(catalogue)) == len(catalogue)
    assert {design.primary_outcome for design in DESIGNS} <= set(catalogue)
    plan = variables["analysis_plan"]
    assert (tuple(plan["alternatives"]), tuple(plan["confirmatory_methods"])) == (ALTERNATIVES, CONFIRMATORY_METHODS)


@pytest.mark.slow
def test_cli_build_from_another_directory_and_docs_generate(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    with warehouse_env(data_dir):
        os.environ.pop("AMERICANO_DUCKDB_PATH")  # the default: <AMERICANO_DATA_DIR>/americano_analytics.duckdb
        environment = dict(os.environ)
    build = subprocess.run([str(dbt_executable()), "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                            str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"), "--log-path",
                            str(tmp_path / "target")], capture_output=True, text=True, env=environment, cwd="/")
    assert build.returncode == 0, build.stdout[-3000:]
    assert query(data_dir, "select count(*) from dim_protocols") == [(len(source.truth["protocols"]),)]
    docs = run_dbt(data_dir, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-3000:]
    catalog = json.loads((data_dir / "dbt_target" / "catalog.json").read_text())
    manifest = json.loads((data_dir / "dbt_target" / "manifest.json").read_text())
    assert {node["metadata"]["name"] for node in catalog["nodes"].values()} == MODELS
    outcomes = manifest["nodes"]["model.americano.fct_protocol_daily_outcomes"]
    assert "SESSION_ENDED" in outcomes["columns"]["engagement_score"]["description"]


# ---------------------------------------------------------------- bad input and faults

def edit_rows(data_dir: Path, table: str, column: str, new_values: dict[str, object]) -> None:
    """Set ``column`` of the snapshot rows whose id is a key of ``new_values``, keeping the file's schema."""
    path = data_dir / "raw" / "current" / f"{table}.parquet"
    frame = pq.read_table(path)
    index = frame.schema.get_field_index(column)
    values = [new_values.get(row_id, value)
              for row_id, value in zip(frame.column("id").to_pylist(), frame.column(column).to_pylist())]
    field = frame.schema.field(index)
    pq.write_table(frame.set_column(index, field, pa.array(values, type=field.type)), path)


def phase(data_dir: Path, protocol: dict, label: str) -> dict:
    rows = pq.read_table(data_dir / "raw" / "current" / "phase_assignments.parquet").to_pylist()
    return next(r for r in rows if r["protocolId"] == protocol["protocolId"] and r["phaseLabel"] == label)


def materialized_keys(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def failed_checks(result: dg.ExecuteInProcessResult) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}


@pytest.mark.slow
def test_unknown_primary_outcome_fails_a_blocking_check_naming_protocol_and_metric(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    victim = source.truth["protocols"][0]["protocolId"]
    edit_rows(data_dir, "experiment_protocols", "primaryOutcome", {victim: "focus_score"})
    result = materialize(data_dir)
    assert not result.success
    failed = failed_checks(result)
    assert set(failed) == {"assert_primary_outcome_is_a_catalogue_metric"}
    explanation = failed["assert_primary_outcome_is_a_catalogue_metric"].description
    assert f"protocol {victim}" in explanation and "primaryOutcome 'focus_score'" in explanation
    assert "stg_experiment_protocols" in materialized_keys(result)
    assert "fct_protocol_daily_outcomes" not in materialized_keys(result)


@pytest.mark.slow
def test_overlapping_phases_fail_a_test_naming_both_phases(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    protocol = source.truth["protocols"][0]
    first, second = phase(data_dir, protocol, "baseline_1"), phase(data_dir, protocol, "intervention_1")
    edit_rows(data_dir, "phase_assignments", "endDate", {first["id"]: second["startDate"] + timedelta(days=2)})
    build = run_dbt(data_dir, "build")
    assert build.returncode == 1
    [line] = [line for line in build.stdout.splitlines() if "FAIL assert_phases_do_not_overlap:" in line]
    assert f"protocol {protocol['protocolId']}" in line
    assert f"baseline_1 ({first['id']}" in line and f"intervention_1 ({second['id']}" in line


def described(row: dict) -> str:
    """A phase row as the dbt phase tests name it."""
    return (f"protocol {row['protocolId']}: phase {row['phaseLabel']} ({row['id']}, {row['startDate'].date()} .. "
            f"{row['endDate'].date()})")


def plant_rogue_phase(data_dir: Path, protocol: dict) -> dict[str, str]:
    """The probe of issue #13: a copy of baseline_1 dated before the protocol, 0 days long, with another seed."""
    first = phase(data_dir, protocol, "baseline_1")
    start = first["startDate"] - timedelta(days=10)
    rogue = {**first, "id": "c" + "r" * 24, "phaseLabel": "baseline_0", "startDate": start,
             "endDate": start - timedelta(days=1), "randomizationSeed": 1}
    path = data_dir / "raw" / "current" / "phase_assignments.parquet"
    table = pq.read_table(path)
    pq.write_table(pa.Table.from_pylist(table.to_pylist() + [rogue], schema=table.schema), path)
    return {"assert_phases_lie_within_their_protocol":
            f"{described(rogue)} starts before the protocol ({protocol['startDate']} .. {protocol['endDate']})",
            "assert_phases_meet_min_phase_length":
            f"{described(rogue)} lasts 0 days (min {protocol['minPhaseLength']})"}


def plant_short_phase(data_dir: Path, protocol: dict) -> dict[str, str]:
    """baseline_1 cut to 2 days (min 5), intervention_1 starting the day after, so every day keeps one phase."""
    baseline, intervention = phase(data_dir, protocol, "baseline_1"), phase(data_dir, protocol, "intervention_1")
    end = baseline["startDate"] + timedelta(days=1)
    edit_rows(data_dir, "phase_assignments", "endDate", {baseline["id"]: end})
    edit_rows(data_dir, "phase_assignments", "startDate", {intervention["id"]: end + timedelta(days=1)})
    return {"assert_phases_meet_min_phase_length":
            f"{described({**baseline, 'endDate': end})} lasts 2 days (min {protocol['minPhaseLength']})"}


def plant_phase_past_the_end(data_dir: Path, protocol: dict) -> dict[str, str]:
    """The last phase ending two days after its protocol."""
    last = phase(data_dir, protocol, "intervention_2")
    end = last["endDate"] + timedelta(days=2)
    edit_rows(data_dir, "phase_assignments", "endDate", {last["id"]: end})
    return {"assert_phases_lie_within_their_protocol": f"{described({**last, 'endDate': end})} runs past the "
            f"protocol's end ({protocol['startDate']} .. {protocol['endDate']})"}


@pytest.mark.slow
@pytest.mark.parametrize("plant", [plant_rogue_phase, plant_short_phase, plant_phase_past_the_end],
                         ids=["rogue phase", "short phase", "phase past the end"])
def test_a_phase_outside_its_protocol_or_too_short_fails_a_blocking_check_naming_protocol_and_phase(
        source, tmp_path, plant):
    data_dir = copy_snapshot(source, tmp_path / "data")
    expected = plant(data_dir, source.truth["protocols"][0])
    result = materialize(data_dir)
    failed = {name: e.description for name, e in failed_checks(result).items() if name not in WARN_ONLY}
    assert failed == {name: f"FAIL {name}: {line}" for name, line in expected.items()}
    assert "stg_phase_assignments" in materialized_keys(result)
    assert "dim_protocols" not in materialized_keys(result)  # its phase sequence, lengths and seed never see the row


@pytest.mark.slow
def test_a_day_in_no_phase_fails_a_blocking_check_and_stops_everything_downstream(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    protocol = source.truth["protocols"][1]
    baseline = phase(data_dir, protocol, "baseline_1")
    edit_rows(data_dir, "phase_assignments", "endDate", {baseline["id"]: baseline["endDate"] - timedelta(days=1)})

    @dg.asset(deps=[dg.AssetKey("fct_protocol_daily_outcomes")])
    def analysis_stand_in() -> None:
        """Stands in for the analyses: must not run after a failed blocking check."""

    result = materialize(data_dir, analysis_stand_in)
    explanation = failed_checks(result)["assert_one_phase_per_protocol_day"].description
    assert f"protocol {protocol['protocolId']} on {baseline['endDate'].date()} is in 0 phases" in explanation
    assert "analysis_stand_in" not in materialized_keys(result)


@pytest.mark.slow
def test_a_day_without_activity_is_present_with_zeros_and_nulls(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    user = source.truth["protocols"][0]["userId"]
    quiet_day = date.fromisoformat(source.truth["protocols"][0]["startDate"]) + timedelta(days=3)
    path = data_dir / "raw" / "current" / "behavioral_events.parquet"
    events = pq.read_table(path)
    day = pc.cast(events.column("timestamp"), pa.date32())
    pq.write_table(events.filter(pc.invert(pc.and_(pc.equal(events.column("userId"), user),
                                                   pc.equal(day, pa.scalar(quiet_day, pa.date32()))))), path)
    build = run_dbt(data_dir, "build")
    assert build.returncode == 0, build.stdout[-3000:]
    rows = query(data_dir, f"""
        select date, {', '.join(METRICS)}, streak_days from fct_daily_user_metrics
        where user_id = ? and date between ? and ? order by date""",
                 [user, quiet_day - timedelta(days=1), quiet_day + timedelta(days=1)])
    before, quiet, after = rows
    assert quiet == (quiet_day, None, 0, 0.0, None, None, 0)
    assert before[-1] > 1 and after[-1] == 1


@pytest.mark.slow
def test_local_days_follow_the_timezone_var(source, tmp_path):
    data_dir = copy_snapshot(source, tmp_path / "data")
    build = run_dbt(data_dir, "build", AMERICANO_TIMEZONE="Pacific/Honolulu")
    assert build.returncode == 0, build.stdout[-3000:]
    zone, utc = ZoneInfo("Pacific/Honolulu"), ZoneInfo("UTC")
    events = query(data_dir, "select occurred_at, local_date from stg_behavioral_events")
    assert all(at.astimezone(zone).date() == local for at, local in events)
    assert sum(at.astimezone(zone).date() != at.astimezone(utc).date() for at, _ in events) > 1000
    protocol = source.truth["protocols"][0]
    [(first_day,)] = query(data_dir, "select min(date) from fct_protocol_daily_outcomes where protocol_id = ?",
                           [protocol["protocolId"]])
    assert first_day == date.fromisoformat(protocol["startDate"]) - timedelta(days=1)  # UTC midnight = 14:00 HST


@contextmanager
def lock_holder(database: Path):
    """Another process holding a write connection to ``database`` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                               "sys.stdin.read()", str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def table_counts(data_dir: Path) -> dict[str, int]:
    return {model: query(data_dir, f"select count(*) from {model}")[0][0] for model in sorted(MODELS)}


@pytest.fixture
def built_copy(source, built, tmp_path) -> Path:
    """A private copy of the built warehouse and its snapshot, for tests that lock or rebuild it."""
    data_dir = copy_snapshot(source, tmp_path / "data")
    shutil.copy(warehouse_path(source.data_dir), warehouse_path(data_dir))
    return data_dir


@pytest.mark.slow
def test_a_locked_warehouse_fails_after_the_timeout_naming_the_holder_and_stays_intact(built_copy):
    before = table_counts(built_copy)
    with lock_holder(warehouse_path(built_copy)) as holder:
        started = time.monotonic()
        build = run_dbt(built_copy, "build", AMERICANO_DUCKDB_LOCK_TIMEOUT="3")
        waited = time.monotonic() - started
    assert build.returncode != 0
    assert f"(PID {holder.pid})" in build.stdout and "waited 3 s (AMERICANO_DUCKDB_LOCK_TIMEOUT)" in build.stdout
    assert waited >= 3
    assert table_counts(built_copy) == before


@pytest.mark.slow
def test_a_lock_released_within_the_timeout_lets_the_build_finish(built_copy):
    with lock_holder(warehouse_path(built_copy)):
        build = subprocess_later(run_dbt, built_copy, "build", AMERICANO_DUCKDB_LOCK_TIMEOUT="120")
        time.sleep(4)
    assert build.result(timeout=600).returncode == 0


def subprocess_later(function, *args, **kwargs):
    """Start ``function`` in a thread now; the caller collects its result later."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(function, *args, **kwargs)
    executor.shutdown(wait=False)
    return future


@pytest.mark.slow
def test_dagster_reports_the_lock_holder(built_copy):
    with lock_holder(warehouse_path(built_copy)) as holder:
        result = materialize(built_copy, AMERICANO_DUCKDB_LOCK_TIMEOUT="1")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert f"(PID {holder.pid})" in failure.step_failure_data.error.message


@pytest.mark.slow
def test_an_invalid_lock_timeout_is_refused_with_the_value(built_copy):
    build = run_dbt(built_copy, "build", AMERICANO_DUCKDB_LOCK_TIMEOUT="soon")
    assert build.returncode != 0
    assert "AMERICANO_DUCKDB_LOCK_TIMEOUT must be a number of seconds >= 0, got 'soon'" in build.stdout
