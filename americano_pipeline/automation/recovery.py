"""Recovering from killed runs: a run whose process is gone is marked failed, its pool slots are freed and the
processes it left behind (step workers, the dbt child) are ended.

Why: when ``dagster asset materialize`` (or ``dagster job execute``, or the demo) is killed with SIGKILL, nothing
writes the end of its run. The run stays ``STARTED`` forever and keeps its slot in the ``duckdb`` or ``dvc`` pool
(limit 1), so every later run waits for the slot ("Step blocked by limit for pool duckdb") and never starts; the
dbt child keeps writing the warehouse, unsupervised (issue #13). The daemon's run monitoring
(``data/dagster_home/dagster.yaml``) covers runs it launched; runs started from the command line are recovered
here, by ``americano runs recover`` and automatically before every CLI run of the pipeline (the Makefile and
``americano demo``).

How a dead run is recognised, on this machine (the local instance's runs): every Dagster run process records its
pid in the event log (the executor's "parent process (pid: N)" engine event, each step worker's
``STEP_WORKER_STARTED`` event). A run in progress whose run process no longer exists (or whose pid now belongs to
a process started after the event, i.e. a reused pid) is dead. A run in progress that recorded no process yet is
dead once it is older than ``STARTING_GRACE_SECONDS``.

What is ended: the run's step workers that are still alive, and every dbt process started for the run
(dagster-dbt gives each invocation a target path ``<op>-<first 7 characters of the run id>-...`` in
``DBT_TARGET_PATH``), first with SIGTERM, then SIGKILL after ``TERMINATE_SECONDS``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

STARTING_GRACE_SECONDS = 120.0
TERMINATE_SECONDS = 10.0
_PROC = Path("/proc")


@dataclass(frozen=True)
class Recovered:
    """One dead run put right: its id, job, the pool slots freed and the processes ended."""

    run_id: str
    job_name: str
    ended: tuple[int, ...]

    def __str__(self) -> str:
        ended = f"; ended leftover processes {', '.join(map(str, self.ended))}" if self.ended else ""
        return f"run {self.run_id} ({self.job_name}): its process is gone; marked failed, pool slots freed{ended}"


def _boot_time() -> float:
    for line in (_PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")


def process_started_at(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None when there is no such process."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _alive(pid: int, recorded_at: float) -> bool:
    """The process that recorded itself at ``recorded_at`` still runs (not a later process with a reused pid)."""
    started = process_started_at(pid)
    return started is not None and started <= recorded_at + 1.0


def _recorded_processes(instance: dg.DagsterInstance, run_id: str) -> tuple[list, list]:
    """(run process, step workers) as (pid, recorded at) pairs from the run's event log."""
    run_processes, workers = [], []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        metadata = getattr(event and event.event_specific_data, "metadata", None) or {}
        if "pid" not in metadata:
            continue
        entry = (int(metadata["pid"].value), record.timestamp)
        (workers if event.event_type == dg.DagsterEventType.STEP_WORKER_STARTED else run_processes).append(entry)
    return run_processes, workers


def _dbt_processes(run_id: str) -> list[int]:
    """Processes whose environment says they are dbt invocations of this run (dagster-dbt's target path)."""
    marker = f"-{run_id[:7]}-".encode()
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for variable in environment.split(b"\0"):
            if variable.startswith(b"DBT_TARGET_PATH=") and marker in variable:
                found.append(int(entry.name))
    return found


def _end(pids: list[int]) -> tuple[int, ...]:
    """SIGTERM, then SIGKILL what is still there after ``TERMINATE_SECONDS``; the pids that were running."""
    running = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            running.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + TERMINATE_SECONDS
    while running and time.monotonic() < deadline and any(process_started_at(pid) for pid in running):
        time.sleep(0.2)
    for pid in running:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return tuple(running)


def dead_runs(instance: dg.DagsterInstance) -> Iterator[dg.DagsterRun]:
    """Runs in progress (starting, started, canceling) whose run process is gone (module doc)."""
    in_progress = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    now = time.time()
    for record in instance.get_run_records(dg.RunsFilter(statuses=in_progress)):
        run_processes, _ = _recorded_processes(instance, record.dagster_run.run_id)
        if run_processes:
            if not any(_alive(pid, at) for pid, at in run_processes):
                yield record.dagster_run
        elif now - record.create_timestamp.timestamp() > STARTING_GRACE_SECONDS:
            yield record.dagster_run


def recover_dead_runs(instance: dg.DagsterInstance) -> list[Recovered]:
    """Mark every dead run failed, free its pool slots and end what it left running; what was done, per run."""
    recovered = []
    for run in dead_runs(instance):
        _, workers = _recorded_processes(instance, run.run_id)
        leftovers = [pid for pid, at in workers if _alive(pid, at)] + _dbt_processes(run.run_id)
        ended = _end(leftovers)
        instance.report_run_failed(
            run, "americano runs recover: the run's process is gone (killed?); marked failed so its pool slots "
                 "are freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(Recovered(run_id=run.run_id, job_name=run.job_name, ended=ended))
    return recovered
