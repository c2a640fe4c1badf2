"""monitoring/drift_report: the Evidently drift report of the current snapshot cut (``analysis.drift``), logged to
MLflow, with the non-blocking check ``drift_is_absent``; and ``wearable_sources_are_fresh``, a non-blocking check of
raw/context_metadata that names every user's wearable source whose imports stopped (``checks.freshness``).

Why non-blocking (severity WARN): drift and a late source are reasons to look at the data, not errors in it; the
synthetic study plants intervention effects, so its latest window drifts by design, and a blocking check would stop
the warehouse and the analyses for what they are meant to measure.

Why the source freshness is a check of raw/context_metadata and not of the drift report: the stale rows are in that
table's cut, so the warning shows on the asset that holds them, in every job that takes a snapshot (a group
selection carries the checks of its assets), whether or not the drift report runs; and the drift report anchors its
windows on the last day with data, so it would not show a source that stopped.

Which cut: both read the current cut (``settings.current_snapshot_dir``), which the snapshot promoted, and name it
by the id of the latest promoted snapshot (the ``snapshot_id`` and ``promoted_to_current`` metadata of
raw/context_metadata): a snapshot whose blocking check failed leaves the previous cut current, and the report says
so by its id. The MLflow run (experiment ``monitoring/drift_report``) carries the pipeline's standard tags (git
commit, DVC data version, Dagster run) and ``drift.found``, the summary's numbers as metrics and the reports as
artifacts. The store is reached before anything is computed, so an unavailable one costs nothing.
"""

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.analysis.drift import (
    CHECKED,
    LATEST_DAYS,
    MIN_DAYS,
    REFERENCE_DAYS,
    DriftSummary,
    drift_report as build_drift_report,
)
from americano_pipeline.assets.provenance import run_name, run_tags
from americano_pipeline.checks.freshness import MAX_AGE_DAYS, snapshot_day, source_freshness
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource

KEY = dg.AssetKey(["monitoring", "drift_report"])
GROUP = "monitoring"
EVENTS_KEY = dg.AssetKey(["raw", "behavioral_events"])
CONTEXT_KEY = dg.AssetKey(["raw", "context_metadata"])
DRIFT_CHECK = "drift_is_absent"
FRESHNESS_CHECK = "wearable_sources_are_fresh"
SNAPSHOT_LOOKBACK = 100  # materializations of raw/context_metadata searched for the promoted one


class DriftConfig(dg.Config):
    latest_days: int = Field(default=LATEST_DAYS, ge=1, description="Days in the latest window (ending on the last "
                                                                     "day with data).")
    reference_days: int = Field(default=REFERENCE_DAYS, ge=1, description="Days in the reference window just before "
                                                                          "the latest one.")
    min_days: int = Field(default=MIN_DAYS, ge=1, description="Days with data each window needs, else 'not enough "
                                                              "data'.")


class SourceFreshnessConfig(dg.Config):
    max_age_days: int = Field(default=MAX_AGE_DAYS, ge=0, description="A wearable source whose latest imported day "
                                                                      "is more days before the snapshot's is stale.")


def current_snapshot_id(instance: dg.DagsterInstance) -> str:
    """The id of the snapshot whose cut is current: the latest materialization of raw/context_metadata that was
    promoted (a rejected snapshot left the previous cut current)."""
    for record in instance.fetch_materializations(CONTEXT_KEY, limit=SNAPSHOT_LOOKBACK).records:
        metadata = record.asset_materialization.metadata
        if metadata.get("promoted_to_current") and metadata["promoted_to_current"].value:
            return str(metadata["snapshot_id"].value)
    raise dg.Failure(description=f"no promoted snapshot among the last {SNAPSHOT_LOOKBACK} materializations of "
                                 f"{CONTEXT_KEY.to_user_string()}: materialize raw_snapshot (its checks must pass) "
                                 "first")


def drift_check_result(summary: DriftSummary) -> dg.AssetCheckResult:
    """``drift_is_absent``: fails (WARN) naming every drifted column with its test and statistic; a dataset that had
    too little data is named as not checked, without failing the check."""
    drifted = summary.drifted_columns
    named = "; ".join(f"{dataset}.{column.describe()}" for dataset, column in drifted)
    unchecked = "; ".join(f"{dataset.name} not checked: {dataset.reason}" for dataset in summary.unchecked)
    verdict = f"drift in {len(drifted)} column(s): {named}" if drifted else "no column drifted"
    return dg.AssetCheckResult(
        asset_key=KEY, check_name=DRIFT_CHECK, passed=not drifted, severity=dg.AssetCheckSeverity.WARN,
        description=f"{verdict}{f' ({unchecked})' if unchecked else ''}; a monitoring signal, not inference",
        metadata={"snapshot_id": summary.snapshot_id, "drifted_columns": len(drifted),
                  "drift": dg.MetadataValue.json({f"{dataset}.{column.column}": column.to_dict()
                                                  for dataset, column in drifted})})


def _metrics(summary: DriftSummary) -> dict[str, float]:
    """The summary's numbers for MLflow, per dataset checked: share drifted, drifted columns, the dataset verdict,
    the windows' rows, and each column's statistic (so a column can be followed from snapshot to snapshot)."""
    metrics = {"drifted_columns": len(summary.drifted_columns)}
    for dataset in summary.datasets:
        if dataset.status != CHECKED:
            continue
        metrics.update({f"{dataset.name}.share_drifted": dataset.share_drifted,
                        f"{dataset.name}.drifted_columns": len(dataset.drifted_columns),
                        f"{dataset.name}.dataset_drift": int(dataset.dataset_drift),
                        f"{dataset.name}.reference_rows": dataset.reference.rows,
                        f"{dataset.name}.latest_rows": dataset.latest.rows,
                        **{f"{dataset.name}.{column.column}.statistic": column.statistic
                           for column in dataset.columns}})
    return metrics


def _summary_markdown(summary: DriftSummary) -> str:
    lines = ["| dataset | reference | latest | drifted columns | share | dataset drift |", "|---|---|---|---|---|---|"]
    for dataset in summary.datasets:
        windows = [f"{w.start}..{w.end} ({w.rows} rows)" if w else "-" for w in (dataset.reference, dataset.latest)]
        drifted = ", ".join(column.describe() for column in dataset.drifted_columns) or dataset.reason or "none"
        lines.append(f"| {dataset.name} | {windows[0]} | {windows[1]} | {drifted} | {dataset.share_drifted:.2f} | "
                     f"{dataset.dataset_drift} |")
    return "\n".join(lines)


@dg.asset(key=KEY, group_name=GROUP, deps=[EVENTS_KEY, CONTEXT_KEY], kinds={"python", "mlflow"},
          check_specs=[dg.AssetCheckSpec(DRIFT_CHECK, asset=KEY, blocking=False,
                                         description="No column of the events or the context drifted between the "
                                                     "reference and the latest window (WARN, never blocking).")],
          description="Evidently drift report of the current snapshot cut: the latest 14 days of events and context "
                      "against the 56 days before (analysis.drift), logged to MLflow.")
def drift_report(context: dg.AssetExecutionContext, config: DriftConfig, mlflow_tracking: MlflowTrackingResource):
    tracker = mlflow_tracking.tracker()
    experiment = KEY.to_user_string()
    tracker.experiment_id(experiment)  # an unavailable store fails here, before anything is written
    snapshot_id = current_snapshot_id(context.instance)
    summary = build_drift_report(settings.current_snapshot_dir(), snapshot_id, latest_days=config.latest_days,
                                 reference_days=config.reference_days, min_days=config.min_days)
    run_id = tracker.start_run(experiment, run_name(context),
                               params={"snapshot_id": snapshot_id, **config.model_dump()},
                               tags={**run_tags(context), "snapshot.id": snapshot_id,
                                     "drift.found": str(bool(summary.drifted_columns)).lower()})
    try:
        tracker.finish_run(run_id, _metrics(summary), summary.files())
    except BaseException:
        tracker.fail_run(run_id)
        raise
    files = {f"report_{path.stem}_{path.suffix[1:]}": dg.MetadataValue.path(str(path)) for path in summary.files()}
    return dg.MaterializeResult(
        metadata={"snapshot_id": snapshot_id, "drift_found": bool(summary.drifted_columns),
                  "drifted_columns": ", ".join(f"{dataset}.{column.column}"
                                               for dataset, column in summary.drifted_columns) or "none",
                  "summary": dg.MetadataValue.md(_summary_markdown(summary)),
                  "directory": dg.MetadataValue.path(str(summary.directory)), **files,
                  "mlflow_run_id": run_id,
                  "mlflow_run": dg.MetadataValue.url(settings.mlflow_run_url(tracker.experiment_id(experiment),
                                                                             run_id))},
        check_results=[drift_check_result(summary)])


@dg.asset_check(asset=CONTEXT_KEY, name=FRESHNESS_CHECK, blocking=False,
                description="Every user's wearable source (Apple Health, Oura, WHOOP) with imported days has one "
                            f"within {MAX_AGE_DAYS} days (configurable) of the snapshot's day (WARN, never blocking).")
def wearable_sources_are_fresh(context: dg.AssetCheckExecutionContext,
                               config: SourceFreshnessConfig) -> dg.AssetCheckResult:
    import pandas as pd

    snapshot_id = current_snapshot_id(context.instance)
    day = snapshot_day(snapshot_id, settings.timezone_name())
    cut = pd.read_parquet(settings.current_snapshot_dir() / "context_metadata.parquet",
                          columns=["userId", "source", "localDate"])
    sources = source_freshness(cut, day, config.max_age_days)
    stale = [source for source in sources if source.stale]
    table = "\n".join(["| user | source | last day | days old | stale |", "|---|---|---|---|---|",
                       *(f"| {s.user_id} | {s.source} | {s.last_day} | {s.age_days} | {s.stale} |" for s in sources)])
    if stale:
        description = (f"{len(stale)} wearable source(s) more than {config.max_age_days} days behind the snapshot's "
                       f"day {day}: " + "; ".join(source.describe() for source in stale))
    else:
        description = (f"all {len(sources)} wearable source(s) within {config.max_age_days} days of {day}" if sources
                       else "no wearable imports in the cut")
    return dg.AssetCheckResult(passed=not stale, severity=dg.AssetCheckSeverity.WARN, description=description,
                               metadata={"snapshot_id": snapshot_id, "snapshot_day": str(day),
                                         "sources": len(sources), "stale_sources": len(stale),
                                         "by_source": dg.MetadataValue.md(table)})


monitoring_assets = [drift_report]
monitoring_checks = [wearable_sources_are_fresh]
