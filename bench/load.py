"""Start-up time: what the Dagster UI, every sensor tick and every run process pay before doing work, and what
every `americano` command pays before it answers.

Each measurement is a fresh Python process (as Dagster and a shell start them) that imports one thing or asks
for help; the median of --repeats runs is printed. Every probe runs twice per repeat, side by side, in
alternating order: with the installed bytecode, and without it (PYTHONPYCACHEPREFIX pointing at an empty
directory with PYTHONDONTWRITEBYTECODE=1, so every module is compiled in the process, as it was before the
project installed with compiled bytecode). Targets on 2 cores: the code location (definitions imported and every
job resolved) <= 5 s, `americano --help` and every subcommand's --help <= 0.3 s.

    .venv/bin/python bench/load.py [--repeats 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AMERICANO = str(Path(sys.executable).parent / "americano")
SUBCOMMANDS = ("db", "seed", "demo", "prepare", "protocols", "restore", "env")
CODE_LOCATION = "code location (definitions + jobs)"
PROBES = {
    "python startup": [sys.executable, "-c", "pass"],
    "import dagster": [sys.executable, "-W", "ignore", "-c", "import dagster"],
    "import dagster_dbt": [sys.executable, "-W", "ignore", "-c", "import dagster_dbt"],
    CODE_LOCATION: [sys.executable, "-W", "ignore", "-c",
                    "from americano_pipeline.definitions import defs; defs.resolve_all_job_defs()"],
    "americano --help": [AMERICANO, "--help"],
    **{f"americano {name} --help": [AMERICANO, name, "--help"] for name in SUBCOMMANDS},
}
TARGETS = {CODE_LOCATION: 5.0, **{name: 0.3 for name in PROBES if name.startswith("americano")}}


def seconds(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="americano-no-bytecode-") as empty:
        variants = {"bytecode": {**os.environ},
                    "no bytecode": {**os.environ, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}}
        measured = {name: {variant: [] for variant in variants} for name in PROBES}
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for name, command in PROBES.items():
                for variant in order:
                    measured[name][variant].append(seconds(command, variants[variant]))
    print(f"median of {args.repeats} fresh processes each, the two variants alternating")
    print(f"  {'probe':<36} {'bytecode':>9} {'no bytecode':>12} {'ratio':>6}  target")
    missed = []
    for name, runs in measured.items():
        fast, slow = statistics.median(runs["bytecode"]), statistics.median(runs["no bytecode"])
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target} s: {'met' if fast <= target else 'NOT met'}"
        if target is not None and fast > target:
            missed.append(name)
        print(f"  {name:<36} {fast:8.2f}s {slow:11.2f}s {slow / fast:5.1f}x  {verdict}")
    if missed:
        raise SystemExit(f"targets missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
