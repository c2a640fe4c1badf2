"""Consistent PostgreSQL -> Parquet snapshots, streamed, typed exactly, written atomically.

Why this design:
- One READ ONLY, REPEATABLE READ transaction reads every table, so the five files are one consistent cut: a
  row committed while the extract runs is in none of them, and no event can point at a phase or context row
  that the cut lacks.
- Rows stream through PostgreSQL's binary COPY, decoded to Arrow record batches in C++ by the ADBC PostgreSQL
  driver, into a Parquet (zstd) writer, batch by batch: memory stays bounded by the batch size, never the table
  size. The psycopg connection owns the transaction and exports its snapshot (``pg_export_snapshot``); the ADBC
  connection imports it, so both read the same cut. (Text COPY parsed in Python reached 0.45x psql's COPY on 2
  cores; binary COPY decoded in C++ reaches psql's speed.)
- Types are exact: timestamptz becomes ``timestamp[ms, UTC]``; jsonb (and jsonb[]) becomes JSON text; enums
  become dictionary strings whose dictionary is the enum's declared values; nullable integers stay nullable
  int32; text[] becomes list<string>. Values are never dropped or coerced: an unknown enum label or a NULL in a
  NOT NULL column is written as it is, for the checks to report.
- Files are written under temporary names and renamed only when all five are complete, so an interrupted run
  leaves nothing half-written and the previous snapshot untouched. A database error (the server stopped, the
  connection dropped) becomes one ``ExtractFailed`` line naming the table being read and the server's message.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import sql
from psycopg.conninfo import make_conninfo

from americano_pipeline.source.schema import TABLES, Column, enums, tables
from americano_pipeline.source.window import ExtractWindow

ROW_GROUP_ROWS = 131_072
_SCALAR_TYPES = {"TEXT": pa.string(), "INTEGER": pa.int32(), "DOUBLE PRECISION": pa.float64(), "DATE": pa.date32(),
                 "JSONB": pa.string(), "JSONB[]": pa.string()}
_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_LOW_CARDINALITY = {"userId", "protocolId", "contentType", "difficultyLevel", "experimentPhase", "phaseLabel"}
_DATABASE_ERRORS = (psycopg.Error, adbc.Error)
_SEVERITY = re.compile(r"\b(?:ERROR|FATAL|PANIC):\s+")


class ExtractFailed(RuntimeError):
    """The database failed during the extract; no file of this snapshot was kept."""


def _failed(step: str, exc: Exception) -> ExtractFailed:
    """One line: what the extract was doing and the server's message, without ADBC's status prefix, libpq's hints
    or the query that ADBC appends."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None)
    first_line = primary or (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return ExtractFailed(f"extract from PostgreSQL failed while {step}: {_SEVERITY.split(first_line)[-1].strip()}")


def arrow_type(column: Column) -> pa.DataType:
    """The Parquet type of a source column (see the module docstring for the mapping)."""
    if column.is_enum:
        return pa.dictionary(pa.int32(), pa.string())
    if column.sql_type.startswith("TIMESTAMPTZ"):
        return _TIMESTAMP
    if column.sql_type == "TEXT[]":
        return pa.list_(pa.string())
    return _SCALAR_TYPES[column.sql_type]


def arrow_schema(table: str) -> pa.Schema:
    """Every field nullable: a NOT NULL violation must reach the Pandera check that names it, not abort the write."""
    return pa.schema([pa.field(c.name, arrow_type(c)) for c in tables()[table].columns])


def _select_expression(column: Column) -> str:
    quoted = f'"{column.name}"'
    if column.sql_type in ("JSONB[]", "TEXT[]"):
        return f"to_jsonb({quoted})::text"
    return quoted  # enums arrive as strings, jsonb as JSON text in an arrow.json extension array


def _typed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field, array in zip(schema, batch.columns):
        column = tables()[schema.metadata[b"table"].decode()].column(field.name)
        if column.is_enum:
            declared = list(enums()[column.sql_type])
            unknown = sorted(set(pc.unique(array.drop_null()).to_pylist()) - set(declared))
            values = pa.array(declared + unknown)  # unknown labels are kept for the checks to report
            array = pa.DictionaryArray.from_arrays(pc.index_in(array, value_set=values), values)
        elif column.sql_type.startswith("TIMESTAMPTZ"):
            array = array.cast(_TIMESTAMP)
        elif column.sql_type == "TEXT[]":
            array = pa.array([None if v is None else json.loads(v) for v in array.to_pylist()], pa.list_(pa.string()))
        elif isinstance(array.type, pa.ExtensionType):
            array = array.storage
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class SnapshotFile:
    table: str
    path: Path
    rows: int
    bytes: int
    columns: list[str]


def _write_table(cur, table: str, window: ExtractWindow, target: Path) -> int:
    """Stream ``table`` (within ``window``) from the ADBC cursor ``cur`` into the Parquet file ``target``."""
    columns = tables()[table].columns
    schema = arrow_schema(table).with_metadata({"table": table})
    select = ", ".join(_select_expression(c) for c in columns)
    dictionary_columns = [c.name for c in columns if c.is_enum or c.name in _LOW_CARDINALITY]
    batches: queue.Queue = queue.Queue(maxsize=4)
    failures: list[BaseException] = []
    with pq.ParquetWriter(target, schema, compression="zstd", use_dictionary=dictionary_columns) as writer:
        # The driver decodes on this thread while a second one types, compresses and writes (both release the GIL).
        consumer = threading.Thread(target=_drain, args=(batches, writer, schema, failures))
        consumer.start()
        try:
            cur.execute(f'SELECT {select} FROM "{table}"{window.where(table)}')
            for batch in cur.fetch_record_batch():
                if failures:
                    break
                batches.put(batch)
        finally:
            batches.put(None)
            consumer.join()
        if failures:
            raise failures[0]
    return pq.ParquetFile(target).metadata.num_rows


def _drain(batches: queue.Queue, writer: pq.ParquetWriter, schema: pa.Schema, failures: list) -> None:
    """Type the decoded batches and write them in row groups of about ROW_GROUP_ROWS rows.

    A write that fails (a full disk) is kept in ``failures`` for the reading thread to raise, and the queue is
    still drained to its end marker, so the reader never blocks on a full queue and the extract fails instead of
    hanging."""
    pending, pending_rows = [], 0
    while (batch := batches.get()) is not None:
        if failures:
            continue
        try:
            pending.append(_typed(batch, schema))
            pending_rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema))
                pending, pending_rows = [], 0
        except BaseException as exc:
            failures.append(exc)
    if pending and not failures:
        writer.write_table(pa.Table.from_batches(pending, schema))


def _conninfo(conn: psycopg.Connection) -> str:
    """libpq keyword/value connection string of ``conn``'s server and login (password included)."""
    info = conn.info
    return make_conninfo("", host=info.host, port=info.port, dbname=info.dbname, user=info.user,
                         password=info.password)


@contextmanager
def _snapshot_reader(conn: psycopg.Connection, snapshot: str):
    """An ADBC cursor in a READ ONLY, REPEATABLE READ transaction on ``snapshot``, as ``conn``'s role."""
    role = conn.execute("SELECT current_user").fetchone()[0]
    with adbc.connect(_conninfo(conn), autocommit=True) as reader, reader.cursor() as cur:
        cur.execute(f"SET ROLE {sql.Identifier(role).as_string()}")
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(f"SET TRANSACTION SNAPSHOT {sql.Literal(snapshot).as_string()}")
        # Rows come in physical order; never let a concurrent scan make ours start mid-table.
        cur.execute("SET LOCAL synchronize_seqscans = off")
        yield cur
        cur.execute("COMMIT")


def _read_table(cur, table: str, window: ExtractWindow, target: Path) -> int:
    """``_write_table``, its database errors named by the table being read."""
    try:
        return _write_table(cur, table, window, target)
    except _DATABASE_ERRORS as exc:
        raise _failed(f"reading table {table}", exc) from exc


def _read_cut(conn: psycopg.Connection, out_dir: Path, snapshot_id: str, window: ExtractWindow,
              temporaries: dict[str, Path]) -> dict[str, int]:
    """Every table of one consistent cut into its temporary file (recorded in ``temporaries``); rows per table."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            with _snapshot_reader(conn, snapshot) as cur:
                counts = {}
                for table in TABLES:
                    directory = out_dir / table
                    directory.mkdir(parents=True, exist_ok=True)
                    for stale in directory.glob(".*.parquet.tmp"):  # left by a killed run (runs are serialized)
                        stale.unlink()
                    temporaries[table] = directory / f".{snapshot_id}.parquet.tmp"
                    counts[table] = _read_table(cur, table, window, temporaries[table])
    except _DATABASE_ERRORS as exc:  # outside a table's read: opening or committing the transaction
        raise _failed("opening or closing the consistent cut", exc) from exc
    return counts


def extract(conn: psycopg.Connection, out_dir: Path, snapshot_id: str,
            window: ExtractWindow = ExtractWindow()) -> dict[str, SnapshotFile]:
    """Write ``out_dir/<table>/<snapshot_id>.parquet`` for every table from one consistent cut.

    Raises ExtractFailed when the database fails on the way; nothing of this snapshot is left behind then.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("extract needs a connection outside any transaction: it opens its own consistent cut")
    temporaries: dict[str, Path] = {}
    try:
        counts = _read_cut(conn, out_dir, snapshot_id, window, temporaries)
        files = {}
        for table, temporary in temporaries.items():
            final = temporary.with_name(f"{snapshot_id}.parquet")
            os.replace(temporary, final)
            files[table] = SnapshotFile(table, final, counts[table], final.stat().st_size, arrow_schema(table).names)
        return files
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
