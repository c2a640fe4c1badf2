"""Publishing the warehouse: a build writes a staging copy that replaces the published DuckDB file only when it
passed, and every build's record (``main.warehouse_builds``) says which cut the marts hold and whether it passed.

Why: readers must never see marts half-built from a cut that failed its checks, and a result must record the
data version the marts were actually built from, not whatever cut was promoted later (issue #13: a failing dbt
check left the previous marts in place while a later analysis recorded the new cut's hash). So:

- ``staged`` copies the published file, under its write lock and checkpointed, to ``<file>.building``; the
  Dagster dbt asset points dbt there (``AMERICANO_DUCKDB_PATH``).
- dbt's ``on-run-end`` hook (``dbt_project/macros/record_build.sql``) appends the build's record to the copy:
  command, data version of the cut it read, failed nodes. A plain ``dbt build`` records itself the same way in
  the file it writes.
- ``publish`` renames the copy over the published file when the build passed (atomic: a reader holding the old
  file keeps reading it); ``keep_failure`` otherwise discards the copy and appends only its failure record to
  the published file, whose marts stay as they were.
- ``release`` reads the published record: the data version of the last build, or ``WarehouseNotReleased``
  naming the failed checks when the last build failed (the analyses refuse to run on such marts).

DuckDB allows one writer process: ``write_lock`` waits for another writer up to a bound
(``AMERICANO_DUCKDB_LOCK_TIMEOUT``) and then fails with DuckDB's message, which names the holding process; the dbt
plugin ``dbt_project/plugins/wait_for_duckdb_lock.py`` waits the same way through it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

BUILDS_TABLE = "main.warehouse_builds"
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 2.0


class DuckDBLockTimeout(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the configured timeout."""


class WarehouseNotReleased(RuntimeError):
    """The published marts cannot be analysed: no build record, or the last build failed or skipped its tests."""


def lock_timeout(raw: str | None = None) -> float:
    """AMERICANO_DUCKDB_LOCK_TIMEOUT (default 60 s), a number of seconds >= 0."""
    raw = str(os.environ.get("AMERICANO_DUCKDB_LOCK_TIMEOUT", "60") if raw is None else raw)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"AMERICANO_DUCKDB_LOCK_TIMEOUT must be a number of seconds >= 0, got {raw!r}")
    return seconds


def write_lock(path: Path | str, deadline: float, timeout: float):
    """A writable DuckDB connection to ``path`` once no other process holds it, or ``DuckDBLockTimeout`` at
    ``deadline`` (``time.monotonic()``) with DuckDB's message naming the holder."""
    import duckdb

    pause = _FIRST_PAUSE
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DuckDBLockTimeout(
                    f"{exc} -- waited {timeout:g} s (AMERICANO_DUCKDB_LOCK_TIMEOUT) for that process to release "
                    "the file; stop it or retry later. DuckDB allows one writer process; readers should open the "
                    "file with read_only=True."
                ) from None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_PAUSE)


@contextmanager
def _locked(path: Path) -> Iterator:
    timeout = lock_timeout()
    conn = write_lock(path, time.monotonic() + timeout, timeout)
    try:
        yield conn
    finally:
        conn.close()


def staging_path(published: Path) -> Path:
    return published.with_name(published.name + ".building")


def staged(published: Path) -> Path:
    """A fresh staging copy of the published warehouse (none yet: an empty start), taken under its write lock
    after a checkpoint, so the copy is consistent and a concurrent writer is waited for (module doc)."""
    import shutil

    staging = staging_path(published)
    discard(staging)
    if published.exists():
        with _locked(published) as conn:
            conn.execute("checkpoint")
            shutil.copyfile(published, staging)
    return staging


def discard(staging: Path) -> None:
    for path in (staging, staging.with_name(staging.name + ".wal")):
        path.unlink(missing_ok=True)


def publish(staging: Path, published: Path) -> None:
    """Checkpoint the passed staging copy and rename it over the published file (atomic)."""
    with _locked(staging) as conn:
        conn.execute("checkpoint")
    with _locked(published) if published.exists() else nullcontext():
        os.replace(staging, published)


def keep_failure(staging: Path, published: Path) -> None:
    """Append the failed build's record to the published file (its marts unchanged), then drop the copy."""
    try:
        if published.exists() and staging.exists():
            with _locked(published) as conn:
                quoted = str(staging).replace("'", "''")
                conn.execute(f"attach '{quoted}' as staging (read_only)")
                conn.execute(f"create table if not exists {BUILDS_TABLE} as "
                             "select * from staging.main.warehouse_builds limit 0")
                conn.execute(f"insert into {BUILDS_TABLE} select * from staging.main.warehouse_builds "
                             "order by finished_at desc limit 1")
                conn.execute("detach staging")
    finally:
        discard(staging)


@dataclass(frozen=True)
class Release:
    """What the published marts hold: the data version of the cut their last build read, and that build."""

    data_version: str
    invocation_id: str
    finished_at: str


def release(conn, path: Path) -> Release:
    """The published marts' release from an open (read-only) connection to ``path``; ``WarehouseNotReleased``
    when the last build failed (naming what failed) or was a ``dbt run`` without its tests, or there is no
    record (module doc)."""
    try:
        rows = conn.execute(f"select invocation_id, command, finished_at, data_version, failed from {BUILDS_TABLE} "
                            "order by finished_at desc").fetchall()
    except Exception as exc:  # duckdb.CatalogException: a warehouse built before builds were recorded
        if "warehouse_builds" not in str(exc):
            raise
        rows = []
    builder = next((row for row in rows if row[1] in ("build", "run")), None)
    if builder is None:
        raise WarehouseNotReleased(
            f"the warehouse {path} has no build record ({BUILDS_TABLE}); rebuild it (materialize the dbt assets "
            "or `dbt build`) before analysing it")
    invocation, command, finished, _, failed = rows[0]
    if failed:
        raise WarehouseNotReleased(
            f"the last warehouse build ({command} {invocation}, finished {finished}) failed its blocking checks: "
            f"{', '.join(failed)}; the marts in {path} are not analysed until a build passes. Fix the data (see "
            "the failed checks in Dagster or the dbt log) and rebuild")
    if builder[1] == "run":
        raise WarehouseNotReleased(
            f"the marts in {path} were last rebuilt by `dbt run` ({builder[0]}) without their tests; run "
            "`dbt build` (or materialize the dbt assets) so the blocking checks run")
    return Release(data_version=str(builder[3]), invocation_id=str(builder[0]), finished_at=str(builder[2]))
