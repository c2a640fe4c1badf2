"""The `americano` command end to end: database lifecycle (as root and as a normal user), clear errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from americano_pipeline.demo.protocols import DESIGNS
from tests.support import free_port

pytestmark = pytest.mark.integration

AMERICANO = [sys.executable, "-m", "americano_pipeline.cli"]


def _env(data_dir: Path, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "AMERICANO_DATABASE_URL"}
    env.update(AMERICANO_DATA_DIR=str(data_dir), AMERICANO_PG_PORT=str(port), **extra)
    return env


def _run(env, *args, command=AMERICANO, user=None):
    """``command args`` as ``user``; a bound on its time so a hang fails (the whole demo takes 80-140 s on 2 cores,
    more while other jobs share them), not a speed target."""
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, *command, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="americano-cli-"))
    path.chmod(0o755)  # like a normal data directory: the server user must be able to enter it
    yield path
    subprocess.run(["pkill", "-f", "--", f"-D {path}"], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def test_lifecycle_start_status_stop_start_and_stale_pid_recovery(data_dir):
    env = _env(data_dir, free_port())
    first = _run(env, "db", "start")
    assert first.returncode == 0, first.stderr
    assert "PostgreSQL started" in first.stdout and "schema created" in first.stdout
    again = _run(env, "db", "start")
    assert again.returncode == 0 and "already running" in again.stdout
    status = json.loads(_run(env, "db", "status").stdout)
    assert status["running"] and status["initialized"]
    pid = status["pid"]

    assert "stopped" in _run(env, "db", "stop").stdout
    assert json.loads(_run(env, "db", "status").stdout)["running"] is False
    assert "was not running" in _run(env, "db", "stop").stdout
    restarted = _run(env, "db", "start")
    assert restarted.returncode == 0 and "PostgreSQL started" in restarted.stdout
    assert "schema created" not in restarted.stdout  # the data survived the restart

    crashed_pid = json.loads(_run(env, "db", "status").stdout)["pid"]
    assert crashed_pid != pid
    os.kill(crashed_pid, signal.SIGKILL)
    pid_file = data_dir / "postgres" / "cluster" / "postmaster.pid"
    subprocess.run(["pkill", "-9", "-f", "--", f"-D {data_dir}"], capture_output=True)
    assert pid_file.exists()  # a crash leaves the pid file behind
    recovered = _run(env, "db", "start")
    assert recovered.returncode == 0, recovered.stderr
    assert json.loads(_run(env, "db", "status").stdout)["running"]
    seeded = _run(env, "seed", "--end-date", "2026-10-31")
    assert seeded.returncode == 0, seeded.stderr
    assert "behavioral_events" in seeded.stdout and "events/s" in seeded.stdout
    assert "removed the local cluster" in _run(env, "db", "reset").stdout
    assert json.loads(_run(env, "db", "status").stdout) == {
        **json.loads(_run(env, "db", "status").stdout), "initialized": False, "running": False}
    assert "schema created" in _run(env, "db", "start").stdout  # a reset cluster starts empty
    _run(env, "db", "stop")


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3.11").exists(),
                    reason="needs root to switch to an unprivileged user, and Debian's python3.11")
def test_runs_as_a_normal_user(data_dir):
    """The same commands as an unprivileged account (no runuser inside): the server runs as that user."""
    project = Path(__file__).resolve().parents[2]
    site = next((project / ".venv" / "lib").glob("python3.11/site-packages"))
    shutil.chown(data_dir, "nobody", "nogroup")
    env = _env(data_dir, free_port(), PYTHONPATH=f"{project}:{site}", HOME=str(data_dir))
    command = ["/usr/bin/python3.11", "-m", "americano_pipeline.cli"]
    started = _run(env, "db", "start", command=command, user="nobody")
    assert started.returncode == 0, started.stderr
    status = json.loads(_run(env, "db", "status", command=command, user="nobody").stdout)
    owner = subprocess.run(["ps", "-o", "user=", "-p", str(status["pid"])], capture_output=True, text=True).stdout
    assert owner.strip() == "nobody"
    assert _run(env, "db", "stop", command=command, user="nobody").returncode == 0


@pytest.mark.parametrize("url, fragment", [
    ("postgresql://someone:pw@127.0.0.1:1/studydb", "cannot connect to PostgreSQL at 127.0.0.1:1/studydb as someone"),
    ("not a url", "AMERICANO_DATABASE_URL is not a valid PostgreSQL URL"),
])
def test_unreachable_database_gives_one_clear_line(data_dir, url, fragment):
    result = _run(_env(data_dir, free_port(), AMERICANO_DATABASE_URL=url), "demo")
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, fragment", [
    (["seed", "--days", "-3"], "argument --days: must be an integer from 277 to 3650, got '-3'"),
    (["seed", "--days", "30"], "argument --days: must be an integer from 277 to 3650, got '30'"),
    (["seed", "--users", "0"], "argument --users: must be an integer from 1 to 1000, got '0'"),
    (["seed", "--end-date", "yesterday"], "argument --end-date: must be a date (YYYY-MM-DD) from 2000-01-01 to"),
    (["seed", "--bogus"], "unrecognized arguments: --bogus"),
    (["db", "explode"], "invalid choice: 'explode'"),
])
def test_invalid_cli_values_are_rejected_with_usage(data_dir, args, fragment):
    result = _run(_env(data_dir, free_port()), *args)
    assert result.returncode == 2
    assert "usage: americano" in result.stderr and fragment in result.stderr


@pytest.mark.parametrize("command", [["seed"], ["prepare"], ["db", "start"]], ids=" ".join)
def test_a_data_directory_below_a_file_is_named_in_one_line(data_dir, command):
    blocker = data_dir / "a-file"
    blocker.write_text("")
    result = _run(_env(blocker / "data", free_port()), *command)
    assert (result.returncode, result.stderr) == (1, f"americano: error: cannot use {blocker}/data/postgres: "
                                                     "Not a directory\n")


def test_demo_prints_rows_and_data_version_and_restore_rebuilds_it(data_dir):
    env = _env(data_dir, free_port(), DAGSTER_HOME=str(data_dir / "dagster_home"))
    (data_dir / "dagster_home").mkdir()
    demo = _run(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "source database rows:" in demo.stdout and "planted ground truth" in demo.stdout
    lines = [line for line in demo.stdout.splitlines() if line.strip().startswith("raw/")]
    assert len(lines) == 5 and all("check passed" in line for line in lines)
    assert "dbt: 12 models built, 120 of 120 checks passed" in demo.stdout
    flat = " ".join(demo.stdout.split())
    assert "1/17 = 0.0588 > alpha = 0.05" in flat  # the 44-day AB design, under the table
    assert "drift report of snapshot" in flat and "context: latest" in flat
    found = flat.split("context-outcome relations")[1].split("pairs; found ")[1].split("; planted nulls found: ")
    assert "sleep_hours -> mean_performance (q" in found[0]  # the planted relation, and no planted null
    assert found[1].startswith("none")
    table = demo.stdout.split("analysis run ")[1].splitlines()[1:-1]
    assert table and max(map(len, table)) <= 120
    summary = demo.stdout.split("daily outcomes per protocol and phase")[1]
    protocols = [line for line in summary.splitlines() if "B - A" in line]
    assert [line.split()[1] for line in protocols] == [d.design_type for d in DESIGNS]  # in start order
    assert all(float(line.split("B - A ")[1].rstrip(")")) > 5  # the planted effects on the primary outcome
               for line, design in zip(protocols, DESIGNS) if design.true_effect)
    version = lines[0].split("data version ")[1].strip()
    assert version.endswith(".dir") and all(line.endswith(version) for line in lines)
    restored = _run(env, "restore", version, "--to", str(data_dir / "restored"))
    assert restored.returncode == 0, restored.stderr
    current = data_dir / "raw" / "current"
    assert {p.name: p.read_bytes() for p in (data_dir / "restored").iterdir()} == \
        {p.name: p.read_bytes() for p in current.iterdir()}
    missing = _run(env, "restore", "0" * 32 + ".dir")
    assert missing.returncode == 1 and "is not in the DVC cache" in missing.stderr
    _run(env, "db", "stop")
