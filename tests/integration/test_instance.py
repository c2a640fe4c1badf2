"""The deployment instance (data/dagster_home_postgres/dagster.yaml): Dagster's own storage in PostgreSQL through
dagster-postgres, exercised once against the local server with a real materialization and partition set, the
source read through the pipeline's read-only login as in a deployment."""

import shutil

import pytest

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.assets.raw import raw_snapshot
from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.demo.protocols import DESIGNS
from americano_pipeline.partitions import protocols, register_protocols
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from tests.support import login_url

pytestmark = pytest.mark.integration


def test_runs_materializations_and_partitions_live_in_postgres(pg_cluster, source_db, data_dir, tmp_path,
                                                               monkeypatch):
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "dagster_instance" WITH (FORCE)')
        conn.execute('CREATE DATABASE "dagster_instance"')
    storage_url = pg_cluster.url("dagster_instance")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.PROJECT_ROOT / "data" / "dagster_home_postgres" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", storage_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    postgres = PostgresResource(url=login_url(pg_cluster, source_db, READER_ROLE))
    with dg.DagsterInstance.get() as instance:
        added = register_protocols(instance, postgres)
        result = dg.materialize(
            [raw_snapshot], instance=instance, run_config={"ops": {"raw_snapshot": {"config": {"days": 0}}}},
            resources={"postgres": postgres, "data_versioning": DataVersioningResource(),
                       "mlflow_tracking": MlflowTrackingResource()})
        assert result.success and len(added) == 2 * len(DESIGNS)  # 2 users
        assert instance.get_dynamic_partitions(protocols.name) == added
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", "behavioral_events"])).run_id == \
            result.run_id
    with connect(storage_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id = %s", [result.run_id]).fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = "
                            "'ASSET_MATERIALIZATION'", [result.run_id]).fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM dynamic_partitions WHERE partitions_def_name = 'protocols'"
                            ).fetchone()[0] == 2 * len(DESIGNS)
    assert not any(home.glob("**/*.db"))  # nothing fell back to SQLite
