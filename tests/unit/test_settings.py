"""One configuration source: the environment, then the .env file, then the defaults."""

import subprocess
import sys

from americano_pipeline import settings

PROBE = ("from americano_pipeline import settings\n"
         "print(settings.data_dir()); print(settings.dagster_home()); print(settings.mlflow_tracking_uri())")


def resolved(env_file, **env: str) -> list[str]:
    """What a fresh process resolves with ``env_file`` as its .env and ``env`` as its whole environment."""
    result = subprocess.run([sys.executable, "-c", PROBE], env={"AMERICANO_ENV_FILE": str(env_file), **env},
                            capture_output=True, text=True, check=True, cwd="/")
    return result.stdout.splitlines()


def test_defaults_live_in_the_project(tmp_path):
    data, home, mlflow = resolved(tmp_path / "absent.env")
    assert (data, home) == (str(settings.PROJECT_ROOT / "data"), str(settings.PROJECT_ROOT / "data" / "dagster_home"))
    assert mlflow == f"sqlite:///{settings.PROJECT_ROOT / 'data' / 'mlflow' / 'mlflow.db'}"


def test_the_env_file_fills_what_the_environment_leaves_unset(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"AMERICANO_DATA_DIR={tmp_path / 'from-file'}\nDAGSTER_HOME={tmp_path / 'home-file'}\n")
    data, home, mlflow = resolved(env_file, DAGSTER_HOME=str(tmp_path / "home-env"))
    assert data == str(tmp_path / "from-file")
    assert home == str(tmp_path / "home-env")  # the environment wins
    assert mlflow == f"sqlite:///{tmp_path / 'from-file' / 'mlflow' / 'mlflow.db'}"


def test_every_data_path_is_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path))
    for path in (settings.raw_dir(), settings.current_snapshot_dir(), settings.quarantine_dir(),
                 settings.analysis_dir(), settings.demo_dir(), settings.restored_dir(), settings.postgres_dir(),
                 settings.mlflow_artifact_dir()):
        assert path.is_relative_to(tmp_path)
