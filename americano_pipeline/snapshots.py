"""Consistent PostgreSQL -> Parquet snapshots, streamed, typed exactly, written atomically.

Why this design:
- One READ ONLY, REPEATABLE READ transaction reads every table, so the five files are one consistent cut: a
  row committed while the extract runs is in none of them, and no event can point at a phase or context row
  that the cut lacks.
- Rows stream from ``COPY (SELECT ...) TO STDOUT`` through pyarrow's multithreaded CSV reader into a Parquet
  (zstd) writer, batch by batch: memory stays bounded by the batch size, never the table size.
- Types are exact: timestamptz travels as epoch milliseconds and becomes ``timestamp[ms, UTC]``; jsonb (and
  jsonb[]) becomes JSON text; enums become dictionary strings whose dictionary is the enum's declared values;
  nullable integers stay nullable int32; text[] becomes list<string>. Values are never dropped or coerced:
  an unknown enum label or a NULL in a NOT NULL column is written as it is, for the checks to report.
- Files are written under temporary names and renamed only when all five are complete, so an interrupted run
  leaves nothing half-written and the previous snapshot untouched.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from americano_pipeline.source_schema import TABLES, Column, enums, tables

BLOCK_BYTES = 1 << 20  # small parse blocks keep the parser in step with the server's stream
ROW_GROUP_ROWS = 131_072
_SCALAR_TYPES = {"TEXT": pa.string(), "INTEGER": pa.int32(), "DOUBLE PRECISION": pa.float64(),
                 "JSONB": pa.string(), "JSONB[]": pa.string()}
_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_LOW_CARDINALITY = {"userId", "protocolId", "contentType", "difficultyLevel", "experimentPhase", "phaseLabel"}


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
    if column.sql_type.startswith("TIMESTAMPTZ"):
        return f"(extract(epoch FROM {quoted}) * 1000)::bigint"
    if column.sql_type in ("JSONB[]", "TEXT[]"):
        return f"to_jsonb({quoted})::text"
    if column.sql_type == "JSONB" or column.is_enum:
        return f"{quoted}::text"
    return quoted


def _csv_type(column: Column) -> pa.DataType:
    if column.sql_type.startswith("TIMESTAMPTZ"):
        return pa.int64()
    if column.is_enum or column.sql_type in ("JSONB", "JSONB[]", "TEXT[]", "TEXT"):
        return pa.string()
    return _SCALAR_TYPES[column.sql_type]


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
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _CopyReader(io.RawIOBase):
    """A file-like view of a COPY TO STDOUT stream, so pyarrow can parse it while it arrives."""

    def __init__(self, copy: psycopg.Copy):
        self._chunks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@dataclass(frozen=True)
class ExtractWindow:
    """Run config of the original export script: the last ``days`` days of events (0 = all), one user or all."""

    days: int = 90
    user_id: str | None = None

    def __post_init__(self):
        if self.days < 0:
            raise ValueError(f"days must be >= 0 (0 = all history), got {self.days}")

    def where(self, table: str) -> tuple[str, list]:
        clauses, params = [], []
        if self.days and table == "behavioral_events":
            clauses.append("\"timestamp\" >= now() - make_interval(days => %s)")
            params.append(self.days)
        if self.user_id:
            if table in ("behavioral_events", "experiment_protocols", "context_metadata"):
                clauses.append('"userId" = %s')
            else:
                clauses.append('"protocolId" IN (SELECT id FROM experiment_protocols WHERE "userId" = %s)')
            params.append(self.user_id)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass(frozen=True)
class SnapshotFile:
    table: str
    path: Path
    rows: int
    bytes: int
    md5: str  # DVC's file hash: md5 of the file's bytes
    columns: list[str]


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_snapshot_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _write_table(cur: psycopg.Cursor, table: str, window: ExtractWindow, target: Path) -> int:
    columns = tables()[table].columns
    schema = arrow_schema(table).with_metadata({"table": table})
    where, params = window.where(table)
    select = ", ".join(_select_expression(c) for c in columns)
    query = f'COPY (SELECT {select} FROM "{table}"{where}) TO STDOUT (FORMAT csv)'
    read_options = pacsv.ReadOptions(column_names=[c.name for c in columns], block_size=BLOCK_BYTES)
    convert = pacsv.ConvertOptions(column_types={c.name: _csv_type(c) for c in columns},
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    dictionary_columns = [c.name for c in columns if c.is_enum or c.name in _LOW_CARDINALITY]
    batches: queue.Queue = queue.Queue(maxsize=4)
    with pq.ParquetWriter(target, schema, compression="zstd", use_dictionary=dictionary_columns) as writer:
        # Parse on this thread while a second one types, compresses and writes (both release the GIL).
        consumer = threading.Thread(target=_drain, args=(batches, writer, schema))
        consumer.start()
        try:
            with cur.copy(psycopg.sql.SQL(query).format(), params) as copy:
                stream = io.BufferedReader(_CopyReader(copy), BLOCK_BYTES)
                if stream.peek(1):  # an empty table: pyarrow refuses empty CSV, the file keeps its schema
                    for batch in pacsv.open_csv(stream, read_options=read_options, convert_options=convert):
                        batches.put(batch)
        finally:
            batches.put(None)
            consumer.join()
    return pq.ParquetFile(target).metadata.num_rows


def _drain(batches: queue.Queue, writer: pq.ParquetWriter, schema: pa.Schema) -> None:
    """Type parsed batches and write them in row groups of about ROW_GROUP_ROWS rows."""
    pending, pending_rows = [], 0
    while (batch := batches.get()) is not None:
        pending.append(_typed(batch, schema))
        pending_rows += batch.num_rows
        if pending_rows >= ROW_GROUP_ROWS:
            writer.write_table(pa.Table.from_batches(pending, schema))
            pending, pending_rows = [], 0
    if pending:
        writer.write_table(pa.Table.from_batches(pending, schema))


def extract(conn: psycopg.Connection, out_dir: Path, snapshot_id: str,
            window: ExtractWindow = ExtractWindow()) -> dict[str, SnapshotFile]:
    """Write ``out_dir/<table>/<snapshot_id>.parquet`` for every table from one consistent cut."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("extract needs a connection outside any transaction: it opens its own consistent cut")
    temporaries: dict[str, Path] = {}
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # Rows come in physical order; never let a concurrent scan make ours start mid-table.
            conn.execute("SET LOCAL synchronize_seqscans = off")
            with conn.cursor() as cur:
                counts = {}
                for table in TABLES:
                    directory = out_dir / table
                    directory.mkdir(parents=True, exist_ok=True)
                    for stale in directory.glob(".*.parquet.tmp"):  # left by a killed run (runs are serialized)
                        stale.unlink()
                    temporaries[table] = directory / f".{snapshot_id}.parquet.tmp"
                    counts[table] = _write_table(cur, table, window, temporaries[table])
        files = {}
        for table, temporary in temporaries.items():
            final = temporary.with_name(f"{snapshot_id}.parquet")
            os.replace(temporary, final)
            files[table] = SnapshotFile(table, final, counts[table], final.stat().st_size, file_md5(final),
                                        arrow_schema(table).names)
        return files
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)


def promote(files: dict[str, SnapshotFile], current_dir: Path) -> dict[str, Path]:
    """Make a validated cut the current one: ``current_dir/<table>.parquet`` for every table.

    The new directory is assembled beside the old one (hard links, no copies) and swapped in with two renames,
    so readers see either the previous cut or the new one, never a mix; the previous good cut stays current
    until this point.
    """
    staging = current_dir.with_name(f".{current_dir.name}.staging")
    retired = current_dir.with_name(f".{current_dir.name}.retired")
    for leftover in (staging, retired):
        _remove_tree(leftover)
    staging.mkdir(parents=True)
    for table, snapshot in files.items():
        os.link(snapshot.path, staging / f"{table}.parquet")
    if current_dir.exists():
        os.rename(current_dir, retired)
    os.rename(staging, current_dir)
    _remove_tree(retired)
    return {table: current_dir / f"{table}.parquet" for table in files}


def _remove_tree(path: Path) -> None:
    if path.exists():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
