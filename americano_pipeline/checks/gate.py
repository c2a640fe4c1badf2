"""The quarantine/promote gate: what a freshly extracted cut must pass before it becomes the current one.

Policy (as the original validator's strict/non-strict modes):
- Every table is validated lazily (``reports.validate_cut``); the rows that fail are written to
  ``<quarantine>/<table>/<snapshot_id>.parquet`` with their violations, whatever the mode.
- Strict (default): any failing row rejects the cut. Nothing is promoted, the previous good cut stays current,
  and the blocking checks stop everything downstream.
- Non-strict: the failing rows are dropped from the extract and the cut is validated again, because dropping a
  row can orphan rows that referenced it; up to ``MAX_NON_STRICT_PASSES`` rounds, then the clean remainder is
  promoted and the checks warn.
The gate decides and moves files; versioning the promoted cut (DVC) and reporting it (Dagster, MLflow) are the
caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from americano_pipeline.checks.reports import TableReport, read_frame, validate_cut, without_rows, write_quarantine
from americano_pipeline.lineage.snapshot_store import promote
from americano_pipeline.source.extract import SnapshotFile

MAX_NON_STRICT_PASSES = 5


@dataclass(frozen=True)
class GateOutcome:
    reports: dict[str, TableReport]  # the first validation of the extract: what the checks report
    cut: dict[str, pd.DataFrame]  # the tables as promoted (non-strict: without the dropped rows) or as rejected
    quarantined: dict[str, Path]  # table -> its quarantine file, for tables with failing rows
    promoted: bool


def gate_cut(files: dict[str, SnapshotFile], snapshot_id: str, *, strict: bool, quarantine_dir: Path,
             current_dir: Path) -> GateOutcome:
    """Validate the extract ``files``, quarantine failing rows, and promote the cut to ``current_dir`` if the
    policy (module doc) allows."""
    cut = {table: read_frame(f.path) for table, f in files.items()}
    first = reports = validate_cut(cut)
    quarantined = {
        table: write_quarantine(files[table].path, report, quarantine_dir / table / f"{snapshot_id}.parquet")
        for table, report in reports.items() if not report.passed
    }
    if not strict:
        for _ in range(MAX_NON_STRICT_PASSES):
            if all(r.passed for r in reports.values()):
                break
            for table, report in reports.items():
                if not report.passed:
                    without_rows(files[table].path, report.failing_rows, files[table].path)
            cut = {table: read_frame(f.path) for table, f in files.items()}
            reports = validate_cut(cut)
    promoted = all(r.passed for r in reports.values())
    if promoted:
        promote(files, current_dir)
    return GateOutcome(first, cut, quarantined, promoted)
