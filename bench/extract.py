"""Extract throughput and memory: this project's streaming extract vs pandas.read_sql vs psql's COPY (the floor).

Builds a throwaway PostgreSQL cluster with N synthetic events (default 1,000,000; --events 10000000), then runs
each method in its own process, one after the other in this run, and prints rows/s, the ratio to this extract,
and each process's peak RSS. Targets: >= 3x pandas.read_sql's throughput, >= 0.8x psql's COPY, peak RSS
<= 400 MB at 10M events. Also prints the seeding (COPY load) rate.

    .venv/bin/python bench/extract.py [--events N]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from warehouse import throwaway_cluster

from americano_pipeline.database import READER_ROLE, connect
from americano_pipeline.demo.seeding import seed
from americano_pipeline.demo.synthetic import SeedConfig

DAYS, EVENTS_PER_DAY = 365, 100

OURS = """
import time
from pathlib import Path
from americano_pipeline import snapshots
from americano_pipeline.database import connect
started = time.perf_counter()
with connect({url!r}, role={role!r}) as conn:
    snapshots.extract(conn, Path({out!r}), "bench", snapshots.ExtractWindow(days=0))
print(time.perf_counter() - started)
"""
PANDAS = """
import time
import pandas as pd
from americano_pipeline.database import connect
started = time.perf_counter()
with connect({url!r}) as conn:
    frame = pd.read_sql('SELECT * FROM behavioral_events', conn)
frame.to_parquet({out!r} + "/pandas.parquet")
print(time.perf_counter() - started)
"""


def _measure(command: list[str]) -> tuple[float, float]:
    """Seconds of work and peak RSS (MB) of one child process.

    Python children print the seconds of their own work (interpreter start and imports excluded); for psql the
    wall time of the process is the work.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command[:3])} ...")
    reported = output.strip().splitlines()
    return (float(reported[-1]) if reported else seconds), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-pandas", action="store_true",
                        help="skip pandas.read_sql (it needs ~2.3 GB per million events)")
    args = parser.parse_args()
    users = max(1, math.ceil(args.events / (DAYS * EVENTS_PER_DAY)))
    with tempfile.TemporaryDirectory(prefix="americano-bench-extract-") as tmp, throwaway_cluster() as cluster:
        root = Path(tmp)
        url = cluster.url()
        with connect(url) as conn:
            report = seed(conn, SeedConfig(users=users, days=DAYS, events_per_day=EVENTS_PER_DAY,
                                           end_date=date(2026, 10, 31)), ground_truth_path=root / "truth.json")
        events = report.counts["behavioral_events"]
        print(f"seeded {events:,} events ({users} users x {DAYS} days) in {report.seconds:.1f} s: "
              f"{report.events_per_second:,.0f} events/s (generation + COPY)")
        out = root / "out"
        out.mkdir()
        python = [sys.executable, "-c"]
        results = {"this extract (COPY -> Arrow -> Parquet)": _measure(
            python + [OURS.format(url=url, role=READER_ROLE, out=str(out))])}
        if not args.no_pandas:
            results["pandas.read_sql + to_parquet"] = _measure(python + [PANDAS.format(url=url, out=str(out))])
        results["psql \\copy TO /dev/null (floor)"] = _measure(
            ["psql", url, "-q", "-c", "\\copy (SELECT * FROM behavioral_events) TO '/dev/null'"])
        ours = events / results["this extract (COPY -> Arrow -> Parquet)"][0]
        print(f"\n{'method':<42} {'seconds':>8} {'rows/s':>12} {'ours / it':>10} {'peak RSS MB':>12}")
        for name, (seconds, rss) in results.items():
            rate = events / seconds
            print(f"{name:<42} {seconds:>8.2f} {rate:>12,.0f} {ours / rate:>9.2f}x {rss:>12.0f}")
        parquet = out / "behavioral_events" / "bench.parquet"
        print(f"\nParquet (zstd) size: {parquet.stat().st_size / 1e6:.1f} MB for {events:,} events; "
              "the extract's rows/s counts only events (the other four tables are small but included)")


if __name__ == "__main__":
    main()
