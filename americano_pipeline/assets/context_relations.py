"""context_analysis/context_relations: every user's context-outcome relations (issue #17), wired to
``americano_pipeline.analysis.context_relations``.

Why this shape:
- Unpartitioned, one execution analyses every user of the warehouse: the relations belong to a user, not to a
  protocol, so the protocol partitions do not fit; the statistics take well under a second per user.
- Downstream of the marts it reads (``fct_daily_user_metrics``, ``fct_daily_context``, and the protocol marts
  for the phases it treats as nuisance), in group ``context_analysis``, which the ``snapshot_and_warehouse``
  job runs after the dbt build.
- statsmodels, matplotlib and MLflow are imported inside the body, so loading the code location stays cheap.
- Metadata: per user the pairs analysed, the pairs significant after Benjamini-Hochberg (named, with q) and the
  link to the user's MLflow run.
"""

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource

KEY = dg.AssetKey(["context_analysis", "context_relations"])
GROUP = "context_analysis"
MARTS = [dg.AssetKey(name) for name in ("fct_daily_user_metrics", "fct_daily_context", "fct_protocol_daily_outcomes",
                                        "fct_protocol_tier_daily_outcomes", "dim_protocols")]


class ContextRelationsConfig(dg.Config):
    max_lag: int = Field(default=7, ge=0, description="Cross-correlation lags 0..max_lag (context leading, days).")
    max_order: int = Field(default=7, ge=0, description="Largest AR order of the prewhitening filter and of the "
                                                        "outcome's own lags in the Granger test (chosen by AIC).")
    granger_lags: int = Field(default=2, ge=1, description="Context lags in the Granger test (from 0 for night "
                                                           "and morning measurements, from 1 otherwise).")
    min_days: int = Field(default=42, ge=1, description="Days recording both series a pair needs to be analysed.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Benjamini-Hochberg false discovery rate.")


def _user_row(done) -> str:
    found = "; ".join(f"{p.context} -> {p.outcome} (q {p.granger.q_value:.2g})"
                      for p in done.result.significant_pairs) or "none"
    return (f"| {done.user_id} | {len(done.result.analysed)} of {len(done.result.pairs)} | {found} | "
            f"[run]({done.mlflow_run_url}) |")


@dg.asset(key=KEY, group_name=GROUP, deps=MARTS, kinds={"python", "mlflow"},
          description="Per user: prewhitened lagged cross-correlations and Granger tests between the daily context "
                      "(sleep, HRV, resting heart rate, strain, steps, mood, energy) and the outcome metrics, with "
                      "weekdays, a trend and protocol phases as nuisance terms, Benjamini-Hochberg over the user's "
                      "pairs; result.json, figures and an MLflow run per user (exploratory).")
def context_relations(context: dg.AssetExecutionContext, config: ContextRelationsConfig,
                      mlflow_tracking: MlflowTrackingResource) -> dg.MaterializeResult:
    from americano_pipeline.analysis.context_relations import RelationSettings, analyse_users
    from americano_pipeline.analysis.runner import Execution
    from americano_pipeline.lineage.code_state import git_state

    key = KEY.to_user_string()
    tracker = mlflow_tracking.tracker()
    tracker.experiment_id(key)  # an unavailable store fails here, before any computation
    execution = Execution(asset=KEY.path[-1], asset_key=key, dagster_run_id=context.run_id, git=git_state(),
                          data_version=None, output_root=settings.analysis_dir())
    relation_settings = RelationSettings(max_lag=config.max_lag, max_order=config.max_order,
                                         granger_lags=config.granger_lags, min_days=config.min_days,
                                         alpha=config.alpha)
    published = []
    for done in analyse_users(execution, tracker=tracker, relation_settings=relation_settings):
        context.log.info(f"{done.user_id}: {done.result.interpretation()}")
        published.append(done)
    table = "\n".join(["| user | pairs analysed | significant pairs (BH) | MLflow |", "|---|---|---|---|",
                       *map(_user_row, published)])
    return dg.MaterializeResult(metadata={
        "users": len(published),
        "pairs_analysed": sum(len(done.result.analysed) for done in published),
        "pairs_significant": sum(len(done.result.significant_pairs) for done in published),
        "per_user": dg.MetadataValue.md(table),
        "results": dg.MetadataValue.path(str(settings.analysis_dir() / KEY.path[-1])),
        **{f"mlflow_run_{done.user_id}": dg.MetadataValue.url(done.mlflow_run_url) for done in published},
    })


context_relations_assets = [context_relations]
