"""Every path and URL of the pipeline, resolved one way: the environment, then the project's ``.env`` (or the file
``AMERICANO_ENV_FILE`` names), then a working local default (``.env.example`` lists them all).

Why one module: the CLI, the Dagster code location, the dbt subprocesses it starts and the tests must agree on
where things live without importing each other (and without importing Dagster, so the CLI starts fast). On
import, the values of ``<project>/.env`` are put into ``os.environ`` for every variable the environment does not
already set, so child processes (dbt, the Dagster CLI a test starts) see the same configuration.
``americano env`` prints the resolved values as ``export`` lines for a shell.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 54329


def env_file() -> Path:
    """AMERICANO_ENV_FILE, default ``<project>/.env`` (git-ignored; the file Dagster's CLI reads there too)."""
    return Path(os.environ.get("AMERICANO_ENV_FILE") or PROJECT_ROOT / ".env")


def _apply_env_file() -> None:
    """Fill unset environment variables from ``env_file()`` (KEY=VALUE lines; the environment always wins)."""
    path = env_file()
    if not path.is_file():
        return
    from dotenv import dotenv_values

    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value


_apply_env_file()


def data_dir() -> Path:
    """Root of all generated data (snapshots, DuckDB, MLflow, the embedded cluster): AMERICANO_DATA_DIR."""
    return Path(os.environ.get("AMERICANO_DATA_DIR") or PROJECT_ROOT / "data").resolve()


def raw_dir() -> Path:
    """The snapshot store: ``<table>/<snapshot_id>.parquet`` per extract and the current cut in ``current/``."""
    return data_dir() / "raw"


def current_snapshot_dir() -> Path:
    """The validated cut the warehouse reads (``<table>.parquet``), DVC-versioned as ``current.dvc`` beside it."""
    return raw_dir() / "current"


def quarantine_dir() -> Path:
    """Rows that failed the snapshot checks: ``<table>/<snapshot_id>.parquet``."""
    return data_dir() / "quarantine"


def analysis_dir() -> Path:
    """Published results: ``<asset>/<protocol_id>/result.json`` and the figures."""
    return data_dir() / "analysis"


def reports_dir() -> Path:
    """The CENT reports: ``<protocol_id>/report.html`` and ``report.pdf`` (asset ``report/cent_report``)."""
    return data_dir() / "reports"


def demo_dir() -> Path:
    """What ``americano demo``/``seed`` write for the user to read: the planted ground truth, the dbt log."""
    return data_dir() / "demo"


def ground_truth_path() -> Path:
    return demo_dir() / "ground_truth.json"


def wearables_sync_enabled(environ=None) -> bool:
    """ENABLE_WEARABLES_SYNC: "true" or "1" (any case, surrounding blanks ignored) lets the pipeline call the Oura and
    WHOOP APIs; anything else, or unset, keeps it off, so no deployment syncs health data by accident. Read here, not
    in ``context``, so the schedule can ask without importing the vendors' clients."""
    value = (os.environ if environ is None else environ).get("ENABLE_WEARABLES_SYNC", "")
    return value.strip().lower() in ("true", "1")


def wearables_dir() -> Path:
    """The Oura and WHOOP sync's files: the landing file of each day, ``days/<YYYY-MM-DD>.parquet``, which
    ``context/wearable_days`` writes and its check and ``context/imported_context`` read."""
    return data_dir() / "wearables"


def wearable_tokens_dir() -> Path:
    """The users' encrypted OAuth tokens (``context.oauth.TokenStore``, one file per user and vendor, and its key):
    AMERICANO_WEARABLE_TOKENS_DIR, default <wearables dir>/tokens. Point it elsewhere to keep the tokens out of the
    data directory's backups."""
    return Path(os.environ.get("AMERICANO_WEARABLE_TOKENS_DIR") or wearables_dir() / "tokens").resolve()


def restored_dir() -> Path:
    """Default parent of ``americano restore`` targets."""
    return data_dir() / "restored"


def postgres_dir() -> Path:
    """The embedded cluster: its data files, socket, server log and generated credentials."""
    return data_dir() / "postgres"


def duckdb_path() -> Path:
    """The DuckDB warehouse file: AMERICANO_DUCKDB_PATH, default <data dir>/americano_analytics.duckdb.

    dbt_project/profiles.yml resolves the same variables to the same default, so dbt writes what Python reads.
    """
    return Path(os.environ.get("AMERICANO_DUCKDB_PATH") or data_dir() / "americano_analytics.duckdb").resolve()


def mlflow_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, default a SQLite store ``<data dir>/mlflow/mlflow.db`` (MLflow 3 refuses ./mlruns)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def mlflow_ui_url() -> str:
    """AMERICANO_MLFLOW_UI_URL: where the MLflow UI serves the tracking store (``make mlflow-ui``), for links to runs
    from the Dagster UI and the reports; default http://127.0.0.1:5000."""
    return (os.environ.get("AMERICANO_MLFLOW_UI_URL") or "http://127.0.0.1:5000").rstrip("/")


def mlflow_run_url(experiment_id: str, run_id: str) -> str:
    """The MLflow UI's page of one run."""
    return f"{mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_artifact_dir() -> Path:
    """Artifacts of experiments created on a database store: ``<data dir>/mlflow/artifacts/<experiment>``."""
    return data_dir() / "mlflow" / "artifacts"


def dvc_remote() -> str | None:
    """AMERICANO_DVC_REMOTE: a DVC remote (a local directory works) every snapshot version is pushed to."""
    return os.environ.get("AMERICANO_DVC_REMOTE") or None


def external_database_url() -> str | None:
    """AMERICANO_DATABASE_URL, when the user points the pipeline at an existing server: its read-only login."""
    return os.environ.get("AMERICANO_DATABASE_URL") or None


def external_writer_url() -> str | None:
    """AMERICANO_WRITER_DATABASE_URL: the provenance login on that server (unset: AMERICANO_DATABASE_URL's)."""
    return os.environ.get("AMERICANO_WRITER_DATABASE_URL") or None


def external_admin_url() -> str | None:
    """AMERICANO_ADMIN_DATABASE_URL: the login that owns the schema on that server (unset: AMERICANO_DATABASE_URL's)."""
    return os.environ.get("AMERICANO_ADMIN_DATABASE_URL") or None


def external_api_url() -> str | None:
    """AMERICANO_API_DATABASE_URL: the research API's row-level-security login on that server (unset:
    AMERICANO_DATABASE_URL's, which then enters americano_api with SET ROLE)."""
    return os.environ.get("AMERICANO_API_DATABASE_URL") or None


def api_secret_path() -> Path:
    """The research API's token-signing secret, generated at its first start (mode 0600): AMERICANO_API_SECRET_FILE,
    default <data dir>/api/secret."""
    return Path(os.environ.get("AMERICANO_API_SECRET_FILE") or data_dir() / "api" / "secret").resolve()


def api_cors_origins() -> tuple[str, ...]:
    """AMERICANO_API_CORS_ORIGINS: comma-separated origins (e.g. the study app's) allowed to call the research API
    from a browser; none by default."""
    raw = os.environ.get("AMERICANO_API_CORS_ORIGINS") or ""
    return tuple(origin.strip() for origin in raw.split(",") if origin.strip())


def pg_port() -> int:
    """Port of the embedded cluster: AMERICANO_PG_PORT, default 54329."""
    raw = os.environ.get("AMERICANO_PG_PORT") or str(DEFAULT_PG_PORT)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"AMERICANO_PG_PORT must be a port number 1-65535, got {raw!r}")
    return int(raw)


def timezone_name() -> str:
    """AMERICANO_TIMEZONE: the IANA zone that cuts instants into the user's calendar days, default UTC."""
    return os.environ.get("AMERICANO_TIMEZONE") or "UTC"


def dagster_home() -> Path:
    """DAGSTER_HOME, default data/dagster_home in the project (its dagster.yaml is checked in)."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "data" / "dagster_home").resolve()


def use_dagster_home() -> Path:
    """Put the resolved DAGSTER_HOME into the environment (Dagster reads it there) and return it."""
    home = dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def shell_environment() -> dict[str, str]:
    """The resolved settings a shell needs so that ``dagster``, ``dbt`` and ``mlflow`` commands agree with the
    pipeline (``americano env``); the database URL is left out, as it may hold a password."""
    return {
        "DAGSTER_HOME": str(dagster_home()),
        "AMERICANO_DATA_DIR": str(data_dir()),
        "AMERICANO_DUCKDB_PATH": str(duckdb_path()),
        "AMERICANO_TIMEZONE": timezone_name(),
        "MLFLOW_TRACKING_URI": mlflow_tracking_uri(),
    }
