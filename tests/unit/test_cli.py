"""The `americano` command answers --help without importing anything heavy, and `americano env` hands the
resolved settings to a shell."""

import subprocess
import sys

import pytest

HEAVY = ("dagster", "psycopg", "pandas", "numpy", "pyarrow", "duckdb", "dvc", "mlflow")
COMMANDS = ([], ["db"], ["seed"], ["demo"], ["prepare"], ["protocols"], ["restore"], ["env"])


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
