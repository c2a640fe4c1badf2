"""The extract: exact types, run-config windows, one consistent cut under concurrent writes, nothing half-written
when killed, previous snapshot intact (and the failing table named) when the database is down or stops mid-extract,
and byte-exact DVC restore by hash."""

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from americano_pipeline.demo.protocols import DESIGNS
from americano_pipeline.lineage.snapshot_store import new_snapshot_id
from americano_pipeline.source import extract as source_extract
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow
from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.source.schema import TABLES, enums
from americano_pipeline.lineage.code_state import git_state
from americano_pipeline.lineage.data_version import VersionNotFound, file_md5, restore
from tests.integration.snapshot_support import materialize, materialized

pytestmark = pytest.mark.integration


def _extract(url, out_dir, window=ExtractWindow(days=ALL_HISTORY)):
    with connect(url, role=READER_ROLE) as conn:
        return source_extract.extract(conn, out_dir, new_snapshot_id(), window)


def _terminate(url, *, every_session: bool = False, pid: int | None = None) -> None:
    """End the reader's server process, or every session of the database (as a server shutdown does)."""
    with connect(url, autocommit=True) as admin:
        if every_session:
            admin.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                             WHERE datname = current_database() AND pid <> pg_backend_pid()""")
        else:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_types_are_preserved_exactly(source_db, tmp_path):
    files = _extract(source_db, tmp_path)
    events = pq.read_table(files["behavioral_events"].path)
    assert events.schema == source_extract.arrow_schema("behavioral_events")
    assert events.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert events.schema.field("eventType").type == pa.dictionary(pa.int32(), pa.string())
    assert events.column("eventType").chunk(0).dictionary.to_pylist() == list(enums()["EventType"])
    with connect(source_db) as conn:
        rows = conn.execute(
            """SELECT id, "timestamp", "eventData", "eventType"::text, "sessionPerformanceScore", "randomizationSeed"
               FROM behavioral_events ORDER BY id""").fetchall()
        deviations = conn.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0]
    assert len(rows) == events.num_rows
    by_id = {r["id"]: r for r in events.to_pylist()}
    for event_id, stamp, data, kind, score, seed in rows[:: max(1, len(rows) // 300)]:
        row = by_id[event_id]
        assert row["timestamp"] == stamp  # same instant, to the millisecond, in UTC
        assert json.loads(row["eventData"]) == data
        assert row["eventType"] == kind and row["sessionPerformanceScore"] == score
        assert row["randomizationSeed"] == seed
    assert events.column("sessionPerformanceScore").null_count > 0  # nullable ints stay nullable, not NaN
    protocols = pq.read_table(files["experiment_protocols"].path)
    assert protocols.num_rows == deviations and json.loads(protocols.column("deviations")[0].as_py()) == []
    assert files["analysis_runs"].rows == 0 and pq.read_table(files["analysis_runs"].path).num_rows == 0


def test_window_and_user_filters(source_db, tmp_path):
    with connect(source_db) as conn:
        recent = conn.execute(
            """SELECT count(*) FROM behavioral_events WHERE "timestamp" >= now() - interval '60 days'""").fetchone()[0]
        user, user_events, user_protocols, user_phases = conn.execute(
            """SELECT "userId", count(*), (SELECT count(*) FROM experiment_protocols p WHERE p."userId" = e."userId"),
                      (SELECT count(*) FROM phase_assignments a JOIN experiment_protocols p ON p.id = a."protocolId"
                       WHERE p."userId" = e."userId")
               FROM behavioral_events e GROUP BY 1 ORDER BY 1 LIMIT 1""").fetchone()
    windowed = _extract(source_db, tmp_path / "a", ExtractWindow(days=60))
    assert windowed["behavioral_events"].rows == recent > 0
    one_user = _extract(source_db, tmp_path / "b", ExtractWindow(days=ALL_HISTORY, user_id=user))
    assert one_user["behavioral_events"].rows == user_events
    assert one_user["experiment_protocols"].rows == user_protocols == len(DESIGNS)
    assert one_user["phase_assignments"].rows == user_phases > 2 * len(DESIGNS)
    assert set(pq.read_table(one_user["context_metadata"].path).column("userId").to_pylist()) == {user}
    with pytest.raises(ValueError, match="days must be >= 0"):
        ExtractWindow(days=-1)


def test_concurrent_inserts_never_produce_orphans(source_db, tmp_path, monkeypatch):
    """Pairs (context row, event referencing it) committed while the extract runs are in both files or neither."""
    context_read = threading.Event()
    original = source_extract._write_table

    def slow_after_context(cur, table, window, target):
        rows = original(cur, table, window, target)
        if table == "context_metadata":
            context_read.set()
            time.sleep(1.0)  # the window in which a non-repeatable read would pick up orphans
        return rows

    monkeypatch.setattr(source_extract, "_write_table", slow_after_context)
    inserted, stop = [], threading.Event()

    def writer():
        with connect(source_db) as conn:
            context_read.wait(10)
            while not stop.is_set():
                n = len(inserted)
                context_id, event_id = f"cctx{n:021d}", f"cevt{n:021d}"
                conn.execute(
                    """INSERT INTO context_metadata (id, "userId", "timestamp", mood, "energyLevel", location)
                       VALUES (%s, 'u', now() - interval '1 hour', 'HIGH', 5, 'HOME')""", (context_id,))
                conn.execute(
                    """INSERT INTO behavioral_events (id, "userId", "eventType", "eventData", "timestamp",
                       "contextMetadataId") VALUES (%s, 'u', 'SEARCH_PERFORMED', '{}', now() - interval '1 hour', %s)""",
                    (event_id, context_id))
                conn.commit()
                inserted.append(event_id)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        files = _extract(source_db, tmp_path)
    finally:
        stop.set()
        thread.join()
    assert len(inserted) > 10  # the writer really committed during the extract
    cut = {t: read_frame(files[t].path) for t in TABLES}
    assert not set(inserted) & set(cut["behavioral_events"]["id"])
    assert all(report.passed for report in validate_cut(cut).values())


def test_terminated_server_connection_leaves_no_partial_file_and_a_rerun_succeeds(source_db, tmp_path, monkeypatch):
    good = _extract(source_db, tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    original, calls = source_extract._write_table, []

    def killed_mid_way(cur, table, window, target):
        calls.append(table)
        if len(calls) == 3:  # the server backend streaming the rows dies between two tables
            cur.execute("SELECT pg_backend_pid()")
            _terminate(source_db, pid=cur.fetchone()[0])
        return original(cur, table, window, target)

    monkeypatch.setattr(source_extract, "_write_table", killed_mid_way)
    with pytest.raises(source_extract.ExtractFailed) as failed:
        _extract(source_db, tmp_path)
    assert str(failed.value) == ("extract from PostgreSQL failed while reading table context_metadata: "
                                 "terminating connection due to administrator command")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    monkeypatch.setattr(source_extract, "_write_table", original)
    rerun = _extract(source_db, tmp_path)
    assert file_md5(rerun["behavioral_events"].path) == file_md5(good["behavioral_events"].path)


def test_killed_process_leaves_no_visible_partial_file(source_db, tmp_path):
    project = Path(__file__).resolve().parents[2]
    script = (
        "import time, sys\n"
        "from pathlib import Path\n"
        "from americano_pipeline.source import extract as source_extract\n"
        "from americano_pipeline.source.connection import connect\n"
        "original = source_extract._write_table\n"
        "def slow(cur, table, window, target):\n"
        "    rows = original(cur, table, window, target)\n"
        "    print(table, flush=True); time.sleep(30)\n"
        "    return rows\n"
        "source_extract._write_table = slow\n"
        f"with connect({source_db!r}) as conn:\n"
        f"    source_extract.extract(conn, Path({str(tmp_path)!r}), 'killed')\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=project, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "experiment_protocols"  # one table done, inside the transaction
    process.send_signal(signal.SIGKILL)
    process.wait()
    visible = [p for p in tmp_path.rglob("*.parquet")]
    assert visible == []
    assert [p.name for p in tmp_path.rglob(".*.tmp")] == [".killed.parquet.tmp"]  # hidden, never a snapshot
    files = _extract(source_db, tmp_path)
    assert all(f.path.exists() for f in files.values())
    assert list(tmp_path.rglob(".*.tmp")) == []  # the rerun cleared the leftover


def test_database_down_fails_clearly_and_keeps_the_previous_snapshot(source_db, data_dir):
    assert materialize(source_db).success
    current = data_dir / "raw" / "current" / "behavioral_events.parquet"
    before = current.read_bytes()
    result = materialize("postgresql://americano:wrong@127.0.0.1:1/americano")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/americano as americano" in failure
    assert current.read_bytes() == before


def test_database_stopping_mid_extract_names_the_table_and_keeps_the_previous_snapshot(source_db, data_dir,
                                                                                      monkeypatch):
    assert materialize(source_db).success
    raw = data_dir / "raw"
    before = {path: path.read_bytes() for path in raw.rglob("*") if path.is_file()}
    original = source_extract._write_table

    def server_stops_before_the_events(cur, table, window, target):
        if table == "behavioral_events":
            _terminate(source_db, every_session=True)
        return original(cur, table, window, target)

    monkeypatch.setattr(source_extract, "_write_table", server_stops_before_the_events)
    result = materialize(source_db)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert failure == ("extract from PostgreSQL failed while reading table behavioral_events: terminating connection "
                       f"due to administrator command; the previous snapshot in {raw / 'current'} is unchanged")
    assert {path: path.read_bytes() for path in raw.rglob("*") if path.is_file()} == before


def test_each_snapshot_is_an_mlflow_run_with_counts_and_its_dvc_hash(source_db, data_dir):
    from mlflow.tracking import MlflowClient

    result = materialize(source_db)
    metadata = materialized(result)
    events = metadata["raw/behavioral_events"]
    client = MlflowClient(tracking_uri=f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(events["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rows.behavioral_events"] == events["rows"] > 1000
    assert run.data.metrics["failing_rows.behavioral_events"] == 0
    assert run.data.tags["dvc.raw_current"] == events["data_version_hash"]
    assert run.data.tags["dagster.run_id"] == result.run_id and run.data.params["days"] == "0"


def test_an_unreachable_mlflow_store_fails_before_the_extract(source_db, data_dir, monkeypatch):
    blocker = data_dir / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")
    result = materialize(source_db)
    assert not result.success
    assert "MLflow tracking store sqlite:///" in result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert not (data_dir / "raw").exists()


def test_restore_an_earlier_snapshot_byte_for_byte_from_cache_and_from_a_remote(source_db, data_dir, tmp_path,
                                                                                   monkeypatch):
    remote = tmp_path / "dvc-remote"
    monkeypatch.setenv("AMERICANO_DVC_REMOTE", str(remote))
    first = materialize(source_db)
    first_hash = materialized(first)["raw/behavioral_events"]["data_version_hash"]
    current = data_dir / "raw" / "current"
    first_bytes = {p.name: p.read_bytes() for p in current.iterdir()}
    with connect(source_db) as conn:
        conn.execute("""UPDATE context_metadata SET "sleepHours" = 8.5""")
        conn.commit()
    second_hash = materialized(materialize(source_db))["raw/behavioral_events"]["data_version_hash"]
    assert second_hash != first_hash and second_hash.endswith(".dir")
    assert (current / "context_metadata.parquet").read_bytes() != first_bytes["context_metadata.parquet"]

    restored = restore(current, first_hash, tmp_path / "restored-from-cache")
    assert {p.name: p.read_bytes() for p in restored.iterdir()} == first_bytes

    shutil.rmtree(data_dir / "raw" / ".dvc" / "cache")  # only the remote still has the first version
    restored = restore(current, first_hash, tmp_path / "restored-from-remote", remote=str(remote))
    assert {p.name: p.read_bytes() for p in restored.iterdir()} == first_bytes
    with pytest.raises(VersionNotFound, match="is not in the DVC cache or the remote"):
        restore(current, "0" * 32 + ".dir", tmp_path / "nothing", remote=str(remote))


def test_inside_a_git_work_tree_dvc_keeps_out_of_the_code_state(source_db, tmp_path, monkeypatch):
    """The data directory inside the code's git work tree, as in a clone: DVC keeps its own repository beside the
    snapshots, so nothing the pipeline writes changes `git status` (MLflow's git.dirty stays false)."""
    repo = tmp_path / "project"
    (repo / "data").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("/data/*\n")
    subprocess.run([*git, "add", ".gitignore"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "code"], check=True)
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(repo / "data"))
    assert materialize(source_db).success
    assert (repo / "data" / "raw" / ".dvc").is_dir() and (repo / "data" / "raw" / "current.dvc").exists()
    assert not (repo / ".dvc").exists()
    assert git_state(repo).dirty is False
