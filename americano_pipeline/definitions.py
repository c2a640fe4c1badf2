"""The one Definitions object of the code location: assets, checks, jobs, schedules, sensors, resources.

Importing this module must stay cheap (no causalpy/pymc/mlflow/dvc/matplotlib, no database connection):
Dagster re-imports it for the UI, for every sensor tick and for every step of a multiprocess run.
"""

import dagster as dg
from americano_pipeline.assets.snapshot import raw_snapshot
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.postgres import PostgresResource

defs = dg.Definitions(
    assets=[raw_snapshot],
    resources={"postgres": PostgresResource(), "data_versioning": DataVersioningResource()},
)
