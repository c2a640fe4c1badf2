"""Recording on-demand computations: the answer's numbers as metrics, the MLflow run and (for a protocol) the
analysis_runs row, and every computation that could not be recorded logged, never dropped silently."""

import logging
from contextlib import contextmanager

from americano_pipeline.api import recording
from americano_pipeline.api.recording import Recorder, computation, numbers
from americano_pipeline.lineage.code_state import GitState

ANSWER = {"pValue": 0.03, "passesSCEDStandards": True, "permutationDistribution": [1.0, 2.0],
          "effectSizes": {"NAP": 0.8, "NAP_CI": [0.6, 0.9]}, "protocolId": "c" + "a" * 24,
          "interpretation": "text", "provenance": {"method": "m", "parameters": {"metric": "x"},
                                                   "dataVersionHash": "d1"}}


class FakeTracker:
    def __init__(self, fail: bool = False):
        self.runs, self.fail = [], fail

    def log_run(self, experiment, run_name, *, params, metrics, tags):
        if self.fail:
            raise RuntimeError("store down")
        self.runs.append((experiment, tags, metrics))
        return f"run{len(self.runs)}"


def test_the_answers_numbers_are_its_metrics():
    assert numbers(ANSWER) == {"pValue": 0.03, "effectSizes.NAP": 0.8}


def test_a_protocols_computation_gets_an_mlflow_run_and_an_exploratory_analysis_runs_row(monkeypatch):
    rows = []

    @contextmanager
    def writer():
        yield "conn"

    monkeypatch.setattr(recording, "insert_analysis_run", lambda conn, row: rows.append(row))
    tracker = FakeTracker()
    recorder = Recorder(tracker, writer, idle=lambda: True)
    recorder.__dict__["_git"] = GitState("abc", False)
    done = computation("abab-randomization-test", "u1", ANSWER, recording.now())
    assert recorder.record(done) == "run1"
    experiment, tags, _ = tracker.runs[0]
    assert experiment == "research-api/abab-randomization-test"
    assert tags["api.user"] == "u1" and tags["dvc.raw_current"] == "d1" and tags["git.commit"] == "abc"
    [row] = rows
    assert row.id == done.id and row.mlflow_run_id == "run1" and row.input_params["exploratory"] is True


def test_computations_that_cannot_be_recorded_are_logged(monkeypatch, caplog):
    monkeypatch.setattr(recording, "BACKLOG", 1)
    recorder = Recorder(FakeTracker(fail=True), None, idle=lambda: True)
    recorder.__dict__["_git"] = GitState("abc", False)
    done = computation("sequential-boundaries", "u1", {**ANSWER, "protocolId": None}, recording.now())
    with caplog.at_level(logging.ERROR, logger=recording.__name__):
        recorder.submit(done)
        recorder.submit(done)  # the backlog of one is full: logged
        recorder.start()
        recorder.close()  # the failing store: logged with its traceback
    messages = [record.getMessage() for record in caplog.records]
    assert any("already wait to be recorded" in message for message in messages)
    assert any(message.endswith("not recorded") and record.exc_info
               for message, record in zip(messages, caplog.records))
