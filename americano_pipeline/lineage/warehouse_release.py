"""Publishing the warehouse: a build writes a staging copy that replaces the published DuckDB file only when it
passed, and every build's record (``main.warehouse_builds``) says which cut the marts hold and whether it passed.

Why: readers must never see marts half-built from a cut that failed its checks, and a result must record the
data version the marts were actually built from, not whatever cut was promoted later (issue #13: a failing dbt
check left the previous marts in place while a later analysis recorded the new cut's hash). So:

- ``staged`` copies the published file to ``<file>.building`` once no process writes it (a read-only open
  succeeds alongside readers), and the Dagster dbt asset points dbt there (``AMERICANO_DUCKDB_PATH``).
- dbt's ``on-run-end`` hook (``dbt_project/macros/record_build.sql``) appends the build's record to the copy:
  command, data version of the cut it read, failed nodes. A plain ``dbt build`` records itself the same way in
  the file it writes.
- ``publish`` renames the checkpointed copy over the published file when the build passed (atomic: a reader
  holding the old file keeps reading it); ``keep_failure`` otherwise discards the copy and writes its failure
  record beside the published file (``<file>.failed.json``), whose marts stay as they were.
- ``release`` reads what the published marts hold: the data version of their last build, or
  ``WarehouseNotReleased`` naming the failed checks when the last build failed (the analyses refuse to run).

The pipeline never writes the published file itself, so readers (the analyses, the research API, notebooks) are
never locked out while a build runs; DuckDB allows one writer process and no reader beside it, so a process that
does write the published file (a plain ``dbt build``, a notebook) is waited for up to a bound
(``AMERICANO_DUCKDB_LOCK_TIMEOUT``), then ``DuckDBLockTimeout`` names it (DuckDB's message names the holding
process). The dbt plugin ``dbt_project/plugins/wait_for_duckdb_lock.py`` waits the same way (``open_when_free``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
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


def open_when_free(path: Path | str, deadline: float, timeout: float, *, read_only: bool = False):
    """A DuckDB connection to ``path`` once no other process writes it (and, for a writable one, none reads it),
    or ``DuckDBLockTimeout`` at ``deadline`` (``time.monotonic()``) with DuckDB's message naming the holder."""
    import duckdb

    pause = _FIRST_PAUSE
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
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


def staging_path(published: Path) -> Path:
    return published.with_name(published.name + ".building")


def failure_path(published: Path) -> Path:
    return published.with_name(published.name + ".failed.json")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def staged(published: Path) -> Path:
    """A fresh staging copy of the published warehouse (none yet: an empty start), copied while a read-only
    connection keeps any writer out, so the copy is consistent (module doc)."""
    staging = staging_path(published)
    discard(staging)
    if published.exists():
        timeout = lock_timeout()
        with open_when_free(published, time.monotonic() + timeout, timeout, read_only=True):
            shutil.copyfile(published, staging)
            if _wal(published).exists():
                shutil.copyfile(_wal(published), _wal(staging))
    return staging


def discard(staging: Path) -> None:
    for path in (staging, _wal(staging)):
        path.unlink(missing_ok=True)


def publish(staging: Path, published: Path) -> None:
    """Checkpoint the passed staging copy and rename it over the published file (atomic); the previous build's
    failure record, if any, no longer applies."""
    import duckdb

    with duckdb.connect(str(staging)) as conn:
        conn.execute("checkpoint")
    _wal(published).unlink(missing_ok=True)  # a write-ahead log of the old file must never meet the new one
    os.replace(staging, published)
    failure_path(published).unlink(missing_ok=True)


def keep_failure(staging: Path, published: Path) -> None:
    """Record the failed build beside the published file (its marts unchanged), then drop the copy."""
    try:
        temporary = failure_path(published).with_suffix(".tmp")
        temporary.write_text(json.dumps(_last_build(staging), indent=2))
        os.replace(temporary, failure_path(published))
    finally:
        discard(staging)


_FIELDS = ("invocation_id", "command", "finished_at", "data_version", "failed")


def _last_build(staging: Path) -> dict:
    """The staging copy's last build record; a stand-in when dbt stopped before its on-run-end hook recorded it."""
    import duckdb

    try:
        with duckdb.connect(str(staging), read_only=True) as conn:
            row = conn.execute(f"select invocation_id, command, cast(finished_at as varchar), data_version, failed "
                               f"from {BUILDS_TABLE} order by finished_at desc limit 1").fetchone()
    except duckdb.Error:
        row = None
    if row is None:
        stopped = "dbt stopped before it recorded the build (see the dbt log)"
        row = ("unknown", "build", time.strftime("%Y-%m-%d %H:%M:%S%z"), "unknown", [stopped])
    return dict(zip(_FIELDS, row))


@dataclass(frozen=True)
class Release:
    """What the published marts hold: the data version of the cut their last build read, and that build."""

    data_version: str
    invocation_id: str
    finished_at: str


def _refusal(build: tuple, path: Path) -> WarehouseNotReleased:
    invocation, command, finished, _, failed = build
    return WarehouseNotReleased(
        f"the last warehouse build ({command} {invocation}, finished {finished}) failed its blocking checks: "
        f"{', '.join(failed)}; the marts in {path} are not analysed until a build passes. Fix the data (see the "
        "failed checks in Dagster or the dbt log) and rebuild")


def release(conn, path: Path) -> Release:
    """The published marts' release from an open (read-only) connection to ``path``; ``WarehouseNotReleased``
    when the last build failed (its record beside the file, or the file's own last record: naming what failed) or
    was a ``dbt run`` without its tests, or there is no record (module doc)."""
    if failure_path(path).exists():
        record = json.loads(failure_path(path).read_text())
        raise _refusal(tuple(record[key] for key in _FIELDS), path)
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
    if rows[0][4]:
        raise _refusal(rows[0], path)
    if builder[1] == "run":
        raise WarehouseNotReleased(
            f"the marts in {path} were last rebuilt by `dbt run` ({builder[0]}) without their tests; run "
            "`dbt build` (or materialize the dbt assets) so the blocking checks run")
    return Release(data_version=str(builder[3]), invocation_id=str(builder[0]), finished_at=str(builder[2]))
