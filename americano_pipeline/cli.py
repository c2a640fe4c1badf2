"""The `americano` command: manage the embedded database, seed synthetic data, run the demo.

Why a CLI beside Dagster: setting up the source database is not an asset of the pipeline (it stands in for
the study app), and it must work, with one-line errors, before any Dagster instance exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import date
from pathlib import Path

from americano_pipeline import settings


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="americano", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="manage the embedded PostgreSQL cluster under data/postgres")
    db.add_argument("action", choices=["start", "stop", "status", "reset", "url"])

    seed = commands.add_parser("seed", help="fill the source database with synthetic study data")
    seed.add_argument("--users", type=_positive, default=1, help="study participants (default 1)")
    seed.add_argument("--days", type=_positive, default=150, help="days of history (default 150)")
    seed.add_argument("--events-per-day", type=_positive, default=30, help="mean events per user-day (default 30)")
    seed.add_argument("--seed", type=_non_negative, default=42, help="random seed (default 42)")
    seed.add_argument("--end-date", type=_iso_date, default=None, help="last day of data (default yesterday, UTC)")
    seed.add_argument("--reset", action="store_true", help="replace existing study data")

    commands.add_parser("demo", help="start the database, seed it if empty, run the pipeline, print a summary")
    commands.add_parser("prepare", help="start the database and seed it if empty (what demo does before running)")

    partitions = commands.add_parser(
        "protocols", help="add every protocol of the database as a partition of the Dagster instance (DAGSTER_HOME)")
    partitions.add_argument("--range", action="store_true",
                            help="print only <first>...<last>, for `dagster asset materialize --partition-range`")

    restore = commands.add_parser("restore", help="rebuild an earlier snapshot cut, byte for byte, from its DVC hash")
    restore.add_argument("data_version", help="the data_version_hash recorded with the snapshot (<md5>.dir)")
    restore.add_argument("--to", default=None, help="target directory (default data/restored/<hash>)")
    return parser


def _cluster():
    from americano_pipeline.demo.cluster import ClusterError, LocalCluster

    if settings.external_database_url():
        raise ClusterError("AMERICANO_DATABASE_URL is set, so the embedded cluster is not used; "
                           "unset it to manage the local cluster")
    return LocalCluster.default()


def _db(action: str) -> None:
    from americano_pipeline.database import connect, database_url, describe
    from americano_pipeline.demo.seeding import ensure_schema

    if action == "url":
        print(database_url())
        return
    cluster = _cluster()
    if action == "start":
        started = cluster.start()
        with connect(cluster.url()) as conn:
            applied = ensure_schema(conn)
        print(f"PostgreSQL {'started' if started else 'already running'} at {describe(cluster.url())} "
              f"(data {cluster.pgdata}){'; schema created' if applied else ''}")
    elif action == "stop":
        print("PostgreSQL stopped" if cluster.stop() else "PostgreSQL was not running")
    elif action == "reset":
        cluster.reset()
        print(f"removed the local cluster at {cluster.root}; `americano db start` creates an empty one")
    else:
        print(json.dumps(cluster.status(), indent=2))


def _database_connection():
    """Connect as the owner, starting the embedded cluster first when no external URL is configured."""
    from americano_pipeline.database import connect, database_url

    if not settings.external_database_url():
        _cluster().start()
    return connect(database_url())


def _seed(args: argparse.Namespace) -> None:
    from americano_pipeline.demo.seeding import seed
    from americano_pipeline.demo.synthetic import SeedConfig

    kwargs = {"end_date": args.end_date} if args.end_date else {}
    config = SeedConfig(users=args.users, days=args.days, events_per_day=args.events_per_day, seed=args.seed, **kwargs)
    with _database_connection() as conn:
        report = seed(conn, config, reset=args.reset)
    _print_counts(report.counts)
    print(f"loaded {report.counts['behavioral_events']:,} events in {report.seconds:.1f} s "
          f"({report.events_per_second:,.0f} events/s); ground truth: {report.ground_truth_path}")


def _print_counts(counts: dict[str, int]) -> None:
    width = max(map(len, counts))
    for table, count in counts.items():
        print(f"  {table:<{width}}  {count:>12,}")


def _restore(args: argparse.Namespace) -> None:
    from pathlib import Path

    from americano_pipeline.versioning import restore

    target = Path(args.to) if args.to else settings.data_dir() / "restored" / args.data_version
    restored = restore(settings.data_dir() / "raw" / "current", args.data_version, target,
                       os.environ.get("AMERICANO_DVC_REMOTE") or None)
    for path in sorted(restored.iterdir()):
        print(f"  {path}  {path.stat().st_size:,} bytes")


def _run_pipeline() -> bool:
    """Materialize the asset graph in-process on the persistent instance; print what it produced.

    Two runs, as the nightly schedule does them: the snapshot and the warehouse, then one single-run backfill of
    the four analyses over every registered protocol (so the heavy imports happen once).
    """
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home()))
    import dagster as dg

    from americano_pipeline.definitions import defs
    from americano_pipeline.partitions import partition_range_tags, protocols, register_protocols
    from americano_pipeline.resources.postgres import PostgresResource

    instance = dg.DagsterInstance.get()
    # The demo study spans 150 days, more than the extract's default 90-day event window: take all history.
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    run_config = {"ops": {"raw_snapshot": {"config": {"days": 0}}}, **quiet}
    # dagster-dbt echoes every dbt log line to stdout: keep them in a file, print the outcome.
    log_path = settings.data_dir() / "demo" / "pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = defs.resolve_job_def("snapshot_and_warehouse").execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False)
    _print_warehouse_run(result, log_path)
    if not result.success:
        return False
    register_protocols(instance, PostgresResource())
    keys = instance.get_dynamic_partitions(protocols.name)
    print(f"analysing {len(keys)} protocols (one run over all partitions) ...")
    analysis = defs.resolve_job_def("analysis").execute_in_process(
        run_config=quiet, instance=instance, tags=partition_range_tags(keys), raise_on_error=False)
    from americano_pipeline.analysis.summary import summary_table

    print(f"analysis run {analysis.run_id} ({'succeeded' if analysis.success else 'FAILED'}):")
    for event in analysis.get_step_failure_events():
        print(f"  FAILED {event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[0]}")
    print(summary_table(settings.data_dir() / "analysis", keys))
    print(f"MLflow: {_mlflow_location()} (make mlflow-ui); Dagster UI: make ui")
    return analysis.success


def _mlflow_location() -> str:
    from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource

    return MlflowTrackingResource().resolved_tracking_uri()


def _print_warehouse_run(result, log_path: Path) -> None:
    """Snapshot rows, check verdicts and data version per table; dbt models and tests; the phase summary."""
    checks = result.get_asset_check_evaluations()
    snapshot_checks = {c.asset_key.to_user_string(): c for c in checks if c.asset_key.path[0] == "raw"}
    dbt_checks = [c for c in checks if c.asset_key.path[0] != "raw"]
    print(f"pipeline run {result.run_id} ({'succeeded' if result.success else 'FAILED'}; dbt log {log_path}):")
    models = 0
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        meta = {k: v.value for k, v in materialization.metadata.items()}
        if key not in snapshot_checks:
            models += 1
            continue
        verdict = "check passed" if snapshot_checks[key].passed else "CHECK FAILED"
        print(f"  {key:<24} {meta['rows']:>10,}  {verdict:<13} data version {meta['data_version_hash']}")
    if dbt_checks or models:
        print(f"  dbt: {models} models built, {sum(c.passed for c in dbt_checks)} of {len(dbt_checks)} checks passed")
    for check in checks:
        if not check.passed:
            print(f"  FAILED {check.asset_key.to_user_string()} {check.check_name}: {check.description}")
    if models:
        from americano_pipeline.demo.report import phase_summary

        print(f"daily outcomes per protocol and phase ({settings.duckdb_path()}):")
        print(phase_summary(settings.duckdb_path()))


def _prepare() -> None:
    """Start the database (embedded unless AMERICANO_DATABASE_URL), create the schema, seed it when empty."""
    from americano_pipeline.demo.seeding import ensure_schema, row_counts, seed
    from americano_pipeline.demo.synthetic import SeedConfig

    with _database_connection() as conn:
        ensure_schema(conn)
        if not any(row_counts(conn).values()):
            print("seeding the empty database with the synthetic study (seed 42) ...")
            seed(conn, SeedConfig())
        counts = row_counts(conn)
    print("source database rows:")
    _print_counts(counts)
    truth_path = settings.data_dir() / "demo" / "ground_truth.json"
    if truth_path.exists():
        print(f"planted ground truth ({truth_path}):")
        for protocol in json.loads(truth_path.read_text())["protocols"]:
            print(f"  {protocol['protocolId']}  {protocol['designType']:<17} {protocol['primaryOutcome']:<17} "
                  f"true effect {protocol['trueEffect']:+5.1f}  {protocol['startDate']} .. {protocol['endDate']}  "
                  f"changes {', '.join(protocol['phaseChangeDates'])}")


def _protocols(args: argparse.Namespace) -> bool:
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home()))
    import dagster as dg

    from americano_pipeline.partitions import protocols, register_protocols
    from americano_pipeline.resources.postgres import PostgresResource

    instance = dg.DagsterInstance.get()
    added = register_protocols(instance, PostgresResource())
    keys = instance.get_dynamic_partitions(protocols.name)
    if not keys:
        print("americano: error: the database holds no experiment protocols", file=sys.stderr)
        return False
    if args.range:
        print(f"{keys[0]}...{keys[-1]}")
    else:
        print(f"{len(keys)} protocol partitions ({len(added)} added):")
        print("\n".join(f"  {key}" for key in keys))
    return True


def _demo() -> bool:
    _prepare()
    return _run_pipeline()


def main(argv: list[str] | None = None) -> int:
    from americano_pipeline.database import DatabaseUnavailable
    from americano_pipeline.demo.cluster import ClusterError
    from americano_pipeline.demo.seeding import NotEmpty
    from americano_pipeline.versioning import VersionNotFound

    args = _parser().parse_args(argv)
    try:
        if args.command == "db":
            _db(args.action)
        elif args.command == "seed":
            _seed(args)
        elif args.command == "restore":
            _restore(args)
        elif args.command == "prepare":
            _prepare()
        elif args.command == "protocols":
            return 0 if _protocols(args) else 1
        elif not _demo():
            return 1
    except (DatabaseUnavailable, ClusterError, NotEmpty, VersionNotFound, ValueError) as exc:
        print(f"americano: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
