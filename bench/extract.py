"""Extract throughput and memory: this project's streaming extract vs pandas.read_sql vs psql's COPY (the floor).

Builds a throwaway PostgreSQL cluster with N synthetic events (default 1,000,000; --events 10000000), then runs
each method in its own process and prints rows/s, the ratio to this extract, and each process's peak RSS.
Targets: >= 3x pandas.read_sql's throughput, >= 0.8x psql's COPY, peak RSS <= 400 MB at 10M events. Also prints
the seeding (COPY load) rate.

Fairness: the first scan of freshly bulk-loaded rows writes their hint bits (and dirties every page), so whichever
method reads first pays for the others. The run therefore reports both:
- "after bulk load": this extract first, then psql, right after seeding (what a naive order measures);
- "vacuumed": after VACUUM ANALYZE (hint bits set, visibility map built, statistics fresh), every method in
  --rounds rounds whose order alternates (forward, then reversed), reporting each method's median.

    .venv/bin/python bench/extract.py [--events N] [--rounds R] [--no-pandas]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from warehouse import throwaway_cluster

from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.demo.seeding import seed
from americano_pipeline.demo.synthetic import SeedConfig

DAYS, EVENTS_PER_DAY = 365, 100

OURS = """
import time
from pathlib import Path
from americano_pipeline.source import extract as source_extract
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow
from americano_pipeline.source.connection import connect
started = time.perf_counter()
with connect({url!r}, role={role!r}) as conn:
    source_extract.extract(conn, Path({out!r}), "bench", ExtractWindow(days=ALL_HISTORY))
print(time.perf_counter() - started)
"""
PANDAS = """
import time
import pandas as pd
from americano_pipeline.source.connection import connect
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


OURS_NAME = "this extract (COPY -> Arrow -> Parquet)"
PSQL_NAME = "psql \\copy TO /dev/null (floor)"


def _print(title: str, runs: dict[str, list[tuple[float, float]]], events: int) -> None:
    """One table: per method the median seconds, rows/s, this extract's speed relative to it, peak RSS."""
    medians = {name: (statistics.median(s for s, _ in measured), max(rss for _, rss in measured))
               for name, measured in runs.items()}
    ours = events / medians[OURS_NAME][0]
    print(f"\n{title}\n{'method':<42} {'seconds':>8} {'rows/s':>12} {'ours / it':>10} {'peak RSS MB':>12}")
    for name, (seconds, rss) in medians.items():
        rate = events / seconds
        print(f"{name:<42} {seconds:>8.2f} {rate:>12,.0f} {ours / rate:>9.2f}x {rss:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-pandas", action="store_true",
                        help="skip pandas.read_sql (it needs ~2.3 GB per million events)")
    parser.add_argument("--rounds", type=int, default=4, help="vacuumed rounds, alternating the order (default 4)")
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
        methods = {OURS_NAME: python + [OURS.format(url=url, role=READER_ROLE, out=str(out))]}
        if not args.no_pandas:
            methods["pandas.read_sql + to_parquet"] = python + [PANDAS.format(url=url, out=str(out))]
        methods[PSQL_NAME] = ["psql", url, "-q", "-c", "\\copy (SELECT * FROM behavioral_events) TO '/dev/null'"]
        _print("after bulk load (this extract first, then psql)",
               {name: [_measure(methods[name])] for name in (OURS_NAME, PSQL_NAME)}, events)
        with connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
        for round_number in range(args.rounds):
            order = list(methods) if round_number % 2 == 0 else list(reversed(methods))
            for name in order:
                runs[name].append(_measure(methods[name]))
        _print(f"vacuumed, median of {args.rounds} rounds in alternating order", runs, events)
        parquet = out / "behavioral_events" / "bench.parquet"
        print(f"\nParquet (zstd) size: {parquet.stat().st_size / 1e6:.1f} MB for {events:,} events; "
              "the extract's rows/s counts only events (the other four tables are small but included)")


if __name__ == "__main__":
    main()
