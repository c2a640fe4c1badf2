"""Cost of a single-run backfill of the four result assets (its_result, randomization_result,
change_points_result, sequential_boundaries) over 1, 10 and 50 protocol partitions.

Builds its own study first, in a temporary directory: a throwaway PostgreSQL cluster, 17 synthetic users x 3
protocols (51 partitions), the snapshot and `dbt build` (bench/warehouse.py's build_warehouse). Each backfill
then runs in a fresh Python process, as a Dagster run would, materializing the four assets over the first N
partitions in one run (BackfillPolicy.single_run: the heavy imports and the ITS model compilation are paid once
per run). Printed per N: wall time of the run, its share per partition, the marginal cost of a partition
((t50 - t10) / 40), the import time of the code, and the peak RSS of the process.

    .venv/bin/python bench/backfill.py [--sizes 1 10 50]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from warehouse import build_warehouse, throwaway_cluster

from americano_pipeline.demo.synthetic import SeedConfig

STUDY = SeedConfig(users=17, days=150, events_per_day=12, seed=3, end_date=date(2026, 10, 31))


def one_run(url: str, n: int) -> dict:
    """Materialize the four result assets over the first ``n`` protocols in one run (in this process)."""
    started = time.perf_counter()
    import dagster as dg

    from americano_pipeline.assets.analysis import analysis_assets
    from americano_pipeline.partitions import partition_range_tags, register_protocols
    from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
    from americano_pipeline.resources.postgres import PostgresResource

    postgres = PostgresResource(url=url)
    with dg.DagsterInstance.ephemeral() as instance:
        keys = register_protocols(instance, postgres)[:n]
        ready = time.perf_counter()
        result = dg.materialize(analysis_assets, instance=instance, tags=partition_range_tags(keys),
                                resources={"postgres": postgres, "mlflow_tracking": MlflowTrackingResource()},
                                raise_on_error=False)
        finished = time.perf_counter()
    return {"protocols": len(keys), "materialized": len(result.get_asset_materialization_events()),
            "failed_steps": len(result.get_step_failure_events()), "import_seconds": ready - started,
            "run_seconds": finished - ready, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--one-run", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(args.one_run[0], int(args.one_run[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="americano-bench-backfill-") as tmp, throwaway_cluster() as cluster:
        root = Path(tmp)
        database, seconds, events = build_warehouse(cluster.url(), STUDY, root)
        print(f"study: {STUDY.users} users x 3 protocols, {events:,} events; dbt build {seconds['dbt build']:.1f} s")
        env = {**os.environ, "AMERICANO_DATA_DIR": str(database.parent), "AMERICANO_DUCKDB_PATH": str(database)}
        env.pop("MLFLOW_TRACKING_URI", None)
        runs = []
        for size in args.sizes:
            started = time.perf_counter()
            process = subprocess.run([sys.executable, __file__, "--one-run", cluster.url(), str(size)], env=env,
                                     capture_output=True, text=True)
            if process.returncode != 0:
                raise SystemExit(f"backfill of {size} failed:\n{process.stderr[-3000:]}")
            runs.append({**json.loads(process.stdout.strip().splitlines()[-1]),
                         "process_seconds": time.perf_counter() - started})
        print(f"{'protocols':>9} {'materialized':>12} {'failed steps':>12} {'process s':>9} {'imports s':>9} "
              f"{'run s':>7} {'run s/protocol':>14} {'peak RSS MB':>11}")
        for run in runs:
            print(f"{run['protocols']:>9} {run['materialized']:>12} {run['failed_steps']:>12} "
                  f"{run['process_seconds']:>9.1f} {run['import_seconds']:>9.1f} {run['run_seconds']:>7.1f} "
                  f"{run['run_seconds'] / run['protocols']:>14.2f} {run['peak_rss_mb']:>11.0f}")
        if len(runs) >= 2:
            first, last = runs[-2], runs[-1]
            marginal = (last["run_seconds"] - first["run_seconds"]) / (last["protocols"] - first["protocols"])
            print(f"marginal cost of a partition ({first['protocols']} -> {last['protocols']}): {marginal:.2f} s "
                  f"for all four assets; a failed step means a partition the data cannot support (see its log)")


if __name__ == "__main__":
    main()
