"""raw_snapshot_freshness_checks and raw_snapshot_freshness_sensor: a warning when the nightly snapshot did not run.

Why this deadline: the nightly schedule snapshots at 02:00 in ``AMERICANO_TIMEZONE`` (``schedules.NIGHTLY_CRON``),
so at each 02:00 the snapshot must be newer than 24 hours before it, i.e. the previous night's run (or any later one)
materialized it. Checking at the deadline and not after the run's expected end means a night's run still in progress
is never reported, and one missed night is. The checks are Dagster's last-update freshness checks, one per table of
the cut, non-blocking with severity WARN: an old snapshot is still a valid cut. The sensor evaluates them once a
deadline has passed (it requests a run of the checks alone); it runs by default, since a freshness check that is
never evaluated warns nobody.

Why checks and not Dagster 1.12's ``FreshnessPolicy``, which supersedes them: a policy is attached to the asset spec
and evaluated only where the instance enables the preview (``freshness: enabled`` in dagster.yaml); the checks work
on every instance, show as checks of the raw tables, and are what the sensor evaluates. Their supersession warning
(one per load of the definitions) is silenced for exactly these two functions.
"""

import warnings
from datetime import timedelta

import dagster as dg
from americano_pipeline.assets.raw import raw_snapshot
from americano_pipeline.automation.schedules import NIGHTLY_CRON, schedule_timezone

SNAPSHOT_MAX_AGE = timedelta(hours=24)

for superseded in ("build_last_update_freshness_checks", "build_sensor_for_freshness_checks"):
    warnings.filterwarnings("ignore", message=f"Function `{superseded}` is superseded", category=dg.SupersessionWarning)

raw_snapshot_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[raw_snapshot], lower_bound_delta=SNAPSHOT_MAX_AGE, deadline_cron=NIGHTLY_CRON,
    timezone=schedule_timezone(), severity=dg.AssetCheckSeverity.WARN, blocking=False)

raw_snapshot_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=raw_snapshot_freshness_checks, name="raw_snapshot_freshness_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING)
