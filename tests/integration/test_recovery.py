"""A run killed with SIGKILL in the snapshot or in dbt no longer blocks the next one: ``americano runs recover``
marks it failed, frees its pool slot and ends what it left running (issue #13)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from americano_pipeline import settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAGSTER = str(Path(sys.executable).parent / "dagster")
JOB = [DAGSTER, "job", "execute", "-m", "americano_pipeline.definitions", "-j", "snapshot_and_warehouse"]


@pytest.fixture
def deployment(source_db, tmp_path) -> dict:
    """The environment of a command-line deployment: its own Dagster home (the project's dagster.yaml, pools of
    one), data directory and seeded source database."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    data = tmp_path / "data"
    data.mkdir()
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AMERICANO_", "MLFLOW_"))}
    return {**environment, "DAGSTER_HOME": str(home), "AMERICANO_DATA_DIR": str(data),
            "AMERICANO_DATABASE_URL": source_db}


def processes_of(deployment: dict, variable: str = "AMERICANO_DATA_DIR") -> list[int]:
    """Processes running with this deployment's data directory in their environment."""
    marker = f"{variable}={deployment[variable]}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def dbt_running(deployment: dict) -> bool:
    return any(b"DAGSTER_DBT_CLI=true" in Path(f"/proc/{pid}/environ").read_bytes()
               for pid in processes_of(deployment) if Path(f"/proc/{pid}").exists())


def step_started(deployment: dict, step: str) -> bool:
    with dg.DagsterInstance.from_config(deployment["DAGSTER_HOME"]) as instance:
        return any(entry.step_key == step for record in instance.get_run_records()
                   for entry in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START))


def wait_for(condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def killed_run(deployment: dict, when) -> None:
    """Start the job from the command line and SIGKILL its process (only it: its children live on) at ``when``."""
    process = subprocess.Popen(JOB, env=deployment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(when)
    finally:
        process.kill()
        process.wait(timeout=30)


def recover(deployment: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "americano_pipeline.cli", "runs", "recover"], env=deployment,
                          capture_output=True, text=True, timeout=120)


def statuses(deployment: dict) -> list[dg.DagsterRunStatus]:
    with dg.DagsterInstance.from_config(deployment["DAGSTER_HOME"]) as instance:
        return [record.dagster_run.status for record in instance.get_run_records()]


@pytest.mark.parametrize("killed_in", ["raw_snapshot", "warehouse"])
def test_a_run_killed_in_the_snapshot_or_in_dbt_is_recovered_and_the_next_run_completes(deployment, killed_in):
    if killed_in == "warehouse":
        killed_run(deployment, lambda: dbt_running(deployment))
    else:
        killed_run(deployment, lambda: step_started(deployment, "raw_snapshot"))
    assert statuses(deployment) == [dg.DagsterRunStatus.STARTED]  # what blocked every later run before

    recovered = recover(deployment)
    assert recovered.returncode == 0, recovered.stderr
    [line] = recovered.stdout.splitlines()
    assert "(snapshot_and_warehouse): its process is gone; marked failed, pool slots freed" in line
    if killed_in == "warehouse":
        assert "; ended leftover processes" in line
    assert processes_of(deployment) == []  # no step worker or dbt left writing
    assert statuses(deployment) == [dg.DagsterRunStatus.FAILURE]
    assert recover(deployment).stdout.strip() == "no dead runs: every run in progress still has its process"

    rerun = subprocess.run(JOB, env=deployment, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert statuses(deployment)[0] == dg.DagsterRunStatus.SUCCESS
