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
from datetime import date, datetime, timedelta, timezone

from americano_pipeline import settings

# SeedConfig's bounds (demo.synthetic), repeated here so that --help imports nothing heavy; a unit test keeps them
# equal. The days must hold the demo protocols; the last day must be in the past, or the snapshot checks
# would reject its events as lying in the future.
SEED_USERS = (1, 1000)
SEED_DAYS = (277, 3650)
SEED_EVENTS_PER_DAY = (8, 1000)
EARLIEST_END_DATE = date(2000, 1, 1)


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(text)


def _span(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]} to {bounds[1]}"


def _bounded(bounds: tuple[int, int]):
    """An argparse type for an integer within ``bounds``, checked on the text so that no size reaches the seed
    that would overflow its calendar or memory (digits only: '1e20' and '-3' are refused as they are)."""
    low, high = bounds

    def integer(text: str) -> int:
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high):
            raise argparse.ArgumentTypeError(f"must be an integer from {_span(bounds)}, got {text!r}")
        return int(text)

    return integer


def _end_date(text: str) -> date:
    """A day from EARLIEST_END_DATE to yesterday (UTC), the last days whose events the snapshot checks accept."""
    latest = datetime.now(timezone.utc).date() - timedelta(days=1)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not EARLIEST_END_DATE <= day <= latest:
        raise argparse.ArgumentTypeError(
            f"must be a date (YYYY-MM-DD) from {EARLIEST_END_DATE} to {latest} (yesterday, UTC), got {text!r}")
    return day


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="americano", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="manage the embedded PostgreSQL cluster under data/postgres")
    db.add_argument("action", choices=["start", "stop", "status", "reset", "url"])
    db.add_argument("--admin", action="store_true",
                    help="with url: the maintenance (owner) login instead of the pipeline's read-only login")

    seed = commands.add_parser("seed", help="fill the source database with synthetic study data")
    seed.add_argument("--users", type=_bounded(SEED_USERS), default=1,
                      help=f"study participants, {_span(SEED_USERS)} (default 1)")
    seed.add_argument("--days", type=_bounded(SEED_DAYS), default=300,
                      help=f"days of history, {_span(SEED_DAYS)} (the minimum holds the demo protocols; "
                           "default 300)")
    seed.add_argument("--events-per-day", type=_bounded(SEED_EVENTS_PER_DAY), default=30,
                      help=f"mean events per user-day, {_span(SEED_EVENTS_PER_DAY)} (default 30)")
    seed.add_argument("--seed", type=_non_negative, default=42, help="random seed (default 42)")
    seed.add_argument("--end-date", type=_end_date, default=None,
                      help=f"last day of data (UTC), {EARLIEST_END_DATE} to yesterday, as later events would lie in "
                           "the future (default yesterday)")
    seed.add_argument("--reset", action="store_true", help="replace existing study data")

    commands.add_parser("demo", help="start the database, seed it if empty, run the pipeline, print a summary")
    commands.add_parser("prepare", help="start the database and seed it if empty (what demo does before running)")

    partitions = commands.add_parser(
        "protocols", help="add every protocol of the database as a partition of the Dagster instance (DAGSTER_HOME)")
    partitions.add_argument("--range", action="store_true",
                            help="print only <first>...<last>, for `dagster asset materialize --partition-range`")

    runs = commands.add_parser("runs", help="put right runs of the local Dagster instance whose process was killed")
    runs.add_argument("action", choices=["recover"],
                      help="recover: mark runs whose process is gone failed, free their pool slots, end their "
                           "leftover processes (dbt)")

    restore = commands.add_parser("restore", help="rebuild an earlier snapshot cut, byte for byte, from its DVC hash")
    restore.add_argument("data_version", help="the data_version_hash recorded with the snapshot (<md5>.dir)")
    restore.add_argument("--to", default=None, help="a new or empty target directory (default "
                                                    "data/restored/<hash>); a non-empty one is refused")

    reproduce = commands.add_parser(
        "reproduce", help="re-run a published analysis from its analysis_runs row (recorded commit, data version, "
                          "parameters) and compare every number")
    reproduce.add_argument("analysis_run_id", help="the analysis_runs id (provenance.analysisRunId of a result.json)")
    reproduce.add_argument("--allow-dirty", action="store_true",
                           help="a run whose code had uncommitted changes (codeDirty): re-run it with the current work "
                                "tree instead of its commit")

    api = commands.add_parser("api", help="the research API: serve it, print its OpenAPI schema, issue a token")
    api_actions = api.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = api_actions.add_parser("serve", help="serve the research API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_bounded((1, 65535)), default=8000, help="port (default 8000)")
    serve.add_argument("--processes", type=_bounded((1, 16)), default=2,
                       help="server processes, each with its own worker pool, caches and memory (default 2)")
    api_actions.add_parser("openapi", help="print the OpenAPI schema (JSON) to stdout")
    token = api_actions.add_parser("token", help="print a bearer token for a user (signed with the API's secret)")
    token.add_argument("user_id", help="the app's user id the token acts as")
    token.add_argument("--days", type=_bounded((1, 365)), default=30, help="days until it expires (default 30)")

    protocol = commands.add_parser("protocol", help="check a protocol file (YAML) and register it, its schedule "
                                                     "drawn by its design's randomization")
    protocol_actions = protocol.add_subparsers(dest="action", required=True, metavar="ACTION")
    protocol_actions.add_parser("validate", help="check the file, print the schedule it would register; writes "
                                                 "nothing").add_argument("file", help="the protocol file (YAML)")
    protocol_actions.add_parser("new", help="check the file, then insert the protocol and its phases; prints its "
                                            "id and seed").add_argument("file", help="the protocol file (YAML)")

    context = commands.add_parser("context", help="import a user's wearable data into context_metadata")
    context_actions = context.add_subparsers(dest="action", required=True, metavar="ACTION")
    apple = context_actions.add_parser(
        "import-apple-health", help="check an Apple Health export (export.zip or export.xml) and upsert its days as "
                                    "americano_writer; a file with an impossible value is refused whole")
    apple.add_argument("file", help="Apple's export.zip, or the export.xml inside it")
    apple.add_argument("--user", required=True, help="the app's user id the export belongs to")
    apple.add_argument("--timezone", default=None,
                       help="IANA zone of the user's calendar days, e.g. Europe/Berlin (default: each record's own "
                            "UTC offset, the time the device showed)")

    commands.add_parser("env", help="print the resolved settings as shell exports, for "
                                    "`eval \"$(americano env)\"` before dagster, dbt or mlflow commands")
    return parser


def _run(args: argparse.Namespace) -> bool:
    """Import the command's module and run it; False when it failed after reporting why."""
    if args.command == "env":
        for name, value in settings.shell_environment().items():
            print(f"export {name}={shlex.quote(value)}")
        return True
    if args.command == "protocol":
        from americano_pipeline.commands.protocol import protocol

        return protocol(args.action, args.file)
    if args.command == "context":
        from americano_pipeline.commands.context import import_apple_health

        return import_apple_health(args.file, user_id=args.user, timezone=args.timezone)
    if args.command == "api":
        from americano_pipeline.commands import api

        if args.action == "serve":
            api.serve(args.host, args.port, args.processes)
        elif args.action == "openapi":
            api.openapi()
        else:
            api.token(args.user_id, args.days)
        return True
    if args.command == "db":
        from americano_pipeline.commands.db import db

        db(args.action, admin=args.admin)
        return True
    if args.command == "seed":
        from americano_pipeline.commands.seed import seed

        seed(users=args.users, days=args.days, events_per_day=args.events_per_day, seed=args.seed,
             end_date=args.end_date, reset=args.reset)
        return True
    if args.command == "runs":
        from americano_pipeline.commands.runs import recover

        recover()
        return True
    if args.command == "restore":
        from americano_pipeline.commands.restore import restore

        restore(args.data_version, args.to)
        return True
    if args.command == "prepare":
        from americano_pipeline.commands.seed import prepare

        prepare()
        return True
    if args.command == "reproduce":
        from americano_pipeline.commands.reproduce import reproduce

        return reproduce(args.analysis_run_id, allow_dirty=args.allow_dirty)
    from americano_pipeline.commands.pipeline import demo, protocols

    return protocols(range_only=args.range) if args.command == "protocols" else demo()


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: one line on stderr, exit code 1 (imported only when one happened)."""
    from americano_pipeline.demo.seeding import NotEmpty
    from americano_pipeline.lineage.data_version import VersionNotFound
    from americano_pipeline.source.cluster import ClusterError
    from americano_pipeline.source.connection import DatabaseUnavailable

    return DatabaseUnavailable, ClusterError, NotEmpty, VersionNotFound, ValueError


def _message(exc: Exception) -> str | None:
    """The one line for an error that is the user's to fix, or None for a bug (which keeps its traceback).

    An OSError that names a file is the user's: a data directory below a file, a read-only or full disk.
    """
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror}"
    return str(exc) if isinstance(exc, _expected_errors()) else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return 0 if _run(args) else 1
    except Exception as exc:
        message = _message(exc)
        if message is None:
            raise
        print(f"americano: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
