"""The pipeline's MLflow store as a Dagster resource: configuration, and a ``Tracker`` (``lineage.tracking``).

Store: ``MLFLOW_TRACKING_URI`` if set, else a SQLite database ``<data dir>/mlflow/mlflow.db`` with artifacts in
``<data dir>/mlflow/artifacts/<experiment>`` (``settings``); a database store given by MLFLOW_TRACKING_URI gets
the same artifact directory, while a tracking server (http, https, databricks) keeps its own unless
``artifact_root`` is configured.
"""

from pathlib import Path

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.lineage.tracking import Tracker

_SERVER_SCHEMES = ("http://", "https://", "databricks")  # stores that manage their own artifact location


class MlflowTrackingResource(dg.ConfigurableResource):
    """The MLflow store of the pipeline (module doc); ``tracker()`` gives the client-side API."""

    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default MLFLOW_TRACKING_URI, else "
                                  "sqlite:///<data dir>/mlflow/mlflow.db")
    artifact_root: str | None = Field(
        default=None, description="Directory for new experiments' artifacts; default <data dir>/mlflow/artifacts "
                                  "with the default SQLite store, the tracking server's own otherwise")

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or settings.mlflow_tracking_uri()

    def resolved_artifact_root(self) -> Path | None:
        if self.artifact_root:
            return Path(self.artifact_root)
        if self.resolved_tracking_uri().startswith(_SERVER_SCHEMES):
            return None
        return settings.mlflow_artifact_dir()

    def tracker(self) -> Tracker:
        return Tracker(self.resolved_tracking_uri(), self.resolved_artifact_root())
