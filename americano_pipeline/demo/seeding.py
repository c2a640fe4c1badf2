"""Create the source schema and load the synthetic study data with COPY.

Why COPY in CSV chunks: row inserts top out near 10^4 rows/s; COPY of pyarrow-written CSV streams one user's
events at a time (bounded memory) at the server's bulk-load speed, which is what a 10-million-event benchmark
database needs.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.types.json import Jsonb

from americano_pipeline import settings
from americano_pipeline.demo.synthetic import SeedConfig, ground_truth, simulate_user
from americano_pipeline.source.schema import TABLES, ensure_schema, row_counts, schema_sql, tables


class NotEmpty(RuntimeError):
    """Seeding would duplicate data already in the database."""


def _copy_rows(cur: psycopg.Cursor, table: str, rows: list[dict]) -> None:
    columns = tables()[table].column_names
    jsonb = {c.name for c in tables()[table].columns if c.sql_type == "JSONB"}
    jsonb_array = {c.name for c in tables()[table].columns if c.sql_type == "JSONB[]"}
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([Jsonb(row[c]) if c in jsonb else [Jsonb(v) for v in row[c]] if c in jsonb_array
                            else row[c] for c in columns])


def _copy_arrow(cur: psycopg.Cursor, table: str, data: pa.Table) -> None:
    columns = tables()[table].column_names
    buffer = io.BytesIO()
    pacsv.write_csv(data.select(columns), buffer,
                    pacsv.WriteOptions(include_header=False, quoting_style="needed", batch_size=65536))
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN (FORMAT csv)') as copy:
        copy.write(buffer.getbuffer())


@contextmanager
def _indexes_deferred(cur: psycopg.Cursor, table: str):
    """Drop ``table``'s secondary indexes and foreign keys for a bulk load into it, then rebuild them.

    Building an index once over loaded rows is several times cheaper than maintaining it row by row, and the
    foreign keys are re-validated when they are added back, so integrity is checked all the same (as pg_restore
    does). The definitions come from source/schema.sql; everything runs inside the caller's transaction.
    """
    ddl = schema_sql()
    indexes = re.findall(rf'(CREATE INDEX "(\w+)" ON "{table}"\(.*?\);)', ddl)
    body = re.search(rf'CREATE TABLE "{table}" \((.*?)\n\);', ddl, re.S).group(1)
    foreign_keys = re.findall(r'CONSTRAINT "(\w+_fkey)" (FOREIGN KEY .*?)(?:,\n|$)', body, re.S)
    for _, name in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    for name, _ in foreign_keys:
        cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    yield
    for statement, _ in indexes:
        cur.execute(statement)
    for name, definition in foreign_keys:
        cur.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {" ".join(definition.split())}')


@dataclass(frozen=True)
class SeedReport:
    counts: dict[str, int]
    seconds: float
    ground_truth_path: Path

    @property
    def events_per_second(self) -> float:
        return self.counts["behavioral_events"] / self.seconds if self.seconds else 0.0


def seed(conn: psycopg.Connection, config: SeedConfig, *, reset: bool = False,
         ground_truth_path: Path | None = None) -> SeedReport:
    """Fill the five tables with ``config``'s synthetic study, in one transaction (all or nothing)."""
    ensure_schema(conn)
    existing = row_counts(conn)
    if any(existing.values()) and not reset:
        filled = ", ".join(f"{t}={n}" for t, n in existing.items() if n)
        raise NotEmpty(f"the database already holds study data ({filled}); "
                       "pass --reset to replace it (no silent duplication)")
    started = time.perf_counter()
    designs = []
    with conn.transaction(), conn.cursor() as cur:
        if reset:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in TABLES))
        with _indexes_deferred(cur, "behavioral_events"):
            for index in range(config.users):
                user = simulate_user(config, index)
                _copy_rows(cur, "experiment_protocols", user.protocols)
                _copy_rows(cur, "phase_assignments", user.phases)
                _copy_arrow(cur, "context_metadata", user.context)
                _copy_arrow(cur, "behavioral_events", user.events)
                designs.append((user.user_id, user.schedules, user.protocols))
    seconds = time.perf_counter() - started
    conn.execute("ANALYZE")
    path = ground_truth_path or settings.ground_truth_path()
    write_json_atomic(path, ground_truth(config, designs))
    return SeedReport(row_counts(conn), seconds, path)


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Have ``write`` write a temporary sibling, then rename it into place, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as indented JSON, atomically (``write_atomic``)."""
    write_atomic(path, lambda temporary: temporary.write_text(json.dumps(payload, indent=2) + "\n"))
