"""One protocol's registered design and daily outcomes, read from the DuckDB warehouse (read-only).

Why read-only and from the marts only: DuckDB allows a single writer (the dbt build), so every reader opens the
file ``read_only`` and never blocks it; and the analyses must see exactly the cut the warehouse was built from
(``dim_protocols`` for the pre-registered design, ``fct_protocol_daily_outcomes`` for the daily series,
``fct_daily_context`` for covariates), not a newer state of the source database.

The metric catalogue (the metrics a protocol may name as its ``primaryOutcome``) is the list ``metric_catalogue``
in ``dbt_project/dbt_project.yml``, the same declaration the marts and the dbt tests read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from americano_pipeline import settings
from americano_pipeline.analysis.errors import AnalysisError

DBT_PROJECT_FILE = settings.PROJECT_ROOT / "dbt_project" / "dbt_project.yml"
READER = "warehouse"


@functools.cache
def metric_catalogue() -> tuple[str, ...]:
    """The daily metrics a protocol may register as its primary outcome (dbt var ``metric_catalogue``)."""
    import yaml

    return tuple(yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]["metric_catalogue"])


@dataclass(frozen=True)
class Protocol:
    """The pre-registered design of a protocol, as ``dim_protocols`` holds it."""

    protocol_id: str
    user_id: str
    name: str
    design_type: str
    primary_outcome: str
    hypothesis: str
    min_phase_length: int
    sample_size_target: int
    start_date: date
    end_date: date | None
    phase_sequence: str


@dataclass(frozen=True)
class Phase:
    """A phase as observed in the daily series: number (1-based), label, type, condition (None = washout)."""

    number: int
    label: str
    phase_type: str
    condition: str | None
    start: pd.Timestamp
    end: pd.Timestamp  # last observed day, inclusive


@dataclass(frozen=True)
class ProtocolData:
    """A protocol and its daily rows (DatetimeIndex ``date``; phase columns and every catalogue metric)."""

    protocol: Protocol
    days: pd.DataFrame

    @property
    def phases(self) -> tuple[Phase, ...]:
        grouped = self.days.reset_index().groupby("phase_number", sort=True)
        return tuple(
            Phase(
                number=int(number),
                label=str(rows["phase_label"].iloc[0]),
                phase_type=str(rows["phase_type"].iloc[0]),
                condition=None if pd.isna(rows["condition"].iloc[0]) else str(rows["condition"].iloc[0]),
                start=rows["date"].min(),
                end=rows["date"].max(),
            )
            for number, rows in grouped
        )


def checked_metric(protocol: Protocol, method: str, metric: str) -> str:
    """``metric`` if it is a catalogue metric, else an ``AnalysisError`` listing the catalogue."""
    catalogue = metric_catalogue()
    if metric not in catalogue:
        raise AnalysisError(
            protocol.protocol_id, method,
            f"metric {metric!r} is not in the metric catalogue ({', '.join(catalogue)}); a protocol's "
            "primaryOutcome and an exploratory metric must name one of them (dbt var metric_catalogue)",
        )
    return metric


class WarehouseReader:
    """A read-only connection to the warehouse file, open for one asset execution (all its partitions)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or settings.duckdb_path())

    def __enter__(self) -> WarehouseReader:
        import duckdb

        if not self.path.exists():
            raise FileNotFoundError(
                f"the warehouse {self.path} does not exist; materialize the dbt assets (group warehouse) first"
            )
        self._conn = duckdb.connect(str(self.path), read_only=True)
        return self

    def __exit__(self, *exc) -> None:
        self._conn.close()

    def _frame(self, sql: str, params: list) -> pd.DataFrame:
        return self._conn.execute(sql, params).df()

    def protocol(self, protocol_id: str) -> ProtocolData:
        """The protocol's design and its daily series; ``AnalysisError`` if the warehouse does not hold it."""
        rows = self._frame("select * from dim_protocols where protocol_id = ?", [protocol_id])
        if rows.empty:
            raise AnalysisError(
                protocol_id, READER,
                f"not in dim_protocols of {self.path}; the warehouse was built before the protocol was registered: "
                "materialize the snapshot and the dbt assets again",
            )
        row = rows.iloc[0]
        protocol = Protocol(
            protocol_id=protocol_id,
            user_id=str(row["user_id"]),
            name=str(row["protocol_name"]),
            design_type=str(row["design_type"]),
            primary_outcome=str(row["primary_outcome"]),
            hypothesis=str(row["hypothesis"]),
            min_phase_length=int(row["min_phase_length"]),
            sample_size_target=int(row["sample_size_target"]),
            start_date=pd.Timestamp(row["start_date"]).date(),
            end_date=None if pd.isna(row["end_date"]) else pd.Timestamp(row["end_date"]).date(),
            phase_sequence=str(row["phase_sequence"] or ""),
        )
        days = self._frame(
            "select * from fct_protocol_daily_outcomes where protocol_id = ? order by date", [protocol_id]
        )
        if days.empty:
            raise AnalysisError(
                protocol_id, READER,
                f"fct_protocol_daily_outcomes has no days for it (protocol starts {protocol.start_date}); "
                "nothing to analyse until its first day is in a snapshot",
            )
        days["date"] = pd.to_datetime(days["date"])
        return ProtocolData(protocol, days.set_index("date"))

    def daily_context(self, user_id: str, start: pd.Timestamp, end: pd.Timestamp, columns) -> pd.DataFrame:
        """``columns`` of ``fct_daily_context`` for the user's days ``start``..``end`` (NaN where not recorded)."""
        frame = self._frame(
            "select * from fct_daily_context where user_id = ? and date between ? and ? order by date",
            [user_id, start.date(), end.date()],
        )
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            known = [c for c in frame.columns if c not in ("user_id", "date")]
            raise ValueError(f"fct_daily_context has no column {unknown[0]!r}; its columns are {', '.join(known)}")
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.set_index("date")[list(columns)].astype(float)
