"""The snapshot store: immutable extracts under ``raw/<table>/<snapshot_id>.parquet`` and the current cut in
``raw/current/<table>.parquet``, which is what the warehouse reads and DVC versions.

Why promotion is a directory swap: readers (dbt, ``restore``, a reviewer) must see either the previous cut or the
new one, never a mix of tables from two cuts, and a failed or rejected extract must leave the previous good cut
current.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from americano_pipeline.source.extract import SnapshotFile


def new_snapshot_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


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
