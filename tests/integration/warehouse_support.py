"""Helpers shared by the warehouse and analysis tests: the environment that points dbt and the readers at one
data directory, and materializing the dbt assets through Dagster with the real DbtCliResource."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

import dagster as dg
from americano_pipeline.assets.dbt import dbt_resource, warehouse_dbt_assets
from americano_pipeline.demo.synthetic import SeedConfig
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource

STUDY = SeedConfig(users=2, days=290, events_per_day=30, seed=7, end_date=date(2026, 10, 31))


@dataclass(frozen=True)
class Source:
    url: str
    data_dir: Path  # holds raw/current/<table>.parquet, versioned by DVC
    truth: dict
    data_version: str  # the DVC hash of raw/current


def warehouse_path(data_dir: Path) -> Path:
    return data_dir / "americano_analytics.duckdb"


@contextmanager
def warehouse_env(data_dir: Path, **extra: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AMERICANO_DATA_DIR", str(data_dir))
        patch.setenv("AMERICANO_DUCKDB_PATH", str(warehouse_path(data_dir)))
        patch.delenv("AMERICANO_TIMEZONE", raising=False)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        for key, value in extra.items():
            patch.setenv(key, value)
        yield


def materialize(data_dir: Path, *extra_assets, instance: dg.DagsterInstance | None = None,
                **env: str) -> dg.ExecuteInProcessResult:
    """Materialize the dbt assets (and ``extra_assets``) through Dagster with the real DbtCliResource."""
    with warehouse_env(data_dir, **env):
        return dg.materialize([warehouse_dbt_assets, *extra_assets], instance=instance,
                              resources={"dbt": dbt_resource(), "mlflow_tracking": MlflowTrackingResource()},
                              raise_on_error=False)
