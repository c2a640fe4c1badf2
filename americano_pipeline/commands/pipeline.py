"""`americano demo` and `americano protocols`: the asset graph run in-process on the persistent Dagster instance.

Why two runs, as the nightly schedule does them: the snapshot and the warehouse, then one single-run backfill of
the four analyses over every registered protocol (so the heavy imports happen once).
"""

from __future__ import annotations

import contextlib
import sys

from americano_pipeline import settings
from americano_pipeline.commands.seed import prepare
from americano_pipeline.demo import console

# dagster-dbt echoes every dbt log line to stdout, and Dagster logs every event: keep the console for the outcome.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _registered_protocols(instance) -> tuple[list[str], list[str]]:
    """Add every protocol of the source database as a partition: (the keys added, every key), in order."""
    from americano_pipeline.partitions import protocols, register_protocols
    from americano_pipeline.resources.postgres import PostgresResource

    added = register_protocols(instance, PostgresResource(),
                               report=lambda reason: print(f"americano: warning: {reason}", file=sys.stderr))
    return added, instance.get_dynamic_partitions(protocols.name)


def _run_pipeline() -> bool:
    settings.use_dagster_home()
    import dagster as dg

    from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG
    from americano_pipeline.definitions import defs
    from americano_pipeline.partitions import partition_range_tags

    from americano_pipeline.automation.recovery import recover_dead_runs

    instance = dg.DagsterInstance.get()
    for recovered in recover_dead_runs(instance):
        print(f"recovered {recovered}")
    log_path = settings.demo_dir() / "pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = defs.resolve_job_def("snapshot_and_warehouse").execute_in_process(
            run_config={**ALL_HISTORY_CONFIG, **QUIET}, instance=instance, raise_on_error=False)
    console.print_warehouse_run(result, log_path)
    if not result.success:
        return False
    _, keys = _registered_protocols(instance)
    print(f"analysing {len(keys)} protocols (one run over all partitions) ...")
    analysis = defs.resolve_job_def("analysis").execute_in_process(
        run_config=QUIET, instance=instance, tags=partition_range_tags(keys), raise_on_error=False)
    console.print_analysis_run(analysis, keys)
    return analysis.success


def demo() -> bool:
    prepare()
    return _run_pipeline()


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
