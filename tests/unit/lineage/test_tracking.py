"""Opening an MLflow SQLite store from several processes at once: one creates its tables, none breaks it."""

from __future__ import annotations

import multiprocessing
import time

from americano_pipeline.lineage.tracking import Tracker, TrackingUnavailable

PROCESSES = 3


def open_store(uri: str, at: float, results) -> None:
    import mlflow.tracking  # noqa: F401 - imported before the start line, so every process opens the store together

    time.sleep(max(0.0, at - time.time()))
    try:
        results.put(Tracker(uri, None).experiment_id("research-api/change-points"))
    except TrackingUnavailable as exc:
        results.put(str(exc))


def test_processes_opening_a_new_store_together_leave_it_whole(tmp_path):
    """Without the lock, two processes migrating one new store broke it in 4 of 4 tries (``table _alembic_tmp_*
    already exists`` at every later open)."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    at = time.time() + 15  # the time every process needs to start and import MLflow, with room to spare
    processes = [spawn.Process(target=open_store, args=(uri, at, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    found = [results.get(timeout=5) for _ in processes]

    assert len(set(found)) == 1 and found[0].isdigit(), found
    assert Tracker(uri, None).experiment_id("research-api/change-points") == found[0]
    assert (tmp_path / "mlflow" / "mlflow.db.lock").exists()
