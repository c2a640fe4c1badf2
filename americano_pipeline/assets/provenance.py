"""The standard MLflow tags (``lineage.tracking.standard_tags``) of the step a Dagster context describes.

Why a function in the Dagster layer: the tracker and the analysis layer take plain tags and never a context, so
the one translation from a Dagster context lives here.
"""

import dagster as dg
from americano_pipeline.lineage.code_state import GitState
from americano_pipeline.lineage.tracking import standard_tags


def run_tags(context: dg.AssetExecutionContext, git: GitState | None = None) -> dict[str, str]:
    """Git, DVC and Dagster tags of this step; ``dagster.partition`` when it runs one partition."""
    single = context.has_partition_key and not context.has_partition_key_range
    return standard_tags(dagster_run_id=context.run_id,
                         asset_keys=[key.to_user_string() for key in context.selected_asset_keys],
                         partition=context.partition_key if single else None, git=git)


def run_name(context: dg.AssetExecutionContext) -> str:
    """``<op> <run id prefix>``: the MLflow run name of a snapshot or dbt build."""
    return f"{context.op_def.name} {context.run_id[:8]}"
