"""raw/<table>: one consistent PostgreSQL cut to Parquet, validated by blocking Pandera checks, DVC-versioned.

Why one multi-asset with its checks inside: the five tables are a single consistent cut (one transaction),
and validation must gate what becomes *current*. The step extracts an immutable snapshot, validates it, and
only then promotes it to ``raw/current/`` and records its DVC version. In strict mode (default) a failing
check quarantines the offending rows, leaves the previous good cut current, and blocks everything
downstream; in non-strict mode invalid rows go to quarantine, the check warns with the counts, and the valid
rows are promoted (as the original validator's strict/non-strict modes). Every materialization is an MLflow
run (experiment ``raw_snapshot``: rows, bytes and failing rows per table, the DVC hash), so a result's lineage
can be followed in MLflow alone; the store is reached before the extract, so an unavailable one costs nothing.
"""


from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.database import DatabaseUnavailable
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source_schema import TABLES

CHECK_NAME = "pandera_schema"
MAX_NON_STRICT_PASSES = 5  # dropping a row can orphan rows that referenced it; re-validate until clean


class SnapshotConfig(dg.Config):
    days: int = Field(default=90, ge=0, description="Last N days of behavioral_events; 0 = all history.")
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
                                   description="Pandera schema from sql/schema.sql plus cross-table rules")
                 for t in TABLES],
    can_subset=False,
    pool="dvc",
)
def raw_snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, postgres: PostgresResource,
                 data_versioning: DataVersioningResource, mlflow_tracking: MlflowTrackingResource):
    from americano_pipeline.checks.validation import read_frame, validate_cut, without_rows, write_quarantine
    from americano_pipeline.snapshots import ExtractWindow, extract, file_md5, new_snapshot_id, promote

    tracker = mlflow_tracking.tracker()
    tracker.experiment_id(context.op_def.name)
    raw_dir, quarantine_dir = settings.data_dir() / "raw", settings.data_dir() / "quarantine"
    snapshot_id, window = new_snapshot_id(), ExtractWindow(config.days, config.user_id)
    try:
        with postgres.reader() as conn:
            files = extract(conn, raw_dir, snapshot_id, window)
    except DatabaseUnavailable as exc:
        raise dg.Failure(description=f"{exc}; the previous snapshot in {raw_dir / 'current'} is unchanged") from None
    cut = {table: read_frame(f.path) for table, f in files.items()}
    first_reports = reports = validate_cut(cut)
    quarantined = {}
    for table, report in reports.items():
        if not report.passed:
            quarantined[table] = write_quarantine(files[table].path, report,
                                                  quarantine_dir / table / f"{snapshot_id}.parquet")
            context.log.error(report.summary())
    if not config.strict:
        for _ in range(MAX_NON_STRICT_PASSES):
            if all(r.passed for r in reports.values()):
                break
            for table, report in reports.items():
                if not report.passed:
                    without_rows(files[table].path, report.failing_rows, files[table].path)
            cut = {table: read_frame(f.path) for table, f in files.items()}
            reports = validate_cut(cut)
    clean = all(r.passed for r in reports.values())
    version = None
    if clean:
        promote(files, raw_dir / "current")
        version = data_versioning.track(raw_dir / "current")
    events = cut["behavioral_events"]["timestamp"]
    metadata = {table: {
        "snapshot_id": snapshot_id, "path": dg.MetadataValue.path(str(files[table].path)), "rows": len(cut[table]),
        "bytes": files[table].path.stat().st_size, "columns": ", ".join(files[table].columns),
        "window_days": config.days, "user_id": config.user_id or "all",
        "events_from": str(events.min()) if len(events) else "none",
        "events_to": str(events.max()) if len(events) else "none",
        "file_md5": file_md5(files[table].path), "promoted_to_current": clean,
        "data_version_hash": version.md5 if version else "not promoted",
    } for table in TABLES}
    version_tags = {f"dvc.raw.{table}": version.md5 for table in TABLES} if version else {}
    run_id = tracker.log_materialization(
        context,
        params={"snapshot_id": snapshot_id, "days": config.days, "user_id": config.user_id or "all",
                "strict": config.strict},
        metrics={f"{name}.{table}": value for table in TABLES for name, value in (
            ("rows", len(cut[table])), ("bytes", metadata[table]["bytes"]),
            ("failing_rows", len(first_reports[table].failing_rows)))},
        tags={**version_tags, "snapshot.promoted": str(clean).lower()},
    )
    for table in TABLES:
        yield dg.MaterializeResult(asset_key=_asset_key(table), metadata={**metadata[table], "mlflow_run_id": run_id},
                                   data_version=dg.DataVersion(metadata[table]["file_md5"]))
    for table in TABLES:
        report = first_reports[table]
        check_metadata = {"failing_rows": len(report.failing_rows), "rows": report.rows,
                          "failures_by_column_and_rule": report.counts(),
                          "report": dg.MetadataValue.md(report.markdown())}
        if table in quarantined:
            check_metadata["quarantine"] = dg.MetadataValue.path(str(quarantined[table]))
        severity = dg.AssetCheckSeverity.ERROR if config.strict else dg.AssetCheckSeverity.WARN
        yield dg.AssetCheckResult(asset_key=_asset_key(table), check_name=CHECK_NAME, passed=report.passed,
                                  severity=severity, metadata=check_metadata, description=report.summary())
