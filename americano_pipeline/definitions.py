"""The one Definitions object of the code location: assets, checks, jobs, schedules, sensors, resources.

Importing this module must stay cheap (no causalpy/pymc/mlflow/dvc/matplotlib, no database connection, no dbt
run): Dagster re-imports it for the UI, for every sensor tick and for every step of a multiprocess run. The dbt
assets read the manifest that `make manifest` (`dbt parse`) prepared.
"""

import dagster as dg
from americano_pipeline.assets.analysis import analysis_assets, analysis_job
from americano_pipeline.assets.snapshot import raw_snapshot
from americano_pipeline.assets.warehouse import dbt_resource, warehouse_dbt_assets
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource

# Everything not partitioned by protocol: the snapshot with its checks, then dbt build with its tests.
warehouse_job = dg.define_asset_job("snapshot_and_warehouse", selection=dg.AssetSelection.groups("raw", "warehouse"))

defs = dg.Definitions(
    assets=[raw_snapshot, warehouse_dbt_assets, *analysis_assets],
    jobs=[warehouse_job, analysis_job],
    resources={
        "postgres": PostgresResource(),
        "data_versioning": DataVersioningResource(),
        "dbt": dbt_resource(),
        "mlflow_tracking": MlflowTrackingResource(),
    },
)
