"""The warehouse is published only by a build that passed, and the analyses record the cut its marts were built
from (issue #13: a failing dbt check left the previous marts in place while a later analysis recorded the newer
cut's hash)."""

import hashlib
import shutil
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from americano_pipeline.demo.protocols import DESIGNS
from americano_pipeline.analysis.marts import MartsReader
from americano_pipeline.assets.analysis import analysis_assets
from americano_pipeline.lineage.warehouse_release import WarehouseNotReleased, staging_path
from americano_pipeline.partitions import protocols
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from tests.integration.test_warehouse import edit_rows, failed_checks
from tests.integration.warehouse_support import materialize, warehouse_env, warehouse_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEWER_CUT = "f" * 32 + ".dir"
CHECK = "assert_primary_outcome_is_a_catalogue_metric"


@pytest.fixture
def published(source, built, tmp_path):
    """A private copy of the built warehouse and of its snapshot, whose pointer now names a newer cut."""
    assert built.success
    data_dir = tmp_path / "data"
    shutil.copytree(source.data_dir / "raw" / "current", data_dir / "raw" / "current")
    (data_dir / "raw" / "current.dvc").write_text(f"outs:\n- md5: {NEWER_CUT}\n  path: current\n")
    shutil.copy(warehouse_path(source.data_dir), warehouse_path(data_dir))
    return data_dir


def marts(data_dir) -> dict:
    with duckdb.connect(str(warehouse_path(data_dir)), read_only=True) as conn:
        return {"protocols": conn.execute("select protocol_id, primary_outcome from dim_protocols order by 1").fetchall(),
                "days": conn.execute("select count(*) from fct_protocol_daily_outcomes").fetchall()}


def test_a_passing_build_records_the_cut_it_read(built, source):
    with MartsReader(warehouse_path(source.data_dir)) as reader:
        assert reader.release().data_version == source.data_version
    assert not staging_path(warehouse_path(source.data_dir)).exists()


def file_hash(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_failed_build_leaves_the_marts_and_their_version_and_the_analyses_refuse(published, source):
    before, untouched = marts(published), file_hash(warehouse_path(published))
    victim = source.truth["protocols"][0]["protocolId"]
    edit_rows(published, "experiment_protocols", "primaryOutcome", {victim: "focus_score"})
    failed = materialize(published)
    assert not failed.success and set(failed_checks(failed)) == {CHECK}
    assert marts(published) == before and file_hash(warehouse_path(published)) == untouched
    assert not staging_path(warehouse_path(published)).exists()
    with MartsReader(warehouse_path(published)) as reader, pytest.raises(WarehouseNotReleased) as refused:
        reader.release()
    assert f"failed its blocking checks: {CHECK}; the marts in {warehouse_path(published)} are not analysed until a " \
           "build passes" in str(refused.value)

    with dg.DagsterInstance.ephemeral() as instance, warehouse_env(published):
        instance.add_dynamic_partitions(protocols.name, [victim])
        analysis = dg.materialize(analysis_assets, instance=instance, partition_key=victim, raise_on_error=False,
                                  resources={"postgres": PostgresResource(url=source.url),
                                             "mlflow_tracking": MlflowTrackingResource()})
    assert not analysis.success and not (published / "analysis").exists()
    failures = [e.step_failure_data.error.to_string() for e in analysis.get_step_failure_events()]
    assert len(failures) == 4 and all(f"failed its blocking checks: {CHECK}" in message for message in failures)

    edit_rows(published, "experiment_protocols", "primaryOutcome", {victim: "engagement_score"})
    assert materialize(published).success
    with MartsReader(warehouse_path(published)) as reader:
        assert reader.release().data_version == NEWER_CUT


def test_a_reader_holding_the_published_warehouse_never_blocks_a_build(published):
    """The analyses and the research API read while dbt builds: the build never needs the published file's lock,
    and the reader keeps the marts it opened."""
    script = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print('ready', flush=True); "
              "sys.stdin.read(); print(c.execute('select count(*) from dim_protocols').fetchone()[0])")
    reader = subprocess.Popen([sys.executable, "-c", script, str(warehouse_path(published))], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "ready"
        assert materialize(published, AMERICANO_DUCKDB_LOCK_TIMEOUT="1").success
    finally:
        reader.stdin.close()
    assert reader.stdout.read().strip() == str(2 * len(DESIGNS)) and reader.wait(timeout=30) == 0  # 2 users
    with MartsReader(warehouse_path(published)) as marts_reader:
        assert marts_reader.release().data_version == NEWER_CUT
