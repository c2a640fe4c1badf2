"""Monitoring on a real snapshot of the seeded study: the drift report and its check, the wearable-source freshness
check and the snapshot's freshness checks, materialized with the real PostgreSQL, DVC and MLflow (SQLite) store.

What must hold: the run succeeds whatever drifted (every check is WARN, never blocking); the report's files are
under <data>/monitoring/drift/<snapshot id>/ as the summary says; the MLflow run holds them as artifacts with the
pipeline's tags (git commit, the DVC data version of the cut); a wearable source that stopped is named with its user
and last day, a fresh one is not.
"""

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from americano_pipeline import settings
from americano_pipeline.assets.monitoring import (
    DRIFT_CHECK,
    FRESHNESS_CHECK,
    monitoring_assets,
    monitoring_checks,
)
from americano_pipeline.assets.raw import raw_snapshot
from americano_pipeline.automation.freshness import raw_snapshot_freshness_checks
from americano_pipeline.checks.freshness import snapshot_day
from americano_pipeline.lineage.analysis_runs import new_cuid
from americano_pipeline.lineage.code_state import git_state
from americano_pipeline.lineage.data_version import current_data_version
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source.connection import connect
from tests.integration.snapshot_support import materialized

pytestmark = pytest.mark.integration

IMPORTED = """INSERT INTO context_metadata (id, "userId", source, "externalId", "localDate", "sleepHours",
              "energyLevel", mood, location) VALUES (%s, %s, %s, %s, %s, 7.5, NULL, NULL, NULL)"""


def _import_days(url: str, today: date) -> str:
    """An OURA source imported up to yesterday and a WHOOP source that stopped 10 days ago, for the first user."""
    with connect(url) as conn:
        user = conn.execute('SELECT min("userId") FROM behavioral_events').fetchone()[0]
        for source, last in (("OURA", today - timedelta(days=1)), ("WHOOP", today - timedelta(days=10))):
            for back in range(3):
                day = last - timedelta(days=back)
                conn.execute(IMPORTED, (new_cuid(), user, source, f"{source}-{day}", day))
        conn.commit()
    return user


@pytest.fixture
def monitored(source_db, data_dir):
    user = _import_days(source_db, date.today())
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [raw_snapshot, *monitoring_assets, *monitoring_checks, *raw_snapshot_freshness_checks],
            instance=instance,
            resources={"postgres": PostgresResource(url=source_db), "data_versioning": DataVersioningResource(),
                       "mlflow_tracking": MlflowTrackingResource()},
            run_config={"ops": {"raw_snapshot": {"config": {"days": 0}}}},
            raise_on_error=False,
        )
        yield result, user


def _checks(result) -> dict:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def test_the_drift_report_is_written_logged_and_checked_without_failing_the_run(monitored, data_dir):
    result, _ = monitored
    assert result.success
    metadata = materialized(result)["monitoring/drift_report"]
    snapshot_id = metadata["snapshot_id"]
    assert snapshot_id == materialized(result)["raw/context_metadata"]["snapshot_id"]
    directory = data_dir / "monitoring" / "drift" / snapshot_id
    assert metadata["directory"] == str(directory)
    summary = json.loads((directory / "result.json").read_text())
    assert summary["snapshotId"] == snapshot_id and summary["windows"] == {"latestDays": 14, "referenceDays": 56,
                                                                           "minDays": 7}
    events = summary["datasets"]["events"]
    # the seeded study ends on 2026-10-31: the latest window ends there, the reference is the 56 days before
    assert events["status"] == "checked"
    assert (events["latest"]["from"], events["latest"]["to"]) == ("2026-10-18", "2026-10-31")
    assert (events["reference"]["from"], events["reference"]["to"]) == ("2026-08-23", "2026-10-17")
    assert events["latest"]["daysWithData"] == 14 and events["reference"]["daysWithData"] == 56
    assert {column["column"] for column in events["columns"]} >= {"eventType", "sessionPerformanceScore"}
    context = summary["datasets"]["context"]
    # the planted imports end yesterday, so the context's latest window ends there and holds only their 6 days
    assert context["status"] == "not enough data" and context["reportFiles"] == []
    assert context["latest"]["to"] == str(date.today() - timedelta(days=1)) and context["latest"]["daysWithData"] == 6
    files = sorted(path.name for path in directory.iterdir())
    assert files == sorted(["result.json", *(name for dataset in summary["datasets"].values()
                                              for name in dataset["reportFiles"])])
    assert {"events.html", "events.json"} <= set(files)

    check = _checks(result)[("monitoring/drift_report", DRIFT_CHECK)]
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.passed == (not summary["driftedColumns"])
    for name in summary["driftedColumns"]:  # each drifted column is named in the check, with its statistic
        assert name in check.description
    assert metadata["drifted_columns"] == (", ".join(summary["driftedColumns"]) or "none")

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri())
    run = client.get_run(metadata["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["git.commit"] == git_state().commit
    assert run.data.tags["dvc.raw_current"] == current_data_version() != "unversioned"
    assert run.data.tags["snapshot.id"] == snapshot_id
    assert run.data.tags["drift.found"] == str(bool(summary["driftedColumns"])).lower()
    assert run.data.tags["dagster.asset_key"] == "monitoring/drift_report"
    assert run.data.params["latest_days"] == "14"
    assert run.data.metrics["events.share_drifted"] == pytest.approx(events["shareDrifted"])
    assert {artifact.path for artifact in client.list_artifacts(run.info.run_id)} == set(files)
    assert metadata["mlflow_run"].endswith(f"/runs/{run.info.run_id}")


def test_a_stopped_wearable_source_is_named_and_a_fresh_one_is_not(monitored):
    result, user = monitored
    assert result.success
    check = _checks(result)[("raw/context_metadata", FRESHNESS_CHECK)]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    day = snapshot_day(check.metadata["snapshot_id"].value, settings.timezone_name())
    stale_day = date.today() - timedelta(days=10)
    assert check.description == (f"1 wearable source(s) more than 2 days behind the snapshot's day {day}: "
                                 f"user {user}, WHOOP: last day {stale_day} ({(day - stale_day).days} days old)")
    assert "OURA" not in check.description
    assert check.metadata["sources"].value == 2 and check.metadata["stale_sources"].value == 1


def test_the_fresh_snapshot_passes_its_freshness_checks(monitored):
    result, _ = monitored
    freshness = {key: check for key, check in _checks(result).items() if key[1] == "freshness_check"}
    assert {key[0] for key in freshness} == {"raw/behavioral_events", "raw/context_metadata", "raw/phase_assignments",
                                             "raw/experiment_protocols", "raw/analysis_runs"}
    assert all(check.passed and check.severity == dg.AssetCheckSeverity.WARN for check in freshness.values())
