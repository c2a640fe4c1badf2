"""`americano demo` and `americano protocols`: the asset graph run in-process on the persistent Dagster instance.

Why two runs, as the nightly schedule does them: the snapshot and the warehouse, then one single-run backfill of
the four analyses and the reports over every registered protocol (so the heavy imports happen once); a third,
of the reports alone, when a failed analysis made Dagster skip them.

Every step that takes seconds prints its start and end with the elapsed time, and each Dagster step its own as it
runs (``demo.progress``); ``demo`` first does what ``americano prepare`` does.
"""

from __future__ import annotations

import contextlib
import sys
import uuid

from americano_pipeline import settings
from americano_pipeline.demo import console
from americano_pipeline.demo.progress import Progress

# dagster-dbt echoes every dbt log line to stdout, and Dagster logs every event: keep the console for the outcome.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _registered_protocols(instance) -> tuple[list[str], list[str]]:
    """Add every protocol of the source database as a partition: (the keys added, every key), in order."""
    from americano_pipeline.partitions import protocols, register_protocols
    from americano_pipeline.resources.postgres import PostgresResource

    added = register_protocols(instance, PostgresResource(),
                               report=lambda reason: print(f"americano: warning: {reason}", file=sys.stderr))
    return added, instance.get_dynamic_partitions(protocols.name)


def _execute(job, instance, progress: Progress, **kwargs):
    """``job.execute_in_process`` with a line per Dagster step as it starts and ends (``demo.progress``)."""
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, progress.dagster_listener())
    return job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False, **kwargs)


def _run_pipeline(progress: Progress) -> bool:
    with progress.step("loading the Dagster definitions"):
        settings.use_dagster_home()
        import dagster as dg

        from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG
        from americano_pipeline.automation.recovery import recover_dead_runs
        from americano_pipeline.definitions import defs
        from americano_pipeline.partitions import partition_range_tags

        instance = dg.DagsterInstance.get()
        recovered = list(recover_dead_runs(instance))
    for run in recovered:
        print(f"recovered {run}")
    log_path = settings.demo_dir() / "pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with progress.step("snapshot and warehouse"):
        with log_path.open("w") as log, contextlib.redirect_stdout(log):
            result = _execute(defs.resolve_job_def("snapshot_and_warehouse"), instance, progress,
                              run_config={**ALL_HISTORY_CONFIG, **QUIET})
    console.print_warehouse_run(result, log_path)
    if not result.success:
        return False
    _, keys = _registered_protocols(instance)
    with progress.step(f"analysing {len(keys)} protocols (one run over all partitions)", name="analysing"):
        analysis = _execute(defs.resolve_job_def("analysis"), instance, progress, run_config=QUIET,
                            tags=partition_range_tags(keys))
    console.print_analysis_run(analysis, keys)
    _reports_after_failure(defs, instance, progress, analysis.run_id)
    return analysis.success


def _reports_after_failure(defs, instance, progress: Progress, run_id: str) -> None:
    """The reports a failed analysis skipped, in a run of their own (as ``report_after_failure_sensor`` does)."""
    from americano_pipeline.automation.report_sensor import report_rerun

    tags = report_rerun(instance, run_id)
    if tags is None:
        return
    with progress.step("CENT reports of every protocol (the failed analysis skipped them)", name="reports"):
        reports = _execute(defs.resolve_job_def("report"), instance, progress, run_config=QUIET, tags=tags)
    if not reports.success:
        print("americano: error: the CENT reports failed too; see the Dagster run " + reports.run_id, file=sys.stderr)


def demo() -> bool:
    from americano_pipeline.commands.seed import prepare

    progress = Progress()
    prepare(progress)
    return _run_pipeline(progress)


def protocols(*, range_only: bool) -> bool:
    """Register the database's protocols as partitions; print them (or only ``<first>...<last>``)."""
    settings.use_dagster_home()
    import dagster as dg

    instance = dg.DagsterInstance.get()
    added, keys = _registered_protocols(instance)
    if not keys:
        print("americano: error: the database holds no experiment protocols", file=sys.stderr)
        return False
    if range_only:
        print(f"{keys[0]}...{keys[-1]}")
    else:
        print(f"{len(keys)} protocol partitions ({len(added)} added):")
        print("\n".join(f"  {key}" for key in keys))
    return True
