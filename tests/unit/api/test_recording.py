"""Recording on-demand computations through the journal, on a real SQLite journal, a real MLflow SQLite store and
(for a protocol's analysis_runs rows) the real PostgreSQL writer login: every journalled computation is recorded
exactly once, across a process that dies before recording, a crash halfway through recording, a stop before the
backlog is drained; what cannot be journalled or recorded is logged naming it."""

import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import partial

import pytest

from americano_pipeline.api import recording
from americano_pipeline.api.journal import Journal
from americano_pipeline.api.recording import Computation, Recorder, computation, numbers
from americano_pipeline.lineage.code_state import GitState
from americano_pipeline.lineage.tracking import Tracker
from americano_pipeline.source.connection import WRITER_ROLE, connect
from americano_pipeline.source.schema import ensure_schema
from tests.support import login_url

PROTOCOL_ID = "c" + "b" * 24
ANSWER = {"pValue": 0.03, "passesSCEDStandards": True, "permutationDistribution": [1.0, 2.0],
          "effectSizes": {"NAP": 0.8, "NAP_CI": [0.6, 0.9]}, "protocolId": PROTOCOL_ID,
          "interpretation": "text", "provenance": {"method": "m", "parameters": {"metric": "x"},
                                                   "dataVersionHash": "d1"}}
SERIES_ANSWER = {**ANSWER, "protocolId": None}

# A server process that journals the computations it is given (JSON lines on stdin) and then dies at the
# chosen point: before recording anything, or halfway through recording its first computation.
CHILD = """
import os, sys
from functools import partial
from pathlib import Path
from americano_pipeline.api import recording
from americano_pipeline.api.journal import Journal
from americano_pipeline.lineage.code_state import GitState
from americano_pipeline.lineage.tracking import Tracker
from americano_pipeline.source.connection import WRITER_ROLE, connect

journal_path, tracking_uri, writer_url, crash = sys.argv[1:]
die = lambda *args, **kwargs: os._exit(3)
tracker = Tracker(tracking_uri, None)
writer = partial(connect, writer_url, role=WRITER_ROLE)
if crash == "run created":
    created = tracker._created
    tracker._created = lambda *args, **kwargs: (created(*args, **kwargs), die())
elif crash == "run finished":
    writer = die
journal = Journal(Path(journal_path))
if crash == "row written":
    journal.done = die
recorder = recording.Recorder(tracker, writer, idle=lambda: True, journal=journal)
recorder.__dict__["_git"] = GitState("abc", False)
for line in sys.stdin:
    recorder.submit(recording.Computation.from_json(line))
if crash == "before recording":
    os._exit(0)
recorder.start()
recorder._thread.join(60)
os._exit(1)  # the crash point was never reached
"""


def test_the_answers_numbers_are_its_metrics():
    assert numbers(ANSWER) == {"pValue": 0.03, "effectSizes.NAP": 0.8}


def test_a_cached_answer_is_recorded_as_cached():
    fresh = computation("abab-randomization-test", "u1", ANSWER, recording.now())
    cached = computation("abab-randomization-test", "u1", {**ANSWER, "provenance": {**ANSWER["provenance"],
                                                                                   "cached": True}}, recording.now())
    assert (fresh.cached, cached.cached) == (False, True)
    assert Computation.from_json(cached.to_json()).cached is True


def test_a_computation_survives_its_journal_form():
    done = computation("abab-randomization-test", "u1", ANSWER, recording.now())
    assert Computation.from_json(done.to_json()) == done


@pytest.fixture
def store(tmp_path):
    """A fresh MLflow SQLite store: its URI."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def writer_url(pg_cluster, make_database):
    """A database with the schema and the protocol PROTOCOL_ID: the URL of its writer login."""
    url = make_database()
    with connect(url) as conn:
        ensure_schema(conn)
        conn.execute(
            """INSERT INTO experiment_protocols (id, "userId", "protocolName", hypothesis, "startDate",
               "designType", "primaryOutcome", "sampleSizeTarget", "analysisPlan")
               VALUES (%s, 'u1', 'p', 'h', now(), 'ABAB', 'engagement_score', 40, 'plan')""", (PROTOCOL_ID,))
    return login_url(pg_cluster, url, WRITER_ROLE)


def recorder(journal_path, store: str, writer_url: str | None, idle=lambda: True) -> Recorder:
    writer = partial(connect, writer_url, role=WRITER_ROLE) if writer_url else None
    made = Recorder(Tracker(store, None), writer, idle=idle, journal=Journal(journal_path))
    made.__dict__["_git"] = GitState("abc", False)
    return made


def drained(made: Recorder, seconds: float = 60) -> None:
    """Wait until the journal of ``made`` is empty, then close it."""
    deadline = time.monotonic() + seconds
    while made._journal.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    made.close()


def runs(store: str) -> list:
    """Every run of the store's research-api experiments, whatever its status."""
    client = Tracker(store, None).client
    experiments = [e.experiment_id for e in client.search_experiments() if e.name.startswith("research-api/")]
    return client.search_runs(experiments, max_results=10_000) if experiments else []


def analysis_runs(writer_url: str) -> list[tuple]:
    with connect(writer_url, role=WRITER_ROLE) as conn:
        return conn.execute('SELECT id, "mlflowRunId", "inputParams" FROM analysis_runs ORDER BY id').fetchall()


def computations(count: int) -> list[Computation]:
    """``count`` computations, every third a protocol's randomization test, the others a user's series."""
    return [computation("abab-randomization-test", "u1", ANSWER, recording.now()) if index % 3 == 0 else
            computation("change-points", "u1", SERIES_ANSWER, recording.now()) for index in range(count)]


def serve_and_die(journal_path, store: str, writer_url: str, crash: str, submitted: list[Computation]) -> None:
    """A server process that journals ``submitted`` and dies at ``crash`` (CHILD)."""
    child = subprocess.run([sys.executable, "-c", CHILD, str(journal_path), store, writer_url, crash],
                           input="".join(done.to_json() + "\n" for done in submitted), capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == (0 if crash == "before recording" else 3), child.stderr[-2000:]


@pytest.mark.integration
def test_computations_journalled_by_a_process_that_died_are_recorded_once_by_the_next(tmp_path, store, writer_url):
    submitted = computations(30)
    serve_and_die(tmp_path / "journal.sqlite", store, writer_url, "before recording", submitted)
    assert runs(store) == [] and analysis_runs(writer_url) == []
    survivor = recorder(tmp_path / "journal.sqlite", store, writer_url)
    survivor.start()
    drained(survivor)
    recorded = runs(store)
    assert Counter(run.data.tags["api.computation_id"] for run in recorded) == Counter(d.id for d in submitted)
    by_id = {run.data.tags["api.computation_id"]: run for run in recorded}
    for done in submitted:
        run = by_id[done.id]
        assert run.info.status == "FINISHED" and run.data.tags["api.endpoint"] == done.endpoint
        assert run.data.tags["api.user"] == "u1" and run.data.tags["git.commit"] == "abc"
        assert run.data.metrics == {"pValue": 0.03, "effectSizes.NAP": 0.8}
    assert run.data.params == {key: str(value) for key, value in done.parameters.items()}
    assert run.data.tags["api.cached"] == "false"
    rows = analysis_runs(writer_url)
    protocols = sorted(d.id for d in submitted if d.protocol_id)
    assert [row[0] for row in rows] == protocols and len(protocols) == 10
    assert all(row[1] == by_id[row[0]].info.run_id and row[2]["exploratory"] is True for row in rows)


@pytest.mark.integration
@pytest.mark.parametrize(("crash", "status", "rows"), [("run created", "RUNNING", 0), ("run finished", "FINISHED", 0),
                                                        ("row written", "FINISHED", 1)])
def test_a_crash_halfway_through_recording_is_replayed_without_a_duplicate(tmp_path, store, writer_url, crash,
                                                                           status, rows):
    done = computations(1)[0]
    serve_and_die(tmp_path / "journal.sqlite", store, writer_url, crash, [done])
    [started] = runs(store)
    assert started.data.tags["api.computation_id"] == done.id and started.info.status == status
    assert len(analysis_runs(writer_url)) == rows
    survivor = recorder(tmp_path / "journal.sqlite", store, writer_url)
    survivor.start()
    drained(survivor)
    [run] = runs(store)
    assert run.info.run_id == started.info.run_id and run.info.status == "FINISHED"
    assert run.data.metrics == {"pValue": 0.03, "effectSizes.NAP": 0.8}
    assert run.data.params == {key: str(value) for key, value in done.parameters.items()}
    assert run.data.tags["api.cached"] == "false"
    assert [row[:2] for row in analysis_runs(writer_url)] == [(done.id, run.info.run_id)]


@pytest.mark.integration
def test_two_recorders_on_one_journal_record_each_computation_once(tmp_path, store, writer_url):
    submitted = computations(40)
    serve_and_die(tmp_path / "journal.sqlite", store, writer_url, "before recording", submitted)
    pair = [recorder(tmp_path / "journal.sqlite", store, writer_url) for _ in range(2)]
    for made in pair:
        made.start()
    drained(pair[0])
    pair[1].close()
    assert Counter(run.data.tags["api.computation_id"] for run in runs(store)) == Counter(d.id for d in submitted)
    assert sorted(row[0] for row in analysis_runs(writer_url)) == sorted(d.id for d in submitted if d.protocol_id)


@pytest.mark.integration
def test_a_stop_before_the_backlog_is_recorded_leaves_it_for_the_next_start(tmp_path, store, monkeypatch, caplog):
    monkeypatch.setattr(recording, "DRAIN_SECONDS", 0.0)
    busy = threading.Event()
    first = recorder(tmp_path / "journal.sqlite", store, None, idle=lambda: not busy.is_set())
    busy.set()
    first.start()
    submitted = [computation("change-points", "u1", SERIES_ANSWER, recording.now()) for _ in range(5)]
    for done in submitted:
        first.submit(done)
    with caplog.at_level(logging.WARNING, logger=recording.__name__):
        first.close()
    assert any("5 computations not recorded yet remain in journal" in record.getMessage() and
               "next start" in record.getMessage() for record in caplog.records)
    assert runs(store) == []
    second = recorder(tmp_path / "journal.sqlite", store, None)
    second.start()
    drained(second)
    assert sorted(run.data.tags["api.computation_id"] for run in runs(store)) == sorted(d.id for d in submitted)


@pytest.mark.integration
def test_recording_waits_for_the_idle_pool_at_most_the_deferral(tmp_path, store, monkeypatch):
    monkeypatch.setattr(recording, "MAX_DEFER_SECONDS", 1.5)
    busy = threading.Event()
    busy.set()
    made = recorder(tmp_path / "journal.sqlite", store, None, idle=lambda: not busy.is_set())
    made.start()
    made.submit(computation("change-points", "u1", SERIES_ANSWER, recording.now()))
    time.sleep(0.5)
    assert made._journal.pending() == 1  # deferred while the pool works
    drained(made, seconds=10)  # recorded once the deferral is over, though the pool is still busy
    assert len(runs(store)) == 1


def test_a_computation_the_journal_refuses_is_logged_by_name_and_the_caller_goes_on(tmp_path, caplog):
    (tmp_path / "file").write_text("not a directory")
    made = recorder(tmp_path / "file" / "journal.sqlite", "sqlite:///unused.db", None)
    done = computation("sequential-boundaries", "u1", SERIES_ANSWER, recording.now())
    with caplog.at_level(logging.ERROR, logger=recording.__name__):
        made.submit(done)
    [record] = caplog.records
    assert record.getMessage().startswith(f"computation {done.id} (sequential-boundaries of u1) not recorded: "
                                          f"journal {tmp_path / 'file' / 'journal.sqlite'} refused it")


def test_a_failed_recording_is_logged_by_name_and_kept_for_a_later_attempt(tmp_path, caplog):
    (tmp_path / "file").write_text("not a directory")
    made = recorder(tmp_path / "journal.sqlite", f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}", None)
    done = computation("change-points", "u1", SERIES_ANSWER, recording.now())
    made.submit(done)
    with caplog.at_level(logging.ERROR, logger=recording.__name__):
        made.start()
        deadline = time.monotonic() + 30
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        made.close()
    failure = caplog.records[0]
    assert failure.getMessage() == (f"computation {done.id} (change-points of u1) not recorded (attempt 1); "
                                    f"trying again in {recording.RETRY_SECONDS:.0f} s")
    assert failure.exc_info is not None
    kept = Journal(tmp_path / "journal.sqlite")
    assert kept.pending() == 1 and kept.claim() is None  # kept, waiting for its next attempt


def test_connect_opens_the_store_before_any_recording_and_a_store_that_cannot_open_is_only_logged(tmp_path, caplog):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    made = recorder(tmp_path / "journal.sqlite", store, None)
    made.connect()
    assert made._tracker._client is not None and (tmp_path / "mlflow.db").stat().st_size > 0
    (tmp_path / "a_file").write_text("")
    broken = recorder(tmp_path / "other.sqlite", f"sqlite:///{tmp_path / 'a_file' / 'mlflow.db'}", None)
    with caplog.at_level(logging.ERROR, logger=recording.__name__):
        broken.connect()
    assert broken._tracker._client is None
    assert "could not be opened before serving" in caplog.text


def test_while_recordings_fail_the_recorder_pauses_before_each_next_one(tmp_path, monkeypatch, caplog):
    """A store that cannot open fails every entry alike: the recorder tries, waits RETRY_SECONDS, tries again and
    waits twice as long, instead of going through all 20 journalled entries at full speed."""
    monkeypatch.setattr(recording, "RETRY_SECONDS", 0.4)
    (tmp_path / "file").write_text("not a directory")
    made = recorder(tmp_path / "journal.sqlite", f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}", None)
    for _ in range(20):
        made.submit(computation("change-points", "u1", SERIES_ANSWER, recording.now()))
    with caplog.at_level(logging.ERROR, logger=recording.__name__):
        made.start()
        deadline = time.monotonic() + 60  # the first attempt imports MLflow
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.8)  # from the first failure: the second at 0.4 s, the third not before 1.2 s
        failures = [record for record in caplog.records if " not recorded (attempt " in record.getMessage()]
        made.close()
    assert len(failures) == 2, [record.getMessage() for record in failures]
    assert Journal(tmp_path / "journal.sqlite").pending() == 20
