"""Code-location load time: what the Dagster UI, every sensor tick and every run process pay before doing work.

Each measurement is a fresh Python process (as Dagster starts them) that imports one thing; the median of
--repeats runs is printed side by side, with the share of the whole load each part takes. Target: the full
code location (definitions imported and every job resolved) in <= 5 s on 2 cores.

    .venv/bin/python bench/load.py [--repeats 5]
"""

import argparse
import statistics
import subprocess
import sys
import time

PROBES = {
    "python startup": "pass",
    "dagster": "import dagster",
    "dagster_dbt": "import dagster_dbt",
    "code location (definitions + jobs)": "from americano_pipeline.definitions import defs; defs.resolve_all_job_defs()",
}


def seconds(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    measured = {name: seconds(code, args.repeats) for name, code in PROBES.items()}
    whole = measured["code location (definitions + jobs)"]
    print(f"median of {args.repeats} fresh processes each")
    for name, value in measured.items():
        print(f"  {name:<36} {value:6.2f} s  {value / whole:6.0%} of the code location")
    print(f"code location load: {whole:.2f} s, target <= 5 s: {'met' if whole <= 5 else 'NOT met'} "
          f"({5 / whole:.1f}x headroom)")


if __name__ == "__main__":
    main()
