"""nightly_schedule: every night, snapshot -> warehouse -> every protocol's analyses, in one run.

Why one run over all protocol partitions (a single-run backfill): the snapshot and the dbt build happen once, the
heavy statistics imports and the ITS model compilation are paid once, and every result of the night comes from the
same cut. Protocols registered in the study app since the last tick are added as partitions first. The hour is
02:00 in ``AMERICANO_TIMEZONE`` (default UTC), the user's time zone, so the night's snapshot closes their day.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG, whole_graph_job
from americano_pipeline.source.connection import DatabaseUnavailable
from americano_pipeline.partitions import partition_range_tags, protocols, register_protocols
from americano_pipeline.resources.postgres import PostgresResource

NIGHTLY_CRON = "0 2 * * *"


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
