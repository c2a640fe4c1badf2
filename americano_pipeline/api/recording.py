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

Why after the answer, through a journal, on one thread of its own: an MLflow run costs about 12 ms of CPU on the
SQLite store, more than a whole fast request. The route only appends a small ``Computation`` to the durable
journal (``journal``, about 0.1 ms); the recorder thread records the journal's entries in order while the worker
pool is idle (waiting at most ``MAX_DEFER_SECONDS`` for that), so recording never takes the cores from a
waiting request, and deletes each once recorded. What is not recorded when the API stops (after
``DRAIN_SECONDS``) stays in the journal, and the next start on the same data dir records it. Replaying an entry
whose recording may have started creates nothing twice: the MLflow run is looked up by its
``api.computation_id`` tag and the ``analysis_runs`` row by its id. A failed recording is logged naming the
computation and retried later (``RETRY_SECONDS`` doubling up to ``RETRY_MAX_SECONDS``), and the recorder pauses
before the next recording as long as failures go on (``Recorder._pause``); a computation the journal
refuses (disk full, unwritable file) is logged as not recorded, and the request is still answered.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from americano_pipeline.api.journal import JOURNAL_ERRORS, Entry, Journal
from americano_pipeline.lineage.analysis_runs import AnalysisRunRow, insert_analysis_run, new_cuid
from americano_pipeline.lineage.code_state import GitState, git_state
from americano_pipeline.lineage.tracking import Tracker, TrackingUnavailable

EXPERIMENT_PREFIX = "research-api/"
ANALYSIS_TYPES = {"abab-randomization-test": "randomization_result"}  # the published asset it is exploratory for
MAX_DEFER_SECONDS = 60.0  # a recording forced while requests wait stalls its process's requests (issue #15: p99 300 ms
# at 5 s); under sustained load no deferral keeps up anyway, so this only bounds how long the oldest waits
DRAIN_SECONDS = 10.0
RETRY_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
JOURNAL_RETRY_SECONDS = 30.0  # after the journal itself could not be read
_POLL = 0.01
_POLL_EMPTY = 1.0  # how often an empty journal is looked at again (other processes append to it too)

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
    cached: bool = False  # answered from the research cache (an identical earlier computation on the same data)

    @property
    def run_name(self) -> str:
        subject = self.protocol_id or self.parameters.get("metric") or self.method
        return f"EXPLORATORY {self.endpoint} {self.user_id} {subject}"

    @property
    def name(self) -> str:
        """How log lines name it."""
        return f"computation {self.id} ({self.endpoint} of {self.user_id})"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "started_at": self.started_at.isoformat(),
                           "completed_at": self.completed_at.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> Computation:
        fields = json.loads(text)
        return cls(**{**fields, "started_at": datetime.fromisoformat(fields["started_at"]),
                      "completed_at": datetime.fromisoformat(fields["completed_at"])})


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
        started_at=started_at, completed_at=now(), cached=bool(provenance.get("cached")))


class Recorder:
    """The journal of computations and the thread that records them (module doc)."""

    def __init__(self, tracker: Tracker, writer: Callable, idle: Callable[[], bool], journal: Journal):
        self._tracker, self._writer, self._idle, self._journal = tracker, writer, idle, journal
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._drain_until = math.inf
        self._failures = 0  # failed recordings in a row (``_pause``)
        self._thread = threading.Thread(target=self._drain, name="americano-api-recorder", daemon=True)

    def start(self) -> None:
        """Free what a process that is gone held, say what an earlier process left, and start recording."""
        try:
            freed, waiting = self._journal.release_orphans(), self._journal.pending()
        except JOURNAL_ERRORS:
            log.exception("journal %s cannot be read: computations are not recorded until it can", self._journal.path)
        else:
            if waiting:
                log.info("%d computations wait in journal %s to be recorded (%d held by a process that is gone)",
                         waiting, self._journal.path, freed)
        self._thread.start()

    def connect(self) -> None:
        """Open the MLflow store now, before the API serves, rather than at the first recording. Opening creates
        or upgrades the store's tables: on a new store about 10 s of CPU, which the first recording would spend
        while requests wait for the GIL (issue #15: py-spy on ``bench/api.py`` found the recorder in MLflow's
        migrations for most of the fast phase's samples). A store that cannot be opened is logged, not raised:
        each recording tries again, and the API answers meanwhile."""
        try:
            self._tracker.client
        except TrackingUnavailable:
            log.exception("the MLflow store could not be opened before serving; recordings will try again")

    def submit(self, done: Computation) -> None:
        """Journal ``done`` for recording; a journal that refuses it (disk full, unwritable) is logged."""
        try:
            self._journal.append(done.id, done.to_json())
        except JOURNAL_ERRORS as exc:
            log.error("%s not recorded: journal %s refused it (%s: %s)", done.name, self._journal.path,
                      type(exc).__name__, exc)
            return
        self._wake.set()

    def close(self) -> None:
        """Record what is journalled for up to ``DRAIN_SECONDS``, then stop; say what is left for the next start."""
        self._drain_until = time.monotonic() + DRAIN_SECONDS
        self._closing.set()
        self._wake.set()
        self._thread.join(DRAIN_SECONDS + 1.0)
        try:
            left = self._journal.pending()
        except JOURNAL_ERRORS:
            log.exception("journal %s cannot be read: unknown how many computations are left", self._journal.path)
            left = 0
        if left:
            log.warning("%d computations not recorded yet remain in journal %s: the next start of the API records "
                        "them", left, self._journal.path)
        if self._thread.is_alive():
            log.warning("the recorder is still recording one computation after %.0f s; should the API stop first, "
                        "the next start replays it", DRAIN_SECONDS)
        else:
            self._journal.close()

    def _drain(self) -> None:
        while not self._drained():
            try:
                entry = self._journal.claim()
            except JOURNAL_ERRORS:
                log.exception("journal %s cannot be read; trying again in %.0f s", self._journal.path,
                              JOURNAL_RETRY_SECONDS)
                if self._closing.wait(JOURNAL_RETRY_SECONDS):
                    return
                continue
            if entry is not None:
                self._wait_for_idle()
                if self._drained():
                    self._settle(self._journal.release, entry)
                    return
                if not self._record_entry(entry) and self._closing.wait(self._pause()):
                    return  # stopping while recordings fail: what is left waits in the journal
            elif self._closing.is_set():
                return
            else:
                self._wake.wait(_POLL_EMPTY)
                self._wake.clear()

    def _drained(self) -> bool:
        """Closing, and the time to record what is left is over."""
        return self._closing.is_set() and time.monotonic() >= self._drain_until

    def _wait_for_idle(self) -> None:
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        while not (self._closing.is_set() or self._idle()) and time.monotonic() < deadline:
            time.sleep(_POLL)

    def _record_entry(self, entry: Entry) -> bool:
        """Record ``entry`` and forget it, or hand it back for a later attempt; every failure logged. Whether it
        was recorded."""
        name = f"computation {entry.id}"
        try:
            done = Computation.from_json(entry.payload)
            name = done.name
            self.record(done, replay=entry.attempts > 0)
        except Exception:  # noqa: BLE001 - logged with its traceback; retried later, after a pause (_pause)
            self._failures += 1
            delay = min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2 ** entry.attempts)
            log.exception("%s not recorded (attempt %d); trying again in %.0f s", name, entry.attempts + 1, delay)
            self._settle(self._journal.retry, entry, delay)
            return False
        self._failures = 0
        self._settle(self._journal.done, entry)
        return True

    def _pause(self) -> float:
        """How long to wait after a failed recording before the next: ``RETRY_SECONDS`` doubling with each failure
        in a row, at most ``RETRY_MAX_SECONDS``. Why every entry waits, not only the failed one: a failure is
        nearly always the store's or the database's, and the next entry would fail the same way at once; without
        the pause a broken store made both processes of a bench server try each of 12,000 journalled entries in
        turn, at full CPU, logging 9.4 million lines (660 MB) in 25 minutes."""
        return min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2 ** (self._failures - 1))

    def _settle(self, update: Callable, entry: Entry, *args) -> None:
        """``update(entry, *args)`` in the journal; a failure is logged (the entry is replayed, nothing twice)."""
        try:
            update(entry, *args)
        except JOURNAL_ERRORS:
            log.exception("journal %s: computation %s cannot be marked; it is replayed later, nothing twice",
                          self._journal.path, entry.id)

    @functools.cached_property
    def _git(self) -> GitState:
        return git_state()

    def record(self, done: Computation, *, replay: bool = False) -> str:
        """The MLflow run of ``done`` and, for a protocol, its ``analysis_runs`` row; returns the run id.
        ``replay``: its recording may have started before, so what already exists is kept, not made twice."""
        run_id = (self._existing_run(done) if replay else None) or self._new_run(done)
        if done.protocol_id:
            with self._writer() as conn:
                if not (replay and _has_row(conn, done.id)):
                    insert_analysis_run(conn, self._row(done, run_id))
        return run_id

    def _new_run(self, done: Computation) -> str:
        tags = {"api.user": done.user_id, "api.endpoint": done.endpoint, "api.computation_id": done.id,
                "git.commit": self._git.commit, "git.dirty": str(self._git.dirty).lower(),
                "analysis.exploratory": "true", "analysis.role": "exploratory", "analysis.method": done.method,
                "api.cached": str(done.cached).lower()}
        if done.data_version:
            tags["dvc.raw_current"] = done.data_version
        if done.protocol_id:
            tags["protocol.id"] = done.protocol_id
        return self._tracker.log_run(EXPERIMENT_PREFIX + done.endpoint, done.run_name, params=done.parameters,
                                     metrics=done.metrics, tags=tags)

    def _existing_run(self, done: Computation) -> str | None:
        """The run an earlier attempt created for ``done``, finished now if that attempt stopped halfway."""
        experiment = self._tracker.experiment_id(EXPERIMENT_PREFIX + done.endpoint)
        runs = self._tracker.client.search_runs([experiment], f"tags.`api.computation_id` = '{done.id}'")
        if not runs:
            return None
        finished = [run for run in runs if run.info.status == "FINISHED"]
        if finished:
            return finished[0].info.run_id
        self._tracker.complete_run(runs[0].info.run_id, params=done.parameters, metrics=done.metrics)
        return runs[0].info.run_id

    def _row(self, done: Computation, run_id: str) -> AnalysisRunRow:
        return AnalysisRunRow(
            id=done.id, protocol_id=done.protocol_id, run_name=done.run_name,
            analysis_type=ANALYSIS_TYPES.get(done.endpoint, done.endpoint), code_commit=self._git.commit,
            data_version=done.data_version, mlflow_run_id=run_id, artifact_paths=[],
            input_params={**done.parameters, "exploratory": True, "role": "exploratory", "source": "research-api",
                          "endpoint": done.endpoint, "userId": done.user_id, "codeDirty": self._git.dirty,
                          "cached": done.cached},
            results_summary={"summary": done.summary, "role": "exploratory", "metrics": done.metrics},
            started_at=done.started_at, completed_at=done.completed_at)


def _has_row(conn, computation_id: str) -> bool:
    return conn.execute("SELECT 1 FROM analysis_runs WHERE id = %s", (computation_id,)).fetchone() is not None
