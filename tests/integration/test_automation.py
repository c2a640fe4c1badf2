"""The nightly schedule and the new-phase sensor against the real PostgreSQL, and the runs they request executed
through the code location's own jobs (in-process executor, real dbt, DuckDB, MLflow)."""

import json

import pytest

import dagster as dg
from americano_pipeline.automation.schedules import nightly_schedule
from americano_pipeline.automation.sensors import NAME_TAG, new_phase_sensor
from americano_pipeline.source.connection import connect
from americano_pipeline.partitions import protocols, register_protocols
from americano_pipeline.resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

NEW_PHASE = """
    INSERT INTO phase_assignments (id, "protocolId", "phaseLabel", "phaseType", "startDate", "endDate",
                                   "plannedDuration", "randomizationSeed", "interventionParams")
    SELECT 'c' || repeat('n', 24), "protocolId", 'follow_up', 'BASELINE', "endDate" + interval '1 day', NULL, 14,
           "randomizationSeed", '{}'::jsonb
    FROM phase_assignments WHERE "protocolId" = %s ORDER BY "startDate" DESC LIMIT 1
"""


def tick(instance, url, cursor=None):
    # Contexts are entered and exited: an unexited context leaves Dagster's current-instance state pointing at
    # an instance that is later garbage-collected, which breaks unrelated tests afterwards.
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"postgres": PostgresResource(url=url)}) as context:
        return new_phase_sensor(context)


def protocol_ids(url) -> list[str]:
    with connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM experiment_protocols ORDER BY id")]


def test_sensor_registers_new_protocols_requests_once_and_reacts_to_a_new_phase(source_db):
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, source_db)
        ids = protocol_ids(source_db)
        assert sorted(r.partition_key for r in first.run_requests) == ids
        assert [r.partition_keys for r in first.dynamic_partitions_requests] == [ids]
        assert len({r.run_key for r in first.run_requests}) == len(ids)
        with connect(source_db) as conn:
            names = dict(conn.execute('SELECT id, "protocolName" FROM experiment_protocols').fetchall())
        assert {r.partition_key: r.tags[NAME_TAG] for r in first.run_requests} == names
        assert all(names.values())
        instance.add_dynamic_partitions(protocols.name, ids)  # what the daemon does with the request

        again = tick(instance, source_db, first.cursor)
        assert isinstance(again, dg.SkipReason) and "no phase started or ended" in again.skip_message

        with connect(source_db) as conn:
            conn.execute(NEW_PHASE, [ids[0]])
            conn.commit()
        changed = tick(instance, source_db, first.cursor)
        [request] = changed.run_requests
        assert request.partition_key == ids[0] and request.run_config == {"ops": {"raw_snapshot": {"config": {"days": 0}}}}
        assert changed.dynamic_partitions_requests == []
        assert json.loads(changed.cursor)[ids[1]] == json.loads(first.cursor)[ids[1]]
        assert isinstance(tick(instance, source_db, changed.cursor), dg.SkipReason)


def test_sensor_skips_with_the_reason_when_the_database_is_down():
    with dg.DagsterInstance.ephemeral() as instance:
        result = tick(instance, "postgresql://americano:x@127.0.0.1:1/americano", cursor='{"p": "s"}')
    assert isinstance(result, dg.SkipReason)
    assert "the study database is unavailable (cannot connect to PostgreSQL at 127.0.0.1:1/americano" in \
        result.skip_message and "cursor is kept" in result.skip_message


@pytest.mark.slow
def test_a_nightly_tick_requests_one_run_over_every_protocol_and_that_run_materializes_the_graph(
        source_db, data_dir, monkeypatch):
    from americano_pipeline.definitions import defs

    monkeypatch.setenv("AMERICANO_DATABASE_URL", source_db)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance,
                                       resources={"postgres": PostgresResource(url=source_db)}) as context:
            request = nightly_schedule(context)
        keys = instance.get_dynamic_partitions(protocols.name)
        assert sorted(keys) == protocol_ids(source_db)
        assert request.tags == {"dagster/asset_partition_range_start": keys[0],
                                "dagster/asset_partition_range_end": keys[-1]}
        result = defs.resolve_job_def("whole_graph").execute_in_process(
            instance=instance, tags=request.tags, run_config=request.run_config, raise_on_error=False)
    materialized = [e.materialization for e in result.get_asset_materialization_events()]
    assert sum(m.asset_key.path[0] == "raw" for m in materialized) == 5  # one snapshot for the whole night
    analyses = {(m.asset_key.path[-1], m.partition) for m in materialized if m.asset_key.path[0] == "analysis"}
    assert {key for _, key in analyses} == set(keys)
    assert {(asset, key) for asset, key in analyses if asset == "randomization_result"} == \
        {("randomization_result", key) for key in keys}
    failed = {e.step_key for e in result.get_step_failure_events()}
    assert failed <= {"analysis__its_result"}  # only a too-short baseline may fail, and alone


@pytest.mark.slow
def test_a_run_waits_for_the_duckdb_pool_instead_of_failing(source, tmp_path):
    """Another run holds the only `duckdb` pool slot: the dbt step waits for it, then builds."""
    import shutil
    import threading

    from tests.integration.warehouse_support import materialize

    data_dir = tmp_path / "data"
    shutil.copytree(source.data_dir / "raw" / "current", data_dir / "raw" / "current")
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb")
        assert storage.claim_concurrency_slot("duckdb", "another-run", "its-dbt-step").is_claimed
        outcome = {}
        build = threading.Thread(target=lambda: outcome.update(result=materialize(data_dir, instance=instance)))
        build.start()
        build.join(timeout=15)
        assert build.is_alive() and not (data_dir / "americano_analytics.duckdb").exists()  # waiting, not failing
        storage.free_concurrency_slots_for_run("another-run")
        build.join(timeout=300)
    result = outcome["result"]
    assert result.success
    waits = [e.message for e in result.all_events if "duckdb" in (e.message or "") and "pool" in e.message]
    assert waits, "the run did not report waiting for the duckdb pool"


@pytest.mark.slow
def test_a_killed_run_leaves_the_last_good_results_and_the_next_run_succeeds(source, built, tmp_path):
    """`dagster asset materialize` of the ITS results, SIGKILLed while it samples: every result.json is still a
    complete earlier result, and the next run publishes new ones."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from americano_pipeline import settings

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    env = {**os.environ, "DAGSTER_HOME": str(home), "AMERICANO_DATABASE_URL": source.url,
           "AMERICANO_DATA_DIR": str(source.data_dir),
           "AMERICANO_DUCKDB_PATH": str(source.data_dir / "americano_analytics.duckdb")}
    env.pop("MLFLOW_TRACKING_URI", None)
    bin_dir = Path(sys.executable).parent
    span = subprocess.run([str(bin_dir / "americano"), "protocols", "--range"], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()
    command = [str(bin_dir / "dagster"), "asset", "materialize", "-m", "americano_pipeline.definitions",
               "--select", "analysis/its_result", "--partition-range", span]

    def results() -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in (source.data_dir / "analysis" / "its_result").glob("*/result.json")}

    subprocess.run(command, env=env, capture_output=True, timeout=600, cwd=settings.PROJECT_ROOT)
    before = results()
    assert len(before) >= 5  # one protocol's baseline is too short for the ITS (see test_analysis)

    log = tmp_path / "killed.log"
    with log.open("w") as output:
        run = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=settings.PROJECT_ROOT)
        deadline = time.monotonic() + 300
        while "STEP_START" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # inside the step: reading the warehouse, sampling, publishing
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert "STEP_START" in log.read_text() and "RUN_SUCCESS" not in log.read_text() \
        and "RUN_FAILURE" not in log.read_text()  # killed inside the step, not after it
    after_kill = results()
    assert set(after_kill) == set(before)
    for path, payload in after_kill.items():
        assert json.loads(payload)["provenance"]["method"] == "bayesian_its", path  # whole, parseable results

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=settings.PROJECT_ROOT)
    assert rerun.returncode == 0 or "the pre period has 6 observations" in rerun.stdout + rerun.stderr
    renewed = results()
    assert set(renewed) == set(before)
    assert all(json.loads(renewed[path])["provenance"]["dagsterRunId"] !=
               json.loads(before[path])["provenance"]["dagsterRunId"] for path in renewed)


def test_a_protocol_id_that_is_not_a_cuid_is_reported_and_never_becomes_a_partition(source_db):
    bad = ["../../../tmp/x", "a,b [c]*"]
    with connect(source_db) as conn:
        # The project's schema refuses such ids; an app database managed by Prisma may not (schema.sql says so).
        conn.execute('ALTER TABLE experiment_protocols DROP CONSTRAINT "experiment_protocols_id_cuid"')
        for protocol_id in bad:
            conn.execute("CREATE TEMP TABLE rogue AS SELECT * FROM experiment_protocols LIMIT 1")
            conn.execute("UPDATE rogue SET id = %s", [protocol_id])
            conn.execute("INSERT INTO experiment_protocols SELECT * FROM rogue")
            conn.execute("DROP TABLE rogue")
        conn.commit()
    good = [protocol_id for protocol_id in protocol_ids(source_db) if protocol_id not in bad]
    with dg.DagsterInstance.ephemeral() as instance:
        reported = []
        added = register_protocols(instance, PostgresResource(url=source_db), report=reported.append)
        assert sorted(added) == good and sorted(instance.get_dynamic_partitions(protocols.name)) == good
        assert sorted(reported) == sorted(
            f"experiment_protocols row with id {protocol_id!r}: not a CUID ('c' + 24 lowercase letters or digits), "
            "so it is not registered as a protocol partition; fix the id in the study database" for protocol_id in bad)
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, source_db)
        assert sorted(r.partition_key for r in first.run_requests) == good
        assert [sorted(r.partition_keys) for r in first.dynamic_partitions_requests] == [good]
