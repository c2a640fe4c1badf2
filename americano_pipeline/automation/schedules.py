"""nightly_schedule: every night, snapshot -> warehouse -> every protocol's analyses, in one run;
wearable_sync_schedule: every morning, the Oura and WHOOP sync of the last days.

Why one run over all protocol partitions (a single-run backfill): the snapshot and the dbt build happen once, the
heavy statistics imports and the ITS model compilation are paid once, and every result of the night comes from the
same cut. Protocols registered in the study app since the last tick are added as partitions first. The hour is
02:00 in ``AMERICANO_TIMEZONE`` (default UTC), the user's time zone, so the night's snapshot closes their day.

The wearable sync runs at 06:00 in that zone and requests yesterday's partition: a night belongs to the day it ends
on, and the vendors score it only after the user wakes up, so at 06:00 yesterday is the last day that can be
complete. It also requests the two days before, because the vendors re-score late (a ring synced to the phone a day
later, a WHOOP cycle still PENDING_SCORE, a user far west of AMERICANO_TIMEZONE whose yesterday was not over at 06:00);
the import is idempotent, so a day that did not change costs its API calls and writes nothing. It is off unless
ENABLE_WEARABLES_SYNC is true: the schedule starts RUNNING only when the flag is on when the code location loads, and
every tick checks the flag again and skips, naming it, when it is off.
"""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG, wearable_sync_job, whole_graph_job
from americano_pipeline.source.connection import DatabaseUnavailable
from americano_pipeline.partitions import partition_range_tags, protocols, register_protocols, wearable_day_partition
from americano_pipeline.resources.postgres import PostgresResource

NIGHTLY_CRON = "0 2 * * *"
WEARABLE_CRON = "0 6 * * *"
RESCORED_DAYS = 2  # days before yesterday requested again
SYNC_FLAG = "ENABLE_WEARABLES_SYNC"


def schedule_timezone() -> str:
    """AMERICANO_TIMEZONE (an IANA name), default UTC; a name the system does not know is refused."""
    name = settings.timezone_name()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"AMERICANO_TIMEZONE must be an IANA time zone such as Europe/Berlin, got {name!r}") from None
    return name


@dg.schedule(job=whole_graph_job, cron_schedule=NIGHTLY_CRON, execution_timezone=schedule_timezone(),
             description="02:00 local: snapshot, warehouse and every protocol's analyses in one run.")
def nightly_schedule(context: dg.ScheduleEvaluationContext, postgres: PostgresResource):
    try:
        register_protocols(context.instance, postgres, report=context.log.warning)
    except DatabaseUnavailable as exc:
        return dg.SkipReason(f"the study database is unavailable ({exc}); the next night retries")
    keys = context.instance.get_dynamic_partitions(protocols.name)
    if not keys:
        return dg.SkipReason("no experiment protocols are registered yet")
    # The run config is explicit: a partition-range run does not take the job's per-partition config.
    return dg.RunRequest(run_config=ALL_HISTORY_CONFIG, tags=partition_range_tags(keys))


def wearable_sync_days(today: date) -> list[str]:
    """The partitions a tick on ``today`` requests: yesterday and the RESCORED_DAYS before it, oldest first, those
    the partitions definition holds."""
    keys = [(today - timedelta(days=back)).isoformat() for back in range(RESCORED_DAYS + 1, 0, -1)]
    return [key for key in keys if key >= wearable_day_partition.start.strftime("%Y-%m-%d")]


@dg.schedule(job=wearable_sync_job, cron_schedule=WEARABLE_CRON, execution_timezone=schedule_timezone(),
             default_status=(dg.DefaultScheduleStatus.RUNNING if settings.wearables_sync_enabled()
                             else dg.DefaultScheduleStatus.STOPPED),
             description="06:00 local: the Oura and WHOOP sync of yesterday and, re-scored late, the two days before "
                         f"(off unless {SYNC_FLAG} is true).")
def wearable_sync_schedule(context: dg.ScheduleEvaluationContext):
    if not settings.wearables_sync_enabled():
        return dg.SkipReason(f"{SYNC_FLAG} is not true, so the wearable sync is off; set {SYNC_FLAG}=true where "
                             "the code location runs to sync Oura and WHOOP data")
    moment = context.scheduled_execution_time or datetime.now(timezone.utc)
    today = moment.astimezone(ZoneInfo(schedule_timezone())).date()
    return [dg.RunRequest(partition_key=key, run_key=f"wearable_sync {key} on {today}")
            for key in wearable_sync_days(today)]
