"""The code location loads, fast, without heavy libraries or a database."""

import subprocess
import sys

HEAVY = ("causalpy", "pymc", "mlflow", "dvc", "matplotlib", "evidently", "statsmodels")


def test_definitions_load_without_heavy_imports_or_a_database():
    probe = (
        "import sys\n"
        "import dagster as dg\n"
        "from americano_pipeline.definitions import defs\n"
        "assert isinstance(defs, dg.Definitions)\n"
        "defs.resolve_all_job_defs()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={"AMERICANO_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
