"""The ``analysis_runs`` writer: one row per published analysis in the study database.

Why here and not in MLflow alone: ``analysis_runs`` is the study app's own record (the app shows it next to the
protocol); MLflow is the researcher's lab notebook. Both carry the same commit, data version and MLflow run id, so
either leads to the other and to the exact inputs. Rows are written by the ``americano_writer`` login (SELECT, INSERT
and UPDATE on this table, nothing else; ``PostgresResource.writer``), in the caller's transaction.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_cuid() -> str:
    """A CUID-shaped id ('c' + 24 lowercase base-36 characters): 8 of milliseconds (sortable), 16 random."""
    millis, stamp = int(time.time() * 1000), ""
    for _ in range(8):
        millis, digit = divmod(millis, 36)
        stamp = _BASE36[digit] + stamp
    return "c" + stamp + "".join(secrets.choice(_BASE36) for _ in range(16))


@dataclass(frozen=True)
class AnalysisRunRow:
    """One ``analysis_runs`` row (source/schema.sql)."""

    id: str
    protocol_id: str
    run_name: str
    analysis_type: str
    code_commit: str
    data_version: str
    input_params: dict
    mlflow_run_id: str | None
    artifact_paths: list[str]
    results_summary: dict
    started_at: datetime
    completed_at: datetime

    @property
    def code_dirty(self) -> bool:
        """Whether the code that ran had uncommitted changes (recorded in ``inputParams.codeDirty``)."""
        return bool(self.input_params.get("codeDirty", False))


def insert_analysis_run(conn, row: AnalysisRunRow) -> None:
    """Insert ``row`` in the caller's transaction (a connection of the writer role, ``PostgresResource.writer``)."""
    from psycopg.types.json import Jsonb

    conn.execute(
        """INSERT INTO analysis_runs (id, "protocolId", "runName", "analysisType", "codeCommitHash", "dataVersionHash",
                                      "inputParams", "mlflowRunId", "artifactPaths", "resultsSummary", "startedAt",
                                      "completedAt")
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (row.id, row.protocol_id, row.run_name, row.analysis_type, row.code_commit, row.data_version,
         Jsonb(row.input_params), row.mlflow_run_id, row.artifact_paths, Jsonb(row.results_summary), row.started_at,
         row.completed_at),
    )
