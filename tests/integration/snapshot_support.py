"""Helpers for the snapshot-layer tests: materialize raw_snapshot with real resources and read the results."""

import dagster as dg

from americano_pipeline.assets.raw import raw_snapshot
from americano_pipeline.resources.data_versioning import DataVersioningResource
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource


@dg.asset(deps=[dg.AssetKey(["raw", "behavioral_events"])])
def downstream_of_events() -> int:
    """Stands in for the warehouse: must never run after a failed blocking check."""
    return 1


def materialize(url: str, *, strict: bool = True, days: int = 0, user_id: str | None = None):
    config = {"days": days, "strict": strict, **({"user_id": user_id} if user_id else {})}
    return dg.materialize(
        [raw_snapshot, downstream_of_events],
        resources={"postgres": PostgresResource(url=url), "data_versioning": DataVersioningResource(),
                   "mlflow_tracking": MlflowTrackingResource()},
        run_config={"ops": {"raw_snapshot": {"config": config}}},
        raise_on_error=False,
    )


def check_results(result) -> dict:
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}


def materialized(result) -> dict:
    return {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}
