"""report_after_failure_sensor: the CENT reports of a run whose analysis step failed, in a run of their own.

Why: the report is downstream of the four analyses in the same run, and Dagster skips every downstream step of a
failed step. An analysis fails as a step when any one protocol fails (the others' results are published first),
so one protocol's failed ITS used to cost every protocol of the run its report. When such a run fails with its
report step skipped, this sensor requests the report job over the same partitions; each report then says which
result is missing or older than the warehouse (``report.build``: limitations). Only skipped reports are
requested: a report step that ran and failed would fail again the same way, and the report job itself is not
monitored, so a request can never loop. ``americano demo`` applies the same rule in-process (``report_rerun``).
"""

import dagster as dg
from americano_pipeline.assets.report import KEY
from americano_pipeline.automation.jobs import analysis_job, report_job, whole_graph_job

REPORT_STEP = "__".join(KEY.path)
PARTITION_TAGS = ("dagster/partition", "dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def report_rerun(instance: dg.DagsterInstance, run_id: str) -> dict[str, str] | None:
    """The partition tags of run ``run_id`` when it selected the report and its report step never ran (skipped
    after an upstream failure); None otherwise (succeeded, report attempted, or no partitions)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status != dg.DagsterRunStatus.FAILURE:
        return None
    planned = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id).step_keys_to_execute
    started = {entry.step_key for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)}
    tags = {tag: run.tags[tag] for tag in PARTITION_TAGS if tag in run.tags}
    if REPORT_STEP not in planned or REPORT_STEP in started or not tags:
        return None
    return tags


@dg.run_failure_sensor(monitored_jobs=[analysis_job, whole_graph_job], request_job=report_job,
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="A run whose analysis failed skipped its CENT reports: request them on their own.")
def report_after_failure_sensor(context: dg.RunFailureSensorContext):
    tags = report_rerun(context.instance, context.dagster_run.run_id)
    if tags is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id} did not skip its reports")
    context.log.info(f"run {context.dagster_run.run_id} failed before its reports: requesting them ({tags})")
    return dg.RunRequest(run_key=f"reports-after-{context.dagster_run.run_id}", tags=tags)
