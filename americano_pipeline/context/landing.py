"""The landing file of a day's wearable sync, ``<wearables dir>/days/<YYYY-MM-DD>.parquet``: one row per
``records.WearableDay``, and the same rows as the frame the checks (``checks.wearables``) read.

Why a file between the vendors and the database: the blocking check must see exactly what will be written before
anything is, and ``context/imported_context`` must write exactly what the check saw, in another step (another
process under a multiprocess executor). The file also lets a day be imported again without calling the vendors.

Columns: ``user_id``, ``source``, ``external_id`` (strings), ``local_date`` (date), ``recorded_at`` (UTC timestamp;
the vendor's UTC offset is not kept, only the instant, which is what the ``timestamp`` column stores), and the six
measurements of ``records.BOUNDS`` (float or integer, null when not measured). The frame keeps integers and floats
nullable (pandas ``Int64``/``Float64``), so a missing value stays distinct from a vendor's NaN, which the checks
refuse.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from americano_pipeline import settings
from americano_pipeline.context.records import BOUNDS, WearableDay

# A measurement with float bounds (hours, strain) is a float, one with integer bounds (score, ms, bpm, steps) an
# integer.
MEASUREMENT_TYPES = {name: pa.float64() if isinstance(low, float) else pa.int64() for name, (low, _) in BOUNDS.items()}
SCHEMA = pa.schema([("user_id", pa.string()), ("source", pa.string()), ("external_id", pa.string()),
                    ("local_date", pa.date32()), ("recorded_at", pa.timestamp("us", tz="UTC")),
                    *MEASUREMENT_TYPES.items()])
COLUMNS = tuple(SCHEMA.names)
FRAME_TYPES = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}  # the frame's nullable numbers


def day_path(day: date) -> Path:
    """The landing file of ``day`` (a partition of ``context/wearable_days``)."""
    return settings.wearables_dir() / "days" / f"{day.isoformat()}.parquet"


def to_table(days: Iterable[WearableDay]) -> pa.Table:
    """``days`` as an Arrow table of ``SCHEMA`` (WearableDay's fields are its columns).

    ``recorded_at`` is handed to Arrow in UTC: importing pandera sets PYARROW_IGNORE_TIMEZONE=1 (for pyspark, whether
    or not it is installed), under which Arrow reads an aware datetime's wall clock as UTC and drops its offset, so
    07:30+01:00 would land as 07:30Z in any process that has imported the checks."""
    rows = [{**asdict(day), "recorded_at": day.recorded_at.astimezone(timezone.utc)} for day in days]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as the checks read it: nullable integers and floats, dates as ``datetime.date``."""
    return table.to_pandas(types_mapper=FRAME_TYPES.get)


def frame_of(days: Iterable[WearableDay]) -> pd.DataFrame:
    """``days`` as the frame a landing file reads back as, for checking days that are not landed (an export)."""
    return to_frame(to_table(days))


def days_of(table: pa.Table) -> list[WearableDay]:
    """The table's rows as ``WearableDay`` values (its constructor refuses an unknown source or an empty id)."""
    return [WearableDay(**row) for row in table.to_pylist()]


def write_days(days: Iterable[WearableDay], path: Path) -> Path:
    """Replace ``path`` with ``days`` atomically (a temporary file beside it, then os.replace): a reader, or a
    failed run, sees the previous file or the new one, never part of one."""
    table = to_table(days)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        pq.write_table(table, staged, compression="zstd")
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    return path


def read_table(path: Path) -> pa.Table:
    """A landing file; ``FileNotFoundError`` naming the asset that writes it when the day was never landed."""
    if not path.is_file():
        raise FileNotFoundError(f"no landing file {path}: materialize context/wearable_days for {path.stem} first")
    return pq.read_table(path, schema=SCHEMA)
