"""Where things live, from environment variables with working local defaults (see .env.example).

Why one module: the CLI, the Dagster resources and the tests must agree on paths and URLs without importing
each other (and without importing Dagster, so the CLI starts fast).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 54329


def data_dir() -> Path:
    """Root of all generated data (snapshots, DuckDB, MLflow, the embedded cluster): AMERICANO_DATA_DIR."""
    return Path(os.environ.get("AMERICANO_DATA_DIR") or PROJECT_ROOT / "data").resolve()


def duckdb_path() -> Path:
    """The DuckDB warehouse file: AMERICANO_DUCKDB_PATH, default <data dir>/americano_analytics.duckdb.

    dbt_project/profiles.yml resolves the same variables to the same default, so dbt writes what Python reads.
    """
    return Path(os.environ.get("AMERICANO_DUCKDB_PATH") or data_dir() / "americano_analytics.duckdb").resolve()


def external_database_url() -> str | None:
    """AMERICANO_DATABASE_URL, when the user points the pipeline at an existing server."""
    return os.environ.get("AMERICANO_DATABASE_URL") or None


def pg_port() -> int:
    """Port of the embedded cluster: AMERICANO_PG_PORT, default 54329."""
    raw = os.environ.get("AMERICANO_PG_PORT") or str(DEFAULT_PG_PORT)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"AMERICANO_PG_PORT must be a port number 1-65535, got {raw!r}")
    return int(raw)


def dagster_home() -> Path:
    """DAGSTER_HOME, default data/dagster_home in the project (its dagster.yaml is checked in)."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "data" / "dagster_home").resolve()
