"""`americano reproduce <analysis_run_id> [--allow-dirty]`: a published analysis re-run from its recorded commit,
data version and parameters in a temporary place, and every number compared with what it published
(``reproduction.rerun``). Prints "identical" or each difference; False (exit 1) on a difference."""

from __future__ import annotations

from americano_pipeline import settings


def reproduce(analysis_run_id: str, allow_dirty: bool = False, *, url: str | None = None) -> bool:
    """Reproduce the run (``url``: the reader login, default the configured source database); True if identical."""
    from americano_pipeline.reproduction.rerun import (
        ABSOLUTE_TOLERANCE,
        RELATIVE_TOLERANCE,
        recorded_run,
        report_lines,
        reproduce_run,
    )
    from americano_pipeline.source.connection import READER_ROLE, connect
    from americano_pipeline.source.database import database_url

    with connect(url or database_url(), role=READER_ROLE) as conn:
        run = recorded_run(conn, analysis_run_id)
    print(f"analysis run {run.id}: {run.analysis_type} of protocol {run.protocol_id}, commit {run.code_commit}, "
          f"data version {run.data_version}")
    if run.code_dirty and allow_dirty:
        print("warning: the run's code had uncommitted changes (codeDirty=true); re-running it with the current "
              "work tree, which reproduces it only if that tree still holds those changes")
    done = reproduce_run(run, allow_dirty=allow_dirty, tracked=settings.current_snapshot_dir(),
                         remote=settings.dvc_remote(), tracking_uri=settings.mlflow_tracking_uri(),
                         progress=lambda line: print(f"  {line}"))
    comparison = done.comparison
    print(f"  published: {done.published_from}")
    counted = (f"{comparison.numbers} numbers (equal within a relative {RELATIVE_TOLERANCE:g}, absolute "
               f"{ABSOLUTE_TOLERANCE:g} near zero) and {comparison.values - comparison.numbers} other values")
    if comparison.identical:
        print(f"identical: {counted} of result.json, inputParams and resultsSummary; run ids and times not compared")
        return True
    print(f"{len(comparison.differences)} difference{'s' if len(comparison.differences) != 1 else ''} "
          f"(of {counted} compared):")
    for line in report_lines(comparison.differences):
        print(f"  {line}")
    return False
