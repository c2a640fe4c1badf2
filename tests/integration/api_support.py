"""The research API served for real on loopback (uvicorn in a thread of the test process), with its own secret,
the study's warehouse and results, and the database's americano_api login. The fixtures are imported by the API
test modules (each serves its own instance)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from americano_pipeline.api.app import ApiConfig, create_app
from americano_pipeline.assets.analysis import analysis_assets
from americano_pipeline.partitions import partition_range_tags, register_protocols
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source.connection import API_ROLE, WRITER_ROLE
from tests.integration.warehouse_support import warehouse_env
from tests.support import login_url, serving

SECRET = b"test-secret"


def served(config: ApiConfig):
    """The app of ``config`` on http://127.0.0.1:<port>; a context manager yielding its base URL."""
    return serving(create_app(config), "the API server")


def api_config(database_url: str, analysis_root: Path, **overrides) -> ApiConfig:
    return ApiConfig(secret=SECRET, database_url=database_url, analysis_root=analysis_root, **overrides)


@pytest.fixture(scope="module")
def published(source, built):
    """The randomization results of every protocol, published by the pipeline's own asset."""
    assert built.success
    with dg.DagsterInstance.ephemeral() as instance, warehouse_env(source.data_dir):
        keys = register_protocols(instance, PostgresResource(url=source.url))
        outcome = dg.materialize(
            analysis_assets, instance=instance, tags=partition_range_tags(keys),
            selection=[dg.AssetKey(["analysis", "randomization_result"])],
            resources={"postgres": PostgresResource(url=source.url), "mlflow_tracking": MlflowTrackingResource()},
            raise_on_error=False)
    assert outcome.success
    return keys


@pytest.fixture(scope="module")
def base_url(source, pg_cluster, published):
    config = api_config(login_url(pg_cluster, source.url, API_ROLE), source.data_dir / "analysis",
                        writer_url=login_url(pg_cluster, source.url, WRITER_ROLE))
    with warehouse_env(source.data_dir), served(config) as url:
        yield url
