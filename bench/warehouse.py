"""Analytic query speed: DuckDB over the dbt warehouse vs PostgreSQL over the source tables; dbt build times.

The query: per user and protocol phase, the daily mean engagement score and its 7-day rolling mean (what the
analyses and a dashboard ask for). PostgreSQL answers it from behavioral_events (eventData JSON) joined to the
phase schedule. The warehouse answers it from fct_protocol_daily_outcomes, which dbt pre-aggregated to one row per
protocol-day and stored sorted by protocol and date: that is where the speed comes from. For transparency the
same question is also answered in DuckDB from the staging events (the same work PostgreSQL does), so the
engine's share and the pre-aggregation's share of the speed-up are both visible. The three answers are checked
to be identical (row count and sums). Median of --repeats runs each, after one warm-up run.

Builds everything itself in a temporary directory: a throwaway PostgreSQL cluster on a free port, N synthetic
events (default 1,000,000; --events 10000000), the extract + promote to Parquet, `dbt build` into a temporary
DuckDB file; and the same for the demo data (`americano demo`'s size) to time its `dbt build`.
Target: DuckDB (mart) >= 10x PostgreSQL at 10M events.

    .venv/bin/python bench/warehouse.py [--events N] [--repeats 5]
"""

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from americano_pipeline.lineage.snapshot_store import new_snapshot_id, promote
from americano_pipeline.source import extract as source_extract
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow
from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.source.cluster import LocalCluster
from americano_pipeline.demo.seeding import seed
from americano_pipeline.demo.synthetic import SeedConfig
from americano_pipeline.settings import PROJECT_ROOT

DAYS, EVENTS_PER_DAY = 150, 40
EVENTS_PER_USER = DAYS * EVENTS_PER_DAY  # the generator's expected count (sessions x events per session)
DEMO = SeedConfig(users=1, days=150, events_per_day=30, seed=42, end_date=date(2026, 10, 31))
DBT_PROJECT = PROJECT_ROOT / "dbt_project"

WINDOW = "avg(value) over (partition by protocol_id order by day range between {six_days} preceding and current row)"
CHECKSUM = "select count(*), sum(value), sum(rolling_7d) from ({rows}) as answer"
POSTGRES = CHECKSUM.format(rows=f"""
    with daily as (
        select e."userId" as user_id, (e."timestamp" at time zone 'UTC')::date as day,
               avg((e."eventData"->>'engagementScore')::float8) as value
        from behavioral_events e
        where e."eventType" = 'SESSION_ENDED'
        group by 1, 2
    ), phased as (
        select daily.*, p.id as protocol_id, a."phaseLabel" as phase_label
        from daily
        join experiment_protocols p on p."userId" = daily.user_id
        join phase_assignments a on a."protocolId" = p.id
            and daily.day between (a."startDate" at time zone 'UTC')::date and (a."endDate" at time zone 'UTC')::date
    )
    select user_id, protocol_id, phase_label, day, value, {WINDOW.format(six_days="interval '6 days'")} as rolling_7d
    from phased""")
DUCKDB_STAGING = CHECKSUM.format(rows=f"""
    with daily as (
        select user_id, local_date as day, avg(engagement_score) as value
        from stg_behavioral_events
        where event_type = 'SESSION_ENDED'
        group by user_id, local_date
    ), phased as (
        select daily.*, p.protocol_id, a.phase_label
        from daily
        join stg_experiment_protocols p on p.user_id = daily.user_id
        join stg_phase_assignments a on a.protocol_id = p.protocol_id
            and daily.day between a.start_date and a.end_date
    )
    select user_id, protocol_id, phase_label, day, value, {WINDOW.format(six_days="interval 6 days")} as rolling_7d
    from phased""")
DUCKDB_MART = CHECKSUM.format(rows=f"""
    select user_id, protocol_id, phase_label, date as day, engagement_score as value,
           {WINDOW.format(six_days="interval 6 days")} as rolling_7d
    from fct_protocol_daily_outcomes
    where engagement_score is not null""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_cluster():
    """A started PostgreSQL cluster in a temporary directory on a free port; stopped and removed afterwards."""
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="americano-bench-pg-")), free_port())  # the server user's
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def build_warehouse(url: str, config: SeedConfig, root: Path) -> tuple[Path, dict[str, float], int]:
    """Seed ``url`` with ``config``, snapshot it and `dbt build`; the DuckDB path, step seconds, event count."""
    data_dir = root / "data"
    with connect(url) as conn:
        report, seed_seconds = _timed(lambda: seed(conn, config, ground_truth_path=root / "ground_truth.json"))
    with connect(url, role=READER_ROLE) as conn:
        files, extract_seconds = _timed(lambda: source_extract.extract(conn, data_dir / "raw", new_snapshot_id(),
                                                                 ExtractWindow(days=ALL_HISTORY)))
    promote(files, data_dir / "raw" / "current")
    database = data_dir / "americano_analytics.duckdb"
    env = {**os.environ, "AMERICANO_DATA_DIR": str(data_dir), "AMERICANO_DUCKDB_PATH": str(database)}
    env.pop("AMERICANO_TIMEZONE", None)
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "build", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
               "--target-path", str(root / "dbt_target"), "--log-path", str(root / "dbt_target")]
    build, build_seconds = _timed(lambda: subprocess.run(command, env=env, capture_output=True, text=True))
    if build.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{build.stdout[-4000:]}")
    seconds = {"seed": seed_seconds, "extract": extract_seconds, "dbt build": build_seconds}
    return database, seconds, report.counts["behavioral_events"]


def same_answer(first: tuple, second: tuple) -> bool:
    """Equal row counts and sums equal up to floating-point summation order."""
    return first[0] == second[0] and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(first[1:], second[1:]))


def median_seconds(run, repeats: int) -> tuple[float, tuple]:
    """Median wall time of ``run()`` over ``repeats`` runs after one warm-up, and its (repeatable) answer."""
    answer = run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        again = run()
        times.append(time.perf_counter() - started)
        if not same_answer(again, answer):
            raise SystemExit(f"non-deterministic answer: {again} != {answer}")
    return statistics.median(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    users = max(1, math.ceil(args.events / EVENTS_PER_USER))
    config = SeedConfig(users=users, days=DAYS, events_per_day=EVENTS_PER_DAY, seed=1, end_date=date(2026, 10, 31))

    with tempfile.TemporaryDirectory(prefix="americano-bench-warehouse-") as tmp, throwaway_cluster() as cluster:
        root = Path(tmp)
        with connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "demo"')
        _, demo_seconds, demo_events = build_warehouse(cluster.url("demo"), DEMO, root / "demo")
        database, seconds, n_events = build_warehouse(cluster.url(), config, root / "bench")
        print(f"demo data ({DEMO.users} user x {DEMO.days} days, {demo_events:,} events): "
              f"dbt build {demo_seconds['dbt build']:.1f} s (wall time of the dbt CLI, startup included)")
        print(f"bench data: {n_events:,} events ({users:,} users x {DAYS} days): seed {seconds['seed']:.1f} s, "
              f"extract {seconds['extract']:.1f} s, dbt build {seconds['dbt build']:.1f} s")

        with connect(cluster.url()) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            postgres, postgres_answer = median_seconds(lambda: conn.execute(POSTGRES).fetchone(), args.repeats)
        with duckdb.connect(str(database), read_only=True) as conn:
            staging, staging_answer = median_seconds(lambda: conn.execute(DUCKDB_STAGING).fetchone(), args.repeats)
            mart, mart_answer = median_seconds(lambda: conn.execute(DUCKDB_MART).fetchone(), args.repeats)
        if not (same_answer(postgres_answer, staging_answer) and same_answer(postgres_answer, mart_answer)):
            raise SystemExit(f"the engines disagree: PostgreSQL {postgres_answer}, DuckDB staging {staging_answer}, "
                             f"DuckDB mart {mart_answer}")
        rows = int(postgres_answer[0])
        print(f"query: daily mean engagement_score per user and phase + 7-day rolling mean ({rows:,} rows, "
              f"identical answers), median of {args.repeats}")
        print(f"  PostgreSQL  source tables (events JSON)   {postgres * 1000:10.1f} ms     1.0x")
        print(f"  DuckDB      dbt staging (same work)       {staging * 1000:10.1f} ms  {postgres / staging:7.1f}x")
        print(f"  DuckDB      dbt mart (pre-aggregated)     {mart * 1000:10.1f} ms  {postgres / mart:7.1f}x"
              f"   (target >= 10x at 10M events)")


if __name__ == "__main__":
    main()
