"""The `americano` command answers --help without importing anything heavy, `americano env` hands the resolved
settings to a shell, and `americano seed` refuses sizes and dates outside its stated bounds as usage errors."""

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from americano_pipeline import cli
from americano_pipeline.cli import main

HEAVY = ("dagster", "psycopg", "pandas", "numpy", "pyarrow", "duckdb", "dvc", "mlflow")
COMMANDS = ([], ["db"], ["seed"], ["demo"], ["prepare"], ["protocols"], ["restore"], ["env"], ["protocol"],
            ["protocol", "new"], ["reproduce"])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "americano")
def test_help_imports_nothing_heavy(command):
    probe = ("import sys\nfrom americano_pipeline.cli import main\n"
             f"try:\n    main({[*command, '--help']!r})\nexcept SystemExit as exit:\n    assert exit.code == 0\n"
             f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "heavy:"
    assert "usage: americano" in result.stdout


def test_env_prints_exports_a_shell_can_evaluate(tmp_path):
    data_dir = tmp_path / "data with space"
    script = f'eval "$({sys.executable} -m americano_pipeline.cli env)" && echo "$AMERICANO_DATA_DIR|$DAGSTER_HOME"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                            env={"AMERICANO_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(tmp_path / "home"),
                                 "AMERICANO_ENV_FILE": str(tmp_path / "none.env"), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == f"{data_dir}|{tmp_path / 'home'}"


@pytest.fixture
def no_database(tmp_path, monkeypatch):
    """An unreachable database and a private data directory: a value that passed the parser fails to connect."""
    monkeypatch.setenv("AMERICANO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path / "data"))


def yesterday() -> date:
    """Read when a test runs, not when it is collected, so a run that crosses midnight UTC still agrees."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)



@pytest.mark.parametrize("option, value, bounds", [
    ("--users", "0", "an integer from 1 to 1000"),
    ("--users", "1001", "an integer from 1 to 1000"),
    ("--days", "276", "an integer from 277 to 3650"),
    ("--days", "99999999", "an integer from 277 to 3650"),
    ("--events-per-day", "7", "an integer from 8 to 1000"),
    ("--events-per-day", "100000000000000000000", "an integer from 8 to 1000"),
    ("--events-per-day", "1e20", "an integer from 8 to 1000"),
    ("--end-date", "0001-01-01", "a date (YYYY-MM-DD) from 2000-01-01 to {yesterday} (yesterday, UTC)"),
    ("--end-date", "9999-12-31", "a date (YYYY-MM-DD) from 2000-01-01 to {yesterday} (yesterday, UTC)"),
    ("--end-date", "{today}",
     "a date (YYYY-MM-DD) from 2000-01-01 to {yesterday} (yesterday, UTC)"),
])
def test_seed_sizes_and_dates_outside_their_bounds_are_usage_errors(no_database, capsys, option, value, bounds):
    value = value.format(today=yesterday() + timedelta(days=1))
    bounds = bounds.format(yesterday=yesterday())
    with pytest.raises(SystemExit) as exit:
        main(["seed", option, value])
    assert exit.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"americano seed: error: argument {option}: must be {bounds}, got {value!r}"


def test_seed_help_states_every_bound(capsys):
    with pytest.raises(SystemExit):
        main(["seed", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for stated in ("study participants, 1 to 1000", "days of history, 277 to 3650",
                   "mean events per user-day, 8 to 1000", "last day of data (UTC), 2000-01-01 to yesterday"):
        assert stated in help_text


def test_the_cli_bounds_are_seed_configs():
    from americano_pipeline.demo import synthetic

    assert (cli.SEED_USERS, cli.SEED_DAYS, cli.SEED_EVENTS_PER_DAY, cli.EARLIEST_END_DATE) == \
        (synthetic.USERS, synthetic.DAYS, synthetic.EVENTS_PER_DAY, synthetic.EARLIEST_END_DATE)
    assert synthetic.latest_end_date() == yesterday()


def test_the_bounds_themselves_are_accepted(no_database, capsys):
    """The extremes pass the parser and SeedConfig, and fail only at the (unreachable) database."""
    assert main(["seed", "--users", "1000", "--days", "3650", "--events-per-day", "8", "--end-date", "2000-01-01"]) == 1
    assert capsys.readouterr().err.startswith("americano: error: cannot connect to PostgreSQL at 127.0.0.1:1/none")
