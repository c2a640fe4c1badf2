"""The one Definitions object of the code location: assets, checks, jobs, schedules, sensors, resources.

Importing this module must stay cheap (no causalpy/pymc/mlflow/dvc/matplotlib, no database connection, no dbt
run): Dagster re-imports it for the UI, for every sensor tick and for every step of a multiprocess run. The dbt
assets read the manifest that `make manifest` (`dbt parse`) prepared.

Executor: in-process. On 2 cores the multiprocess executor re-imports this code location for every step (about
10 s each) and the graph is a chain (snapshot -> dbt -> analyses) with little to run side by side; one process
pays the imports once. The pools in data/dagster_home/dagster.yaml still serialize DuckDB and DVC writers across
runs.
"""

import dagster as dg
from americano_pipeline.assets.analysis import analysis_assets
from americano_pipeline.assets.context import context_assets, context_checks
from americano_pipeline.assets.context_relations import context_relations_assets
from americano_pipeline.assets.raw import raw_snapshot
from americano_pipeline.assets.dbt import dbt_resource, warehouse_dbt_assets
from americano_pipeline.assets.monitoring import monitoring_assets, monitoring_checks
from americano_pipeline.assets.report import report_assets
from americano_pipeline.automation.jobs import (
    analysis_job,
    report_job,
    warehouse_job,
    wearable_sync_job,
    whole_graph_job,
)
from americano_pipeline.automation.freshness import raw_snapshot_freshness_checks, raw_snapshot_freshness_sensor
from americano_pipeline.automation.report_sensor import report_after_failure_sensor
from americano_pipeline.automation.schedules import nightly_schedule, wearable_sync_schedule
from americano_pipeline.automation.sensors import new_phase_sensor
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource

defs = dg.Definitions(
    assets=[raw_snapshot, warehouse_dbt_assets, *analysis_assets, *report_assets, *context_assets,
            *context_relations_assets, *monitoring_assets],
    asset_checks=[*context_checks, *monitoring_checks, *raw_snapshot_freshness_checks],
    jobs=[warehouse_job, whole_graph_job, analysis_job, report_job, wearable_sync_job],
    schedules=[nightly_schedule, wearable_sync_schedule],
    sensors=[new_phase_sensor, report_after_failure_sensor, raw_snapshot_freshness_sensor],
    resources={
        "postgres": PostgresResource(),
        "data_versioning": DataVersioningResource(),
        "dbt": dbt_resource(),
        "mlflow_tracking": MlflowTrackingResource(),
    },
    executor=dg.in_process_executor,
)
