"""analysis/<method>: the four result assets, partitioned by protocol, wired to ``americano_pipeline.analysis``.

Why this shape:
- One partition per protocol (``partitions.protocols``); ``BackfillPolicy.single_run()`` so a backfill over many
  protocols is one run per asset; the loop over ``context.partition_keys`` and its failure policy are
  ``analysis.batch``.
- Partitions published before a failure are yielded as materializations, so Dagster records them although the
  step fails; the step's failure names every failed protocol, method and reason, so Dagster shows exactly those
  partitions as failed. The MLflow store is reached before any computation, so an unavailable store costs
  seconds and writes nothing.
- ``metric`` plus ``exploratory=True`` runs an explicitly labelled exploratory analysis (own result directory,
  MLflow tag ``analysis.exploratory=true``, ``EXPLORATORY`` run name in MLflow and ``analysis_runs``).
- The randomization test uses the protocol's registered ``minPhaseLength`` (``dim_protocols.min_phase_length``).
"""

import base64
import warnings
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.partitions import protocols
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource

GROUP = "analysis"
KEY_PREFIX = "analysis"
OUTCOME_MARTS = [dg.AssetKey("fct_protocol_daily_outcomes"), dg.AssetKey("dim_protocols")]
CONTEXT_MART = dg.AssetKey("fct_daily_context")


class AnalysisConfig(dg.Config):
    exploratory: bool = Field(default=False, description="Label this run exploratory: required to analyse a "
                                                         "metric other than the pre-registered primaryOutcome.")
    metric: str | None = Field(default=None, description="Catalogue metric to analyse (default: each protocol's "
                                                         "registered primaryOutcome).")


class ITSConfig(AnalysisConfig):
    seed: int = Field(default=0, ge=0, description="Sampler seed.")
    draws: int = Field(default=2000, ge=1, description="Posterior draws per chain (nutpie).")
    tune: int = Field(default=1000, ge=1, description="Tuning steps per chain.")
    chains: int = Field(default=2, ge=1, description="Chains.")
    covariates: list[str] = Field(default=[], description=(
        "fct_daily_context columns to use as covariates (opt-in, e.g. [sleep_hours, hrv_score]): used when "
        "recorded on every day of the window, not moved by the intervention, and the baseline is long enough."))


class RandomizationConfig(AnalysisConfig):
    statistic: Literal["mean_difference", "phase_mean_difference"] = Field(
        default="mean_difference", description="Pooled B - A mean, or mean of B phase means - mean of A phase means.")
    alternative: Literal["registered", "greater", "less", "two-sided"] = Field(
        default="registered", description="'registered': the direction the protocol's analysis plan registered; "
                                          "another one only with exploratory: true.")
    n_permutations: int = Field(default=10_000, ge=1, description="Exact test up to this many placements, else "
                                                                  "this many Monte Carlo draws.")
    seed: int = Field(default=0, ge=0, description="Seed of the Monte Carlo draws.")


class ChangePointsConfig(AnalysisConfig):
    algorithm: Literal["pelt", "binseg"] = Field(default="pelt", description="Segmentation algorithm.")
    min_segment_length: int | None = Field(default=None, ge=1, description="Default: the protocol's minPhaseLength.")
    penalty: float | None = Field(default=None, gt=0, description="Default: BIC-type 2 sigma^2 ln n.")
    n_bootstrap: int = Field(default=200, ge=1, description="Block-bootstrap resamples for the confidence.")
    seed: int = Field(default=0, ge=0, description="Bootstrap seed.")
    tolerance_days: int = Field(default=3, ge=0, description="A planned change is matched by a detected one "
                                                             "within this many days.")


class SequentialConfig(AnalysisConfig):
    spending_function: Literal["obrien_fleming", "pocock"] = Field(default="obrien_fleming",
                                                                   description="Lan-DeMets spending function.")
    alpha: float | None = Field(default=None, gt=0, lt=1, description="Total type I error; default the protocol's "
                                                                       "registered alpha (analysisPlan.alpha).")


def _embedded(path) -> dg.MetadataValue:
    """The figure inline as markdown, so the Dagster UI shows it without a click: its SVG (a seventh of the 300 dpi
    PNG's size, and every event of the run keeps a copy), the PNG when there is no SVG."""
    vector = path.with_suffix(".svg")
    shown, kind = (vector, "svg+xml") if vector.exists() else (path, "png")
    encoded = base64.b64encode(shown.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{path.stem}](data:image/{kind};base64,{encoded})")


def _shown(value: float) -> float:
    """A key number rounded to 4 significant digits for the Dagster UI; the exact value stays in ``result.json``
    and the MLflow metrics."""
    return float(f"{value:.4g}")


def _metadata(published) -> dict:
    figures = {}
    for path in published.figure_paths:
        figures[f"figure_{path.stem}"] = dg.MetadataValue.path(str(path))
        figures[f"plot_{path.stem}"] = _embedded(path)
    return {
        "protocol": published.protocol_name,
        **{name: _shown(value) for name, value in published.analysis.metrics.items()},
        "summary": dg.MetadataValue.md(published.summary),
        "role": published.role,
        "metric": published.metric,
        "exploratory": published.exploratory,
        "result": dg.MetadataValue.path(str(published.result_path)),
        **figures,
        "mlflow_run_id": published.mlflow_run_id,
        "mlflow_run": dg.MetadataValue.url(published.mlflow_run_url),
        "analysis_run_id": published.analysis_run_id,
    }


def _published_events(context: dg.AssetExecutionContext, published: dict) -> Iterator[dg.AssetMaterialization]:
    """Materialization events for the partitions published before the step fails: yielded (not logged), so
    Dagster records them even though the step's own output never comes."""
    for key, done in published.items():
        yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=_metadata(done))


def _materialize(context: dg.AssetExecutionContext, config: AnalysisConfig, postgres: PostgresResource,
                 mlflow_tracking: MlflowTrackingResource, method: str, analyse) -> Iterator:
    """Run ``analysis.batch.analyse_protocols`` over the run's partitions and turn its outcomes into the step's
    events (the asset bodies ``yield from`` it)."""
    from americano_pipeline.analysis.batch import analyse_protocols, failure_report
    from americano_pipeline.analysis.errors import AnalysisError
    from americano_pipeline.analysis.runner import Execution
    from americano_pipeline.lineage.code_state import git_state

    key = context.asset_key.to_user_string()
    tracker = mlflow_tracking.tracker()
    tracker.experiment_id(key)
    execution = Execution(asset=context.asset_key.path[-1], asset_key=key, dagster_run_id=context.run_id,
                          git=git_state(), data_version=None, output_root=settings.analysis_dir())
    published, failures = {}, []
    try:
        for outcome in analyse_protocols(context.partition_keys, execution, method=method, metric=config.metric,
                                         exploratory=config.exploratory, analyse=analyse, tracker=tracker,
                                         writer=postgres.writer):
            if isinstance(outcome, AnalysisError):
                failures.append(outcome)
                context.log.error(str(outcome))
            else:
                published[outcome.protocol_id] = outcome
    except BaseException:
        yield from _published_events(context, published)
        raise
    if failures:
        yield from _published_events(context, published)
        raise dg.Failure(
            description=failure_report(key, failures, len(published)),
            metadata={"failed_protocols": ", ".join(f.protocol_id for f in failures),
                      "published_protocols": ", ".join(published)},
        )
    for protocol_id, done in published.items():
        context.add_asset_metadata(_metadata(done), partition_key=protocol_id)
    yield dg.MaterializeResult()


# Single-run backfills (module doc) take @asset's `backfill_policy`, a Beta parameter: accepted here, so its warning
# (one per asset on every load of the definitions) is silenced for exactly this parameter (see ``third_party``).
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning)


def _spec(description: str, *deps: dg.AssetKey) -> dict:
    return dict(key_prefix=KEY_PREFIX, partitions_def=protocols, group_name=GROUP,
                deps=[*OUTCOME_MARTS, *deps], backfill_policy=dg.BackfillPolicy.single_run(),
                kinds={"python", "mlflow"}, description=description)


@dg.asset(**_spec("Bayesian interrupted time series at the first baseline -> intervention change (ABA: with the "
                  "withdrawal and the persistence of the effect), with its Newey-West HAC cross-check.", CONTEXT_MART))
def its_result(context: dg.AssetExecutionContext, config: ITSConfig, postgres: PostgresResource,
               mlflow_tracking: MlflowTrackingResource) -> Iterator:
    from americano_pipeline.analysis.methods import ITS, analyse_its

    def analyse(reader, data, metric):
        covariates = reader.daily_context(data.protocol.user_id, data.days.index[0], data.days.index[-1],
                                          config.covariates)
        return analyse_its(data, metric, covariates, seed=config.seed, draws=config.draws, tune=config.tune,
                           chains=config.chains)

    yield from _materialize(context, config, postgres, mlflow_tracking, ITS, analyse)


@dg.asset(**_spec("Single-case randomization test over the admissible phase-change placements, single-case effect "
                  "sizes and the WWC design standard (washout days excluded)."))
def randomization_result(context: dg.AssetExecutionContext, config: RandomizationConfig, postgres: PostgresResource,
                         mlflow_tracking: MlflowTrackingResource) -> Iterator:
    from americano_pipeline.analysis.methods import RANDOMIZATION, analyse_randomization

    def analyse(reader, data, metric):
        return analyse_randomization(data, metric, statistic=config.statistic, alternative=config.alternative,
                                     exploratory=config.exploratory, n_permutations=config.n_permutations,
                                     seed=config.seed)

    yield from _materialize(context, config, postgres, mlflow_tracking, RANDOMIZATION, analyse)


@dg.asset(**_spec("Change points over the whole protocol period, with each one's distance to the nearest planned "
                  "phase change."))
def change_points_result(context: dg.AssetExecutionContext, config: ChangePointsConfig, postgres: PostgresResource,
                         mlflow_tracking: MlflowTrackingResource) -> Iterator:
    from americano_pipeline.analysis.methods import CHANGE_POINTS, analyse_change_points

    def analyse(reader, data, metric):
        return analyse_change_points(data, metric, algorithm=config.algorithm,
                                     min_segment_length=config.min_segment_length, penalty=config.penalty,
                                     n_bootstrap=config.n_bootstrap, seed=config.seed,
                                     tolerance_days=config.tolerance_days)

    yield from _materialize(context, config, postgres, mlflow_tracking, CHANGE_POINTS, analyse)


@dg.asset(**_spec("Group-sequential monitoring at the design's phase ends: the randomization test at each look against "
                  "Lan-DeMets boundaries at the information accrued, labelled retrospective on a complete series."))
def sequential_boundaries(context: dg.AssetExecutionContext, config: SequentialConfig, postgres: PostgresResource,
                          mlflow_tracking: MlflowTrackingResource) -> Iterator:
    from americano_pipeline.analysis.methods import SEQUENTIAL, analyse_sequential

    def analyse(reader, data, metric):
        return analyse_sequential(data, metric, spending_function=config.spending_function, alpha=config.alpha)

    yield from _materialize(context, config, postgres, mlflow_tracking, SEQUENTIAL, analyse)


analysis_assets = [its_result, randomization_result, change_points_result, sequential_boundaries]
