"""context/<asset>: the daily Oura and WHOOP sync into ``context_metadata``, one partition per calendar day.

Why two assets with a blocking check between them: the vendors are read once into a landing file
(``context/wearable_days``), the check ``wearable_days_are_possible`` refuses impossible values in it (sleep over
24 h, HRV of 0 or below, ... ``checks.wearables``) naming each row, and only a day that passed is written to the
study database (``context/imported_context``, through the writer login). A refused day writes nothing and stops the
run before the import, so the Dagster UI shows which rows to look at.

Failure policy (``context.sync`` module doc): one user's or vendor's failure does not lose the others' days. The
sync lands what it got, records that materialization (the file exists and holds those days), then fails the step
naming every failure, because the day is incomplete; the import does not run in that run. A re-run fetches the
whole day again (the upsert is idempotent). To import the other users' days without waiting for a failing user to
authorize again, materialize ``context/imported_context`` alone for the day: it checks the landing file with the same
rules itself, so run alone it still writes nothing the check would refuse.

The sync is off unless ENABLE_WEARABLES_SYNC is true (``context.sync.SyncDisabled``); httpx, cryptography, pandas and
psycopg work are imported inside the bodies, so loading the code location stays cheap.
"""

import warnings
from datetime import date

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.partitions import wearable_day_partition
from americano_pipeline.resources.postgres import PostgresResource

GROUP = "context"
KEY_PREFIX = "context"
COUNTERS = ("users", "failed", "days", "pages", "records", "retries", "refreshes", "skipped")


def _day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _sync_metadata(synced, path) -> dict:
    """Rows per source, each configured vendor's counters (``<source>_<counter>``), the vendors not configured."""
    sources = sorted({day.source for day in synced.days} | set(synced.stats))
    return {
        "path": dg.MetadataValue.path(str(path)),
        "rows": len(synced.days),
        **{f"rows_{source.lower()}": sum(day.source == source for day in synced.days) for source in sources},
        **{f"{source.lower()}_{name}": getattr(stats, name) for source, stats in synced.stats.items()
           for name in COUNTERS},
        "not_configured": ", ".join(synced.unconfigured) or "none",
        "failures": len(synced.failures),
    }


# pool: one sync at a time across runs (data/dagster_home/dagster.yaml gives every named pool one slot). A refresh
# rotates a user's refresh token (``context.oauth``: one sync per user and vendor at a time), and a schedule tick or a
# backfill launches several days' runs at once; run side by side, two of them would spend the same refresh token.
@dg.asset(key_prefix=KEY_PREFIX, group_name=GROUP, partitions_def=wearable_day_partition, kinds={"python", "parquet"},
          pool="wearable_sync",
          description="The day's Oura and WHOOP data of every authorized user, landed as "
                      "data/wearables/days/<day>.parquet (off unless ENABLE_WEARABLES_SYNC is true).")
def wearable_days(context: dg.AssetExecutionContext):
    from americano_pipeline.context.landing import day_path, write_days
    from americano_pipeline.context.oauth import TokenStore
    from americano_pipeline.context.sync import SyncDisabled, sync_day

    day = _day(context)
    try:
        synced = sync_day(day, token_store=TokenStore(settings.wearable_tokens_dir()))
    except SyncDisabled as exc:
        raise dg.Failure(description=str(exc)) from None
    path = write_days(synced.days, day_path(day))
    metadata = _sync_metadata(synced, path)
    if synced.complete:
        yield dg.MaterializeResult(metadata=metadata)
        return
    yield dg.AssetMaterialization(asset_key=context.asset_key, partition=context.partition_key, metadata=metadata)
    failures = "\n".join(f"- {failure}" for failure in synced.failures)
    count = len(synced.failures)
    raise dg.Failure(
        description=f"the wearable sync of {day} is incomplete ({count} failure{'s' * (count != 1)}); the "
                    f"{len(synced.days)} day(s) fetched are landed in {path}, a re-run fetches the whole day "
                    f"again:\n{failures}",
        metadata={"failures": dg.MetadataValue.md(failures)})


# The check is partitioned like its asset, so the UI shows each day's result (an unpartitioned check on a partitioned
# asset keeps one result, the last run's day, for all days). ``partitions_def`` on a check is a Preview parameter:
# accepted here, so its warning (on every load of the definitions) is silenced for exactly this message (see
# ``third_party``).
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec",
                        category=dg.PreviewWarning)


@dg.asset_check(asset=wearable_days, blocking=True, partitions_def=wearable_day_partition,
                description="Every landed day is possible (records.BOUNDS: sleep 0-24 h, HRV 1-300 ms, ...), of a "
                            "known source, once per user, source and day, and on the partition's day.")
def wearable_days_are_possible(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from americano_pipeline.checks.wearables import find_problems, problems_markdown
    from americano_pipeline.context.landing import day_path, read_table, to_frame

    day = _day(context)
    path = day_path(day)
    frame = to_frame(read_table(path))
    problems = find_problems(frame, day)
    metadata = {"path": dg.MetadataValue.path(str(path)), "rows": len(frame), "problems": len(problems)}
    if not problems:
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={
            **metadata, "report": dg.MetadataValue.md(problems_markdown(problems))},
        description=f"{len(problems)} problem{'s' * (len(problems) != 1)} in {path}, nothing imported; the first: "
                    f"{problems[0]}")


@dg.asset(key_prefix=KEY_PREFIX, group_name=GROUP, partitions_def=wearable_day_partition, deps=[wearable_days],
          kinds={"python", "postgres"},
          description="The landed days upserted into context_metadata as americano_writer: inserted when new, "
                      "updated when the vendor re-scored them, unchanged otherwise.")
def imported_context(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    from americano_pipeline.checks.wearables import wearable_problems
    from americano_pipeline.context.landing import day_path, days_of, read_table, to_frame
    from americano_pipeline.context.store import store_days
    from americano_pipeline.source.connection import DatabaseUnavailable

    day = _day(context)
    path = day_path(day)
    try:
        table = read_table(path)
    except FileNotFoundError as exc:
        raise dg.Failure(description=str(exc)) from None
    problems = wearable_problems(to_frame(table), day)
    if problems:
        raise dg.Failure(description=f"{path} is refused, nothing written:\n" + "\n".join(f"- {p}" for p in problems))
    try:
        with postgres.writer() as conn:
            stored = store_days(conn, days_of(table))
    except DatabaseUnavailable as exc:
        raise dg.Failure(description=f"{exc}; nothing was written, {path} is kept for a re-run") from None
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)), "rows": table.num_rows,
                                          "inserted": stored.inserted, "updated": stored.updated,
                                          "unchanged": stored.unchanged})


context_assets = [wearable_days, imported_context]
context_checks = [wearable_days_are_possible]
