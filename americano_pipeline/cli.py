"""The `americano` command: manage the embedded database, seed synthetic data, run the demo.

Why a CLI beside Dagster: setting up the source database is not an asset of the pipeline (it stands in for
the study app), and it must work, with one-line errors, before any Dagster instance exists.

Why this module imports nothing heavy: the arguments are parsed first (``--help`` answers at once), then the one
command module asked for (``americano_pipeline.commands``) is imported and run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date

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

    commands.add_parser("env", help="print the resolved settings as shell exports, for "
                                    "`eval \"$(americano env)\"` before dagster, dbt or mlflow commands")
    return parser


def _run(args: argparse.Namespace) -> bool:
    """Import the command's module and run it; False when it failed after reporting why."""
    if args.command == "env":
        for name, value in settings.shell_environment().items():
            print(f"export {name}={shlex.quote(value)}")
        return True
    if args.command == "db":
        from americano_pipeline.commands.db import db

        db(args.action)
        return True
    if args.command == "seed":
        from americano_pipeline.commands.seed import seed

        seed(users=args.users, days=args.days, events_per_day=args.events_per_day, seed=args.seed,
             end_date=args.end_date, reset=args.reset)
        return True
    if args.command == "restore":
        from americano_pipeline.commands.restore import restore

        restore(args.data_version, args.to)
        return True
    if args.command == "prepare":
        from americano_pipeline.commands.seed import prepare

        prepare()
        return True
    from americano_pipeline.commands.pipeline import demo, protocols

    return protocols(range_only=args.range) if args.command == "protocols" else demo()


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: one line on stderr, exit code 1 (imported only when one happened)."""
    from americano_pipeline.demo.seeding import NotEmpty
    from americano_pipeline.lineage.data_version import VersionNotFound
    from americano_pipeline.source.cluster import ClusterError
    from americano_pipeline.source.connection import DatabaseUnavailable

    return DatabaseUnavailable, ClusterError, NotEmpty, VersionNotFound, ValueError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return 0 if _run(args) else 1
    except Exception as exc:
        if not isinstance(exc, _expected_errors()):
            raise
        print(f"americano: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
