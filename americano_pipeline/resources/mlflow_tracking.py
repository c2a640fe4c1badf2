"""MLflow experiment tracking as a Dagster resource, through ``MlflowClient`` only.

Why the client and not ``mlflow.start_run``: the fluent API keeps the active run in process-global state, which
breaks when one process materializes many partitions (or several assets) in turn; an explicit client and run id
per materialization cannot leak a run into the next one.

Store: ``MLFLOW_TRACKING_URI`` if set, else a SQLite database ``<data dir>/mlflow/mlflow.db`` with artifacts in
``<data dir>/mlflow/artifacts/<experiment>`` (MLflow 3 no longer accepts a ./mlruns file store); a database store
given by MLFLOW_TRACKING_URI gets the same artifact directory, while a tracking server (http, https, databricks)
keeps its own unless ``artifact_root`` is configured. Every failure to reach the store becomes
``TrackingUnavailable`` naming the store, so a run fails before it publishes anything.

Tags every run carries (``standard_tags``): ``git.commit``, ``git.dirty``, ``dvc.raw_current`` (the DVC hash in
``<data dir>/raw/current.dvc``: the snapshot cut the warehouse reads), ``dvc.raw.<table>`` (the
``data_version_hash`` the snapshot asset recorded for each ``raw/<table>`` in this Dagster instance),
``dagster.run_id``, ``dagster.asset_key`` and, for a partitioned materialization, ``dagster.partition``.
"""

import os
import time
from pathlib import Path

from pydantic import Field

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.provenance import UNVERSIONED, GitState, dvc_hash, git_state
from americano_pipeline.source_schema import TABLES

_SERVER_SCHEMES = ("http://", "https://", "databricks")  # stores that manage their own artifact location


class TrackingUnavailable(RuntimeError):
    """The MLflow tracking store cannot be reached or refused a write."""


class Tracker:
    """One MLflow store: experiments by name (created on first use), runs with params, metrics, tags, artifacts."""

    def __init__(self, tracking_uri: str, artifact_root: Path | None):
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self._client = None
        self._experiments: dict[str, str] = {}

    def _call(self, what: str, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            cause = " ".join(str(exc).split())[:500]
            raise TrackingUnavailable(
                f"MLflow tracking store {self.tracking_uri}: {what} failed ({type(exc).__name__}: {cause}); "
                "check MLFLOW_TRACKING_URI or the mlflow_tracking resource, then rerun"
            ) from exc

    @property
    def client(self):
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = self._call("connecting", MlflowClient, tracking_uri=self.tracking_uri,
                                      registry_uri=self.tracking_uri)
        return self._client

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it (with its artifact directory under ``artifact_root``) if missing."""
        if name not in self._experiments:
            found = self._call(f"looking up experiment {name!r}", self.client.get_experiment_by_name, name)
            if found is None:
                location = None if self.artifact_root is None else (self.artifact_root / name).resolve().as_uri()
                created = self._call(f"creating experiment {name!r}", self.client.create_experiment, name,
                                     artifact_location=location)
                self._experiments[name] = created
            else:
                self._experiments[name] = found.experiment_id
        return self._experiments[name]

    def start_run(self, experiment: str, run_name: str, params: dict, tags: dict) -> str:
        """A new RUNNING run with ``params`` and ``tags`` (values as strings); returns its id."""
        from mlflow.entities import Param, RunTag

        run = self._call("creating a run", self.client.create_run, self.experiment_id(experiment), run_name=run_name)
        run_id = run.info.run_id
        self._call("logging params and tags", self.client.log_batch, run_id,
                   params=[Param(key, str(value)) for key, value in params.items()],
                   tags=[RunTag(key, str(value)) for key, value in tags.items()])
        return run_id

    def finish_run(self, run_id: str, metrics: dict, artifacts: list[Path]) -> None:
        """Log ``metrics`` (step 0) and the ``artifacts`` files, then mark the run FINISHED."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self._call("logging metrics", self.client.log_batch, run_id,
                   metrics=[Metric(key, float(value), stamp, 0) for key, value in metrics.items()])
        for path in artifacts:
            self._call(f"logging artifact {path.name}", self.client.log_artifact, run_id, str(path))
        self._call("finishing the run", self.client.set_terminated, run_id, "FINISHED")

    def log_materialization(self, context, *, params: dict, metrics: dict, tags: dict | None = None) -> str:
        """One finished MLflow run for a non-analysis materialization (snapshot, dbt build) with the standard tags.

        The experiment is the op's name (``raw_snapshot``, ``warehouse``); ``tags`` add to or override the standard
        ones (the snapshot passes the DVC hash it just recorded). Returns the run id (put it in the metadata).
        """
        name = context.op_def.name
        run_id = self.start_run(name, f"{name} {context.run_id[:8]}", params, {**standard_tags(context), **(tags or {})})
        try:
            self.finish_run(run_id, metrics, [])
        except BaseException:
            self.fail_run(run_id)
            raise
        return run_id

    def fail_run(self, run_id: str) -> None:
        """Mark the run FAILED if the store still answers (called while another error propagates)."""
        try:
            self.client.set_terminated(run_id, "FAILED")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass


def snapshot_versions(instance: dg.DagsterInstance) -> dict[str, str]:
    """``data_version_hash`` of the latest materialization of every ``raw/<table>`` this instance recorded."""
    versions = {}
    for table in TABLES:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", table]))
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        if "data_version_hash" in metadata:
            versions[table] = str(metadata["data_version_hash"].value)
    return versions


def data_version(tags: dict[str, str]) -> str:
    """The DVC hash of the current snapshot cut, from ``standard_tags``: ``raw/current.dvc``, else the one version
    the instance recorded for the snapshot tables, else "unversioned"."""
    if tags["dvc.raw_current"] != UNVERSIONED:
        return tags["dvc.raw_current"]
    recorded = {v for k, v in tags.items() if k.startswith("dvc.raw.") and v != "not promoted"}
    return recorded.pop() if len(recorded) == 1 else UNVERSIONED


def _asset_keys(context) -> str:
    return ", ".join(sorted(key.to_user_string() for key in context.selected_asset_keys))


def standard_tags(context, git: GitState | None = None) -> dict[str, str]:
    """The git, DVC and Dagster tags every MLflow run of this pipeline carries (module doc); ``git`` saves a
    second ``git status`` when the caller already has it."""
    git = git or git_state()
    tags = {
        "git.commit": git.commit,
        "git.dirty": str(git.dirty).lower(),
        "dvc.raw_current": dvc_hash(settings.data_dir() / "raw" / "current") or UNVERSIONED,
        **{f"dvc.raw.{table}": version for table, version in snapshot_versions(context.instance).items()},
        "dagster.run_id": context.run_id,
        "dagster.asset_key": _asset_keys(context),
    }
    if context.has_partition_key and not context.has_partition_key_range:
        tags["dagster.partition"] = context.partition_key
    return tags


class MlflowTrackingResource(dg.ConfigurableResource):
    """The MLflow store of the pipeline (module doc); ``tracker()`` gives the client-side API."""

    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default MLFLOW_TRACKING_URI, else "
                                  "sqlite:///<data dir>/mlflow/mlflow.db")
    artifact_root: str | None = Field(
        default=None, description="Directory for new experiments' artifacts; default <data dir>/mlflow/artifacts "
                                  "with the default SQLite store, the tracking server's own otherwise")

    def resolved_tracking_uri(self) -> str:
        default = f"sqlite:///{settings.data_dir() / 'mlflow' / 'mlflow.db'}"
        return self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default

    def resolved_artifact_root(self) -> Path | None:
        if self.artifact_root:
            return Path(self.artifact_root)
        if self.resolved_tracking_uri().startswith(_SERVER_SCHEMES):
            return None
        return settings.data_dir() / "mlflow" / "artifacts"

    def tracker(self) -> Tracker:
        return Tracker(self.resolved_tracking_uri(), self.resolved_artifact_root())
