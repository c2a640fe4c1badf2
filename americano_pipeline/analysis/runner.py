"""Publishing one protocol's analysis: MLflow run, result files, ``analysis_runs`` row, in an order that never
leaves half a result.

Order and why:
1. the MLflow run is created first (its id goes into ``result.json`` and the row); an unavailable tracking store
   fails here, before anything is written;
2. figures and ``result.json`` are written to a staging directory and logged to the MLflow run as artifacts,
   with the metrics, and the run is marked FINISHED;
3. the ``analysis_runs`` row is inserted and the staged files are moved into place inside one database
   transaction, which commits only after the files are in place (a failed move rolls the row back).
Any failure marks the MLflow run FAILED and removes the staging directory; the previous result stays.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from americano_pipeline import settings
from americano_pipeline.analysis.inputs import analysis_role
from americano_pipeline.analysis.methods import Analysis
from americano_pipeline.analysis.publish import (
    RESULT_FILE,
    publish,
    result_directory,
    staging_directory,
    write_json,
)
from americano_pipeline.analysis.protocol import ProtocolData
from americano_pipeline.lineage.analysis_runs import AnalysisRunRow, insert_analysis_run, new_cuid
from americano_pipeline.lineage.code_state import GitState
from americano_pipeline.lineage.tracking import Tracker, standard_tags


@dataclass(frozen=True)
class Execution:
    """Provenance shared by every partition of one asset execution: read once, recorded alike in MLflow tags,
    ``result.json`` and ``analysis_runs``."""

    asset: str  # e.g. "its_result": the results directory and the analysis_runs.analysisType
    asset_key: str  # e.g. "analysis/its_result": the MLflow experiment
    dagster_run_id: str
    git: GitState
    data_version: str | None  # DVC hash of the cut the marts were built from (batch sets it from their release)
    output_root: Path  # <data dir>/analysis

    def tags(self, protocol_id: str) -> dict[str, str]:
        """The standard MLflow tags of this execution's run for one protocol."""
        return standard_tags(dagster_run_id=self.dagster_run_id, asset_keys=[self.asset_key], partition=protocol_id,
                             git=self.git, data_version=self.data_version)


@dataclass(frozen=True)
class Published:
    """Where one analysis went."""

    protocol_id: str
    protocol_name: str
    metric: str
    exploratory: bool
    role: str  # confirmatory, supportive or exploratory (``inputs.analysis_role``)
    summary: str  # the analysis' summary, led by its role
    analysis: Analysis
    result_path: Path
    figure_paths: tuple[Path, ...]
    mlflow_run_id: str
    mlflow_run_url: str  # the run's page in the MLflow UI (settings.mlflow_ui_url)
    analysis_run_id: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def publish_analysis(execution: Execution, data: ProtocolData, metric: str, exploratory: bool, analysis: Analysis,
                     *, tracker: Tracker, writer: Callable[[], AbstractContextManager], started_at: datetime
                     ) -> Published:
    """Record and publish ``analysis`` of ``data`` (module doc for the order); returns the paths and ids."""
    protocol = data.protocol
    completed_at = _now()
    label = "EXPLORATORY " if exploratory else ""
    role = analysis_role(protocol, analysis.method, exploratory)
    summary = f"**{role.name}**: {analysis.summary}"
    params = {"protocol_id": protocol.protocol_id, "metric": metric, "primary_outcome": protocol.primary_outcome,
              "exploratory": exploratory, "method": analysis.method, "role": role.name,
              "registered_alternative": protocol.alternative, "confirmatory_analysis": protocol.confirmatory,
              **analysis.params}
    tags = {**execution.tags(protocol.protocol_id), "analysis.metric": metric,
            "analysis.exploratory": str(exploratory).lower(), "analysis.role": role.name,
            "protocol.design_type": protocol.design_type, "protocol.name": protocol.name,
            "mlflow.note.content": f"{protocol.name} ({protocol.design_type}, {protocol.protocol_id}), {metric}\n\n"
                                   f"{summary}"}
    run_name = f"{label}{protocol.name}: {execution.asset} ({protocol.protocol_id}, {metric})"
    mlflow_run_id = tracker.start_run(execution.asset_key, run_name, params, tags)
    mlflow_run_url = settings.mlflow_run_url(tracker.experiment_id(execution.asset_key), mlflow_run_id)
    analysis_run_id = new_cuid()
    target = result_directory(execution.output_root, execution.asset, protocol.protocol_id,
                              metric if exploratory else None)
    try:
        with staging_directory(target) as staging:
            for name, draw in analysis.figures:
                draw(staging / name)
            header = {
                "asset": execution.asset_key, "method": analysis.method, "protocolId": protocol.protocol_id,
                "protocolName": protocol.name, "designType": protocol.design_type, "metric": metric,
                "primaryOutcome": protocol.primary_outcome, "exploratory": exploratory, "parameters": params,
                "codeCommit": execution.git.commit, "codeDirty": execution.git.dirty,
                "dataVersionHash": execution.data_version, "dagsterRunId": execution.dagster_run_id,
                "mlflowRunId": mlflow_run_id, "analysisRunId": analysis_run_id,
                "startedAt": started_at.isoformat(), "completedAt": completed_at.isoformat(),
                "figures": [name for name, _ in analysis.figures],
            }
            write_json(staging / RESULT_FILE, {**role.to_dict(), **analysis.result, "provenance": header})
            staged = sorted(staging.iterdir())
            tracker.finish_run(mlflow_run_id, analysis.metrics, staged)
            final = [target / path.name for path in staged]
            row = AnalysisRunRow(
                id=analysis_run_id, protocol_id=protocol.protocol_id, run_name=run_name,
                analysis_type=execution.asset, code_commit=execution.git.commit,
                data_version=execution.data_version, input_params={**params, "codeDirty": execution.git.dirty},
                mlflow_run_id=mlflow_run_id, artifact_paths=[str(path) for path in final],
                results_summary={"summary": summary, "role": role.name, "metrics": analysis.metrics},
                started_at=started_at, completed_at=completed_at,
            )
            with writer() as conn:
                insert_analysis_run(conn, row)
                publish(staging, target)
    except BaseException:
        tracker.fail_run(mlflow_run_id)
        raise
    return Published(
        protocol_id=protocol.protocol_id, protocol_name=protocol.name, metric=metric, exploratory=exploratory,
        role=role.name, summary=summary,
        analysis=analysis,
        result_path=target / RESULT_FILE,
        figure_paths=tuple(target / name for name, _ in analysis.figures),
        mlflow_run_id=mlflow_run_id, mlflow_run_url=mlflow_run_url, analysis_run_id=analysis_run_id,
    )
