"""MLflow experiment tracking through ``MlflowClient`` only, and the tags every run of the pipeline carries.

Why the client and not ``mlflow.start_run``: the fluent API keeps the active run in process-global state, which
breaks when one process materializes many partitions (or several assets) in turn; an explicit client and run id
per run cannot leak a run into the next one. Every failure to reach the store becomes ``TrackingUnavailable``
naming the store, so a run fails before it publishes anything.

Tags every run carries (``standard_tags``): ``git.commit``, ``git.dirty`` (``lineage.code_state``),
``dvc.raw_current`` (``lineage.data_version.current_data_version``: the snapshot cut the warehouse reads),
``dagster.run_id``, ``dagster.asset_key`` and, for one partition, ``dagster.partition``. This module takes plain
values, never a Dagster context, so the analysis layer and the tests can use it without Dagster.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from americano_pipeline.lineage.code_state import GitState, git_state
from americano_pipeline.lineage.data_version import current_data_version


_SQLITE_FILE = "sqlite:///"  # then the store file's path: relative, or absolute with one more slash


def standard_tags(*, dagster_run_id: str, asset_keys: list[str], partition: str | None = None,
                  git: GitState | None = None, data_version: str | None = None) -> dict[str, str]:
    """The git, DVC and Dagster tags of one run (module doc). ``git`` and ``data_version`` are read now unless the
    caller already holds them (and records them elsewhere too, as the analyses do)."""
    git = git or git_state()
    tags = {
        "git.commit": git.commit,
        "git.dirty": str(git.dirty).lower(),
        "dvc.raw_current": data_version or current_data_version(),
        "dagster.run_id": dagster_run_id,
        "dagster.asset_key": ", ".join(sorted(asset_keys)),
    }
    if partition is not None:
        tags["dagster.partition"] = partition
    return tags


def _open_client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    with _opening(tracking_uri):
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def _opening(tracking_uri: str) -> Iterator[None]:
    """Held while this process opens a SQLite store: an exclusive lock on ``<store file>.lock``, so one process at
    a time creates or upgrades the store's tables.

    Why: opening a SQLite store runs MLflow's schema migrations when its tables are missing or old, and two
    processes migrating one new file together left it broken for good (``table _alembic_tmp_metrics already
    exists`` at every later open) in 4 of 4 tries; the research API's two processes open the store together at
    start, as do parallel Dagster steps. Other stores (a tracking server, a database server) are left to their
    own locking."""
    name = tracking_uri[len(_SQLITE_FILE):].split("?", 1)[0] if tracking_uri.startswith(_SQLITE_FILE) else ""
    if name in ("", ":memory:"):
        yield
        return
    store = Path(name)
    store.parent.mkdir(parents=True, exist_ok=True)
    with open(store.with_name(store.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


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
            from americano_pipeline.third_party import quiet_mlflow

            quiet_mlflow()  # no INFO lines about the store's tables on the console
            self._client = self._call("connecting", _open_client, self.tracking_uri)
        return self._client

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it (with its artifact directory under ``artifact_root``) if missing."""
        if name not in self._experiments:
            self._experiments[name] = self._existing(name) or self._create(name)
        return self._experiments[name]

    def _existing(self, name: str) -> str | None:
        found = self._call(f"looking up experiment {name!r}", self.client.get_experiment_by_name, name)
        return None if found is None else found.experiment_id

    def _create(self, name: str) -> str:
        """A new experiment, or the one another process created since this one looked (the research API's
        processes record their first computations together)."""
        location = None if self.artifact_root is None else (self.artifact_root / name).resolve().as_uri()
        try:
            return self._call(f"creating experiment {name!r}", self.client.create_experiment, name,
                              artifact_location=location)
        except TrackingUnavailable:
            created = self._existing(name)
            if created is None:
                raise
            return created

    def _created(self, experiment: str, run_name: str, tags: dict) -> str:
        """A new RUNNING run that carries ``tags`` from its first write (a crash can leave no untagged run)."""
        run = self._call("creating a run", self.client.create_run, self.experiment_id(experiment), run_name=run_name,
                         tags={key: str(value) for key, value in tags.items()})
        return run.info.run_id

    def start_run(self, experiment: str, run_name: str, params: dict, tags: dict) -> str:
        """A new RUNNING run with ``params`` and ``tags`` (values as strings); returns its id."""
        from mlflow.entities import Param

        run_id = self._created(experiment, run_name, tags)
        self._call("logging params", self.client.log_batch, run_id,
                   params=[Param(key, str(value)) for key, value in params.items()])
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

    def log_run(self, experiment: str, run_name: str, *, params: dict, metrics: dict, tags: dict) -> str:
        """One finished run with everything known up front (a snapshot, a dbt build, an API computation) in three
        writes: the run with its tags, its params and metrics, its end; returns its id."""
        run_id = self._created(experiment, run_name, tags)
        try:
            self.complete_run(run_id, params=params, metrics=metrics)
        except BaseException:
            self.fail_run(run_id)
            raise
        return run_id

    def complete_run(self, run_id: str, *, params: dict, metrics: dict) -> None:
        """Log ``params`` and ``metrics`` in one write and mark the run FINISHED (also what finishes a run whose
        writer died after creating it: a param logged again with the same value is accepted)."""
        from mlflow.entities import Metric, Param

        stamp = int(time.time() * 1000)
        self._call("logging params and metrics", self.client.log_batch, run_id,
                   params=[Param(key, str(value)) for key, value in params.items()],
                   metrics=[Metric(key, float(value), stamp, 0) for key, value in metrics.items()])
        self._call("finishing the run", self.client.set_terminated, run_id, "FINISHED")

    def fail_run(self, run_id: str) -> None:
        """Mark the run FAILED if the store still answers (called while another error propagates)."""
        try:
            self.client.set_terminated(run_id, "FAILED")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
