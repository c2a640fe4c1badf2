"""Context-outcome relations per user (issue #17): which of a user's context variables (sleep, HRV, resting heart
rate, strain, steps, mood, energy) go with which daily outcomes, published like the protocol analyses.

What is analysed: for each user of the warehouse, every ``CONTEXT`` column of ``fct_daily_context`` against every
``OUTCOMES`` metric of ``fct_daily_user_metrics`` over the user's whole day spine, by
``stats.context_relations.context_relations`` (prewhitened cross-correlations and Granger tests, weekday means,
a trend and the user's protocol phases as nuisance terms, Benjamini-Hochberg over the user's pairs). Choices:

- ``streak_days`` is left out of the outcomes: it is a running count of past active days (a deterministic
  function of its own past), not a daily outcome a night's sleep could move; ``session_count`` carries the
  day's activity.
- ``SAME_DAY``: the night and morning measurements (the night ending on day d is dated d, its HRV and resting
  heart rate are read overnight), which precede day d's outcome, so their lag 0 is admissible in the Granger
  test. Steps, strain and the self-reported mood and energy (reported at any time of the day) start at lag 1.
- Protocol phases (``MartsReader.intervention_days``: one term per protocol or tier, 1 on its intervention
  days, and a changing criterion's level) are nuisance terms: an intervention that shifts an outcome (or a
  context variable) for weeks would otherwise look like a relation.

Publication: an MLflow run per user (experiment = the asset key, tags ``git.commit``, ``git.dirty``,
``dvc.raw_current`` from the marts' release, ``dagster.run_id``, ``dagster.asset_key``, ``analysis.user``,
``analysis.role=exploratory``), then ``result.json`` and the figures moved into
``<analysis dir>/context_relations/<user_id>/`` from a staging directory (``analysis.publish``: atomic per file,
``result.json`` last), in runner's order: the run is created first, fails with the publication. No
``analysis_runs`` row: that table's ``protocolId`` is NOT NULL and these analyses belong to a user, not a
protocol; the research API's per-user computations (``api.recording``) set the precedent of recording such
analyses in MLflow only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from americano_pipeline import settings
from americano_pipeline.analysis.marts import MartsReader
from americano_pipeline.analysis.publish import RESULT_FILE, publish, staging_directory, write_json
from americano_pipeline.analysis.runner import Execution
from americano_pipeline.lineage.tracking import Tracker, standard_tags
from americano_pipeline.stats.context_relations import ContextRelationsResult, context_relations

METHOD = "context_relations"
CONTEXT = ("sleep_hours", "sleep_quality", "hrv_score", "resting_heart_rate", "activity_strain", "steps",
           "energy_level", "mood_score")
SAME_DAY = ("sleep_hours", "sleep_quality", "hrv_score", "resting_heart_rate")
OUTCOMES = ("engagement_score", "session_count", "study_minutes", "completion_rate", "mean_performance")
CCF_FIGURE, HEATMAP_FIGURE = "ccf.png", "q_heatmap.png"
MAX_PANELS = 12  # cross-correlation panels per figure (4 rows of 3 on a page)
ROLE = {"role": "exploratory", "multiplicity": (
    "Exploratory: no protocol registers these relations; Benjamini-Hochberg controls the false discovery rate "
    "over this user's pairs (Granger, primary) and over their lags (cross-correlations, supportive), and they "
    "are associations in observational data, not effects of a randomized intervention.")}


@dataclass(frozen=True)
class RelationSettings:
    """The statistics' settings (``context_relations``' keyword arguments), recorded as MLflow params."""

    max_lag: int = 7
    max_order: int = 7
    granger_lags: int = 2
    min_days: int = 42
    alpha: float = 0.05

    def params(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class UserRelations:
    """One user's analysed relations (before publication)."""

    user_id: str
    result: ContextRelationsResult
    phase_terms: tuple[str, ...]


@dataclass(frozen=True)
class PublishedRelations:
    """Where one user's relations went."""

    user_id: str
    result: ContextRelationsResult
    result_path: Path
    figure_paths: tuple[Path, ...]
    mlflow_run_id: str
    mlflow_run_url: str


def analyse_user(reader: MartsReader, user_id: str, first: pd.Timestamp, last: pd.Timestamp,
                 relation_settings: RelationSettings = RelationSettings()) -> UserRelations:
    """The relations of ``user_id``'s context and outcomes from ``first`` to ``last`` (module doc)."""
    outcomes = pd.concat([reader.daily_metric(user_id, metric, first.date(), last.date()) for metric in OUTCOMES],
                         axis=1)
    context = reader.daily_context(user_id, first, last, CONTEXT)
    phases = reader.intervention_days(user_id).reindex(pd.date_range(first, last, freq="D")).fillna(0.0)
    phases = phases.loc[:, phases.ne(0).any()]
    result = context_relations(context, outcomes, nuisance=phases, same_day=SAME_DAY,
                               **relation_settings.params())
    return UserRelations(user_id, result, tuple(phases.columns))


def shown_pairs(result: ContextRelationsResult) -> list:
    """The pairs the cross-correlation figure shows: every pair significant in either family, by Granger q (the
    best analysed pair when none is), at most ``MAX_PANELS``."""
    ranked = sorted(result.analysed, key=lambda pair: (pair.granger.q_value, pair.context, pair.outcome))
    chosen = [pair for pair in ranked if pair.significant or pair.significant_lags] or ranked[:1]
    return chosen[:MAX_PANELS]


def _draw_figures(staging: Path, done: UserRelations) -> list[str]:
    from americano_pipeline.analysis.context_figures import ccf_figure, q_heatmap_figure

    result = done.result
    shown = shown_pairs(result)
    significant = len(result.significant_pairs)
    q_heatmap_figure(staging / HEATMAP_FIGURE, result, f"User {done.user_id}: Granger q-values of context -> "
                     f"outcome ({significant} of {len(result.analysed)} pairs q < {result.alpha})")
    extra = (f", {len(shown)} of {significant} shown" if significant > len(shown) else "")
    ccf_figure(staging / CCF_FIGURE, result, shown, f"User {done.user_id}: prewhitened cross-correlations "
               f"(weekdays, trend and protocol phases removed{extra})")
    return [HEATMAP_FIGURE, CCF_FIGURE]


def metrics_of(result: ContextRelationsResult) -> dict[str, float]:
    """The run's MLflow metrics: counts, and each analysed pair's Granger q-value."""
    return {"pairs": len(result.pairs), "pairs_analysed": len(result.analysed),
            "pairs_significant": len(result.significant_pairs),
            "ccf_lags_significant": sum(len(p.significant_lags) for p in result.analysed),
            **{f"granger_q.{p.context}.{p.outcome}": p.granger.q_value for p in result.analysed}}


def publish_user(execution: Execution, done: UserRelations, relation_settings: RelationSettings, *,
                 tracker: Tracker, started_at: datetime) -> PublishedRelations:
    """Record ``done`` in MLflow and publish its files atomically (module doc)."""
    user_id, result = done.user_id, done.result
    params = {"user_id": user_id, "method": METHOD, **relation_settings.params(), "context": ",".join(CONTEXT),
              "outcomes": ",".join(OUTCOMES), "same_day": ",".join(SAME_DAY), "weekdays": result.weekdays,
              "trend": result.trend, "phase_terms": len(done.phase_terms)}
    tags = {**standard_tags(dagster_run_id=execution.dagster_run_id, asset_keys=[execution.asset_key],
                            git=execution.git, data_version=execution.data_version),
            "analysis.user": user_id, "analysis.method": METHOD, "analysis.role": "exploratory",
            "analysis.exploratory": "true", "mlflow.note.content": f"User {user_id}\n\n{result.interpretation()}"}
    run_id = tracker.start_run(execution.asset_key, f"EXPLORATORY {user_id}: {METHOD}", params, tags)
    run_url = settings.mlflow_run_url(tracker.experiment_id(execution.asset_key), run_id)
    target = execution.output_root / execution.asset / user_id
    try:
        with staging_directory(target) as staging:
            figures = _draw_figures(staging, done)
            provenance = {
                "asset": execution.asset_key, "method": METHOD, "userId": user_id,
                "parameters": {**params, "phaseTerms": list(done.phase_terms)},
                "codeCommit": execution.git.commit, "codeDirty": execution.git.dirty,
                "dataVersionHash": execution.data_version, "dagsterRunId": execution.dagster_run_id,
                "mlflowRunId": run_id, "analysisRunId": None, "startedAt": started_at.isoformat(),
                "completedAt": datetime.now(timezone.utc).isoformat(), "figures": figures,
            }
            write_json(staging / RESULT_FILE, {"userId": user_id, **ROLE, **result.to_dict(),
                                               "provenance": provenance})
            tracker.finish_run(run_id, metrics_of(result), sorted(staging.iterdir()))
            publish(staging, target)
    except BaseException:
        tracker.fail_run(run_id)
        raise
    return PublishedRelations(user_id=user_id, result=result, result_path=target / RESULT_FILE,
                              figure_paths=tuple(target / name for name in figures), mlflow_run_id=run_id,
                              mlflow_run_url=run_url)


def analyse_users(execution: Execution, *, tracker: Tracker,
                  relation_settings: RelationSettings = RelationSettings()) -> Iterator[PublishedRelations]:
    """Analyse and publish every user of the warehouse in turn; ``execution.data_version`` is set here, from the
    marts' release (a warehouse whose last build failed its blocking checks is refused there)."""
    with MartsReader() as reader:
        execution = dataclasses.replace(execution, data_version=reader.release().data_version)
        for user_id, first, last in reader.user_spans():
            started_at = datetime.now(timezone.utc)
            done = analyse_user(reader, user_id, first, last, relation_settings)
            yield publish_user(execution, done, relation_settings, tracker=tracker, started_at=started_at)
