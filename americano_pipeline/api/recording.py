"""Each on-demand computation of the research API recorded as an exploratory analysis run: one MLflow run for
every answered computation, and one ``analysis_runs`` row (through the writer login) for those of a protocol.

What goes where: the MLflow run (experiment ``research-api/<endpoint>``) carries the request's parameters, the
answer's numbers as metrics, and the tags ``api.user``, ``api.endpoint``, ``api.computation_id``,
``dvc.raw_current`` (the data version of the warehouse release it read; absent for sequential boundaries, which
read no data), ``git.commit``/``git.dirty`` (``lineage.code_state``, read once per process) and
``analysis.exploratory=true``. The randomization test names a protocol, so it also gets an ``analysis_runs`` row
(``lineage.analysis_runs``, as ``analysis.runner`` writes them) whose id is the computation id, with
``inputParams.exploratory = true``: published results never pick it up (``users.latest_runs``). The other
endpoints analyse a user's series without a protocol, and ``analysis_runs."protocolId"`` is NOT NULL, so they are
recorded in MLflow only.

Why after the answer and on one thread of its own: an MLflow run costs about 12 ms of CPU on the SQLite store,
more than a whole fast request. The route only queues a small ``Computation`` (microseconds); the recorder thread
writes it while the worker pool is idle (waiting at most ``MAX_DEFER_SECONDS`` for that), so recording never
takes the cores from a waiting request. Nothing is lost silently: a full backlog (``BACKLOG``), a failed write and
computations still queued at shutdown (after ``DRAIN_SECONDS``) are logged as errors naming them.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from americano_pipeline.lineage.analysis_runs import AnalysisRunRow, insert_analysis_run, new_cuid
from americano_pipeline.lineage.code_state import GitState, git_state
from americano_pipeline.lineage.tracking import Tracker

EXPERIMENT_PREFIX = "research-api/"
ANALYSIS_TYPES = {"abab-randomization-test": "randomization_result"}  # the published asset it is exploratory for
BACKLOG = 10_000
MAX_DEFER_SECONDS = 5.0
DRAIN_SECONDS = 10.0
_POLL = 0.01
_STOP = object()

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Computation:
    """What one answered request computed: enough to record it, without the answer's long arrays."""

    id: str  # the analysis_runs id when it gets a row, and the MLflow tag api.computation_id
    endpoint: str
    user_id: str
    method: str
    parameters: dict
    data_version: str | None
    protocol_id: str | None
    metrics: dict[str, float]
    summary: str
    started_at: datetime
    completed_at: datetime

    @property
    def run_name(self) -> str:
        subject = self.protocol_id or self.parameters.get("metric") or self.method
        return f"EXPLORATORY {self.endpoint} {self.user_id} {subject}"


def numbers(answer: dict, prefix: str = "") -> dict[str, float]:
    """The answer's numbers as MLflow metrics: nested objects flattened with dots; lists, text, booleans and
    nulls left out (the provenance too: it holds parameters, not results)."""
    found: dict[str, float] = {}
    for key, value in answer.items():
        if isinstance(value, dict) and key != "provenance":
            found.update(numbers(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[prefix + key] = float(value)
    return found


def computation(endpoint: str, user_id: str, answer: dict, started_at: datetime) -> Computation:
    """The record of ``answer`` (a research function's result, with its ``provenance``); gives it its id."""
    provenance = answer["provenance"]
    return Computation(
        id=new_cuid(), endpoint=endpoint, user_id=user_id, method=provenance["method"],
        parameters=provenance["parameters"], data_version=provenance.get("dataVersionHash"),
        protocol_id=answer.get("protocolId"), metrics=numbers(answer), summary=str(answer.get("interpretation", "")),
        started_at=started_at, completed_at=now())


class Recorder:
    """A backlog of computations and the thread that records them (module doc)."""

    def __init__(self, tracker: Tracker, writer: Callable, idle: Callable[[], bool]):
        self._tracker, self._writer, self._idle = tracker, writer, idle
        self._backlog: queue.Queue = queue.Queue(maxsize=BACKLOG)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="americano-api-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, done: Computation) -> None:
        """Queue ``done`` for recording; a full backlog logs it as not recorded."""
        try:
            self._backlog.put_nowait(done)
        except queue.Full:
            log.error("computation %s (%s of %s) not recorded: %d computations already wait to be recorded",
                      done.id, done.endpoint, done.user_id, BACKLOG)

    def close(self) -> None:
        """Record what is queued (for up to ``DRAIN_SECONDS``), then stop; log what is left."""
        self._closing.set()
        self._backlog.put(_STOP)
        self._thread.join(DRAIN_SECONDS)
        left = self._backlog.qsize() - (1 if self._thread.is_alive() else 0)
        if left > 0:
            log.error("%d computations not recorded: the API stopped before it could record them", left)

    def _drain(self) -> None:
        while (done := self._backlog.get()) is not _STOP:
            self._wait_for_idle()
            try:
                self.record(done)
            except Exception:  # noqa: BLE001 - logged with its traceback; the next computation is recorded
                log.exception("computation %s (%s of %s) not recorded", done.id, done.endpoint, done.user_id)

    def _wait_for_idle(self) -> None:
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        while not (self._closing.is_set() or self._idle()) and time.monotonic() < deadline:
            time.sleep(_POLL)

    @functools.cached_property
    def _git(self) -> GitState:
        return git_state()

    def record(self, done: Computation) -> str:
        """The MLflow run of ``done`` and, for a protocol, its ``analysis_runs`` row; returns the run id."""
        tags = {"api.user": done.user_id, "api.endpoint": done.endpoint, "api.computation_id": done.id,
                "git.commit": self._git.commit, "git.dirty": str(self._git.dirty).lower(),
                "analysis.exploratory": "true", "analysis.role": "exploratory", "analysis.method": done.method}
        if done.data_version:
            tags["dvc.raw_current"] = done.data_version
        if done.protocol_id:
            tags["protocol.id"] = done.protocol_id
        run_id = self._tracker.log_run(EXPERIMENT_PREFIX + done.endpoint, done.run_name, params=done.parameters,
                                       metrics=done.metrics, tags=tags)
        if done.protocol_id:
            with self._writer() as conn:
                insert_analysis_run(conn, self._row(done, run_id))
        return run_id

    def _row(self, done: Computation, run_id: str) -> AnalysisRunRow:
        return AnalysisRunRow(
            id=done.id, protocol_id=done.protocol_id, run_name=done.run_name,
            analysis_type=ANALYSIS_TYPES.get(done.endpoint, done.endpoint), code_commit=self._git.commit,
            data_version=done.data_version, mlflow_run_id=run_id, artifact_paths=[],
            input_params={**done.parameters, "exploratory": True, "role": "exploratory", "source": "research-api",
                          "endpoint": done.endpoint, "userId": done.user_id, "codeDirty": self._git.dirty},
            results_summary={"summary": done.summary, "role": "exploratory", "metrics": done.metrics},
            started_at=done.started_at, completed_at=done.completed_at)
