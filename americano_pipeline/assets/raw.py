"""raw/<table>: one consistent PostgreSQL cut to Parquet, validated by blocking Pandera checks, DVC-versioned.

Why one multi-asset with its checks inside: the five tables are a single consistent cut (one transaction), and
validation must gate what becomes *current*. The step extracts an immutable snapshot (``source.extract``), passes
it through the quarantine/promote gate (``checks.gate``, which holds the strict/non-strict policy), versions a
promoted cut with DVC, and reports: one materialization and one check result per table, and one MLflow run
(experiment ``raw_snapshot``: rows, bytes and failing rows per table, the data version). The MLflow store is
reached before the extract, so an unavailable one costs nothing. A database that is down, or fails mid-extract,
fails the step with one line that says the current cut was not touched (the extract only writes new files).
"""

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.assets.provenance import run_name, run_tags
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source.connection import DatabaseUnavailable
from americano_pipeline.source.schema import TABLES
from americano_pipeline.source.window import ALL_HISTORY, DEFAULT_DAYS, ExtractWindow

CHECK_NAME = "pandera_schema"


class SnapshotConfig(dg.Config):
    days: int = Field(default=DEFAULT_DAYS, ge=0,
                      description=f"Last N days of behavioral_events; {ALL_HISTORY} = all history.")
    user_id: str | None = Field(default=None, description="Only this user's rows (all users when empty).")
    strict: bool = Field(default=True, description="Fail on any invalid row (True) or quarantine invalid rows "
                                                   "and continue with the valid ones (False).")


def _asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


@dg.multi_asset(
    specs=[dg.AssetSpec(_asset_key(t), group_name="raw", kinds={"postgres", "parquet"},
                        description=f"Snapshot of the source table {t} (one consistent cut with the others).")
           for t in TABLES],
    check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset=_asset_key(t), blocking=True,
                                   description="Pandera schema from source/schema.sql plus cross-table rules")
                 for t in TABLES],
    can_subset=False,
    pool="dvc",
)
def raw_snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, postgres: PostgresResource,
                 data_versioning: DataVersioningResource, mlflow_tracking: MlflowTrackingResource):
    from americano_pipeline.checks.gate import gate_cut
    from americano_pipeline.lineage.snapshot_store import new_snapshot_id
    from americano_pipeline.lineage.data_version import file_md5
    from americano_pipeline.source.extract import ExtractFailed, extract

    tracker = mlflow_tracking.tracker()
    tracker.experiment_id(context.op_def.name)
    current_dir = settings.current_snapshot_dir()
    snapshot_id, window = new_snapshot_id(), ExtractWindow(config.days, config.user_id)
    try:
        with postgres.reader() as conn:
            files = extract(conn, settings.raw_dir(), snapshot_id, window)
    except (DatabaseUnavailable, ExtractFailed) as exc:
        raise dg.Failure(description=f"{exc}; the previous snapshot in {current_dir} is unchanged") from None
    gate = gate_cut(files, snapshot_id, strict=config.strict, quarantine_dir=settings.quarantine_dir(),
                    current_dir=current_dir)
    for report in gate.reports.values():
        if not report.passed:
            context.log.error(report.summary())
    version = data_versioning.track(current_dir) if gate.promoted else None
    events = gate.cut["behavioral_events"]["timestamp"]
    metadata = {table: {
        "snapshot_id": snapshot_id, "path": dg.MetadataValue.path(str(files[table].path)),
        "rows": len(gate.cut[table]), "bytes": files[table].path.stat().st_size,
        "columns": ", ".join(files[table].columns), "window_days": config.days, "user_id": config.user_id or "all",
        "events_from": str(events.min()) if len(events) else "none",
        "events_to": str(events.max()) if len(events) else "none",
        "file_md5": file_md5(files[table].path), "promoted_to_current": gate.promoted,
        "data_version_hash": version or "not promoted",
    } for table in TABLES}
    run_id = tracker.log_run(
        context.op_def.name, run_name(context),
        params={"snapshot_id": snapshot_id, "days": config.days, "user_id": config.user_id or "all",
                "strict": config.strict},
        metrics={f"{name}.{table}": value for table in TABLES for name, value in (
            ("rows", len(gate.cut[table])), ("bytes", metadata[table]["bytes"]),
            ("failing_rows", len(gate.reports[table].failing_rows)))},
        tags={**run_tags(context), "snapshot.promoted": str(gate.promoted).lower()},
    )
    for table in TABLES:
        yield dg.MaterializeResult(asset_key=_asset_key(table), metadata={**metadata[table], "mlflow_run_id": run_id},
                                   data_version=dg.DataVersion(metadata[table]["file_md5"]))
    severity = dg.AssetCheckSeverity.ERROR if config.strict else dg.AssetCheckSeverity.WARN
    for table in TABLES:
        report = gate.reports[table]
        check_metadata = {"failing_rows": len(report.failing_rows), "rows": report.rows,
                          "failures_by_column_and_rule": report.counts(),
                          "report": dg.MetadataValue.md(report.markdown())}
        if table in gate.quarantined:
            check_metadata["quarantine"] = dg.MetadataValue.path(str(gate.quarantined[table]))
        yield dg.AssetCheckResult(asset_key=_asset_key(table), check_name=CHECK_NAME, passed=report.passed,
                                  severity=severity, metadata=check_metadata, description=report.summary())
