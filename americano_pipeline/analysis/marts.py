"""The one reader of the DuckDB marts for the whole project (analyses, the demo's summaries): read-only.

Why read-only and from the marts only: DuckDB allows a single writer (the dbt build), so every reader opens the
file ``read_only`` and never blocks it; and the analyses must see exactly the cut the warehouse was built from
(``dim_protocols`` for the pre-registered design, ``fct_protocol_daily_outcomes`` for the daily series and
``fct_protocol_tier_daily_outcomes`` for a multiple baseline's tiers,
``fct_daily_context`` for covariates, ``warehouse_builds`` for the data version of that cut), not a newer state
of the source database or a newer snapshot.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from americano_pipeline import settings
from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.protocol import Protocol, ProtocolData

READER = "warehouse"

_PHASES_SQL = """
    select
        outcomes.protocol_id,
        protocols.start_date,
        protocols.design_type,
        protocols.primary_outcome,
        outcomes.phase_number,
        coalesce(outcomes.phase_label, 'no phase') as phase_label,
        coalesce(outcomes.condition, case when outcomes.is_washout then 'washout' else '-' end) as condition,
        count(*) as days,
        avg(outcomes.primary_outcome_value) as outcome_mean
    from fct_protocol_daily_outcomes as outcomes
    inner join dim_protocols as protocols
        on protocols.protocol_id = outcomes.protocol_id
    group by all
    order by protocols.start_date, outcomes.protocol_id, outcomes.phase_number nulls last
"""


class MartsReader:
    """A read-only connection to the warehouse file, open for one use (an asset execution and all its partitions,
    one summary)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or settings.duckdb_path())

    def __enter__(self) -> MartsReader:
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
            confirmatory=str(row["confirmatory_analysis"]),
            alternative=str(row["registered_alternative"]),
            alpha=float(row["plan_alpha"]),
            max_consecutive=None if pd.isna(row["max_consecutive"]) else int(row["max_consecutive"]),
            multiple_baseline_scheme=None if pd.isna(row["multiple_baseline_scheme"])
            else str(row["multiple_baseline_scheme"]),
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
        tiers = None
        if protocol.design_type == "MULTIPLE_BASELINE":
            tiers = self._frame("select * from fct_protocol_tier_daily_outcomes where protocol_id = ? "
                                "order by tier_number, date", [protocol_id])
            tiers["date"] = pd.to_datetime(tiers["date"])
        return ProtocolData(protocol, days.set_index("date"), tiers)

    def owns(self, user_id: str, protocol_id: str) -> bool:
        """Whether ``protocol_id`` is one of ``user_id``'s protocols (the research API answers only its owner)."""
        return not self._frame("select 1 from dim_protocols where protocol_id = ? and user_id = ?",
                               [protocol_id, user_id]).empty

    def daily_metric(self, user_id: str, metric: str, start, end) -> pd.Series:
        """The user's daily ``metric`` (a catalogue column of ``fct_daily_user_metrics``, checked by the caller)
        from ``start`` to ``end``, indexed by date; days without a measurement are NaN."""
        frame = self._frame(f'select date, "{metric}" as value from fct_daily_user_metrics '
                            "where user_id = ? and date between ? and ? order by date", [user_id, start, end])
        return pd.Series(frame["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(frame["date"]), name=metric)

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

    def release(self):
        """What the marts hold (``lineage.warehouse_release.release``): the data version of their last build, or
        ``WarehouseNotReleased`` when that build failed its blocking checks."""
        from americano_pipeline.lineage.warehouse_release import release

        return release(self._conn, self.path)

    def phase_summary(self) -> list[tuple]:
        """Per protocol (in start order) and phase: protocol id, start date, design, primary outcome, phase number,
        label, condition (``washout`` or ``-`` outside A/B), days, mean of the primary outcome."""
        return self._conn.execute(_PHASES_SQL).fetchall()

    def user_spans(self) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
        """Every user of ``fct_daily_user_metrics`` with the first and last day of their spine, by user id."""
        rows = self._conn.execute("select user_id, min(date), max(date) from fct_daily_user_metrics "
                                  "group by user_id order by user_id").fetchall()
        return [(str(user), pd.Timestamp(first), pd.Timestamp(last)) for user, first, last in rows]

    def intervention_days(self, user_id: str) -> pd.DataFrame:
        """The user's protocol phases as per-day terms, one column per protocol (per tier for a multiple
        baseline: ``<protocol>:<tier>``), 1 on its intervention (condition B) days, and ``<protocol>:criterion``,
        the criterion of a changing-criterion phase; indexed by date, only the days where a term is not 0 (the
        caller fills 0 elsewhere). Why: a phase's level shift in an outcome (and in a context variable it moves)
        is a nuisance the context-outcome relations must not read as a relation."""
        frame = self._frame("""
            select outcomes.protocol_id || ':B' as term, outcomes.date, 1.0 as value
            from fct_protocol_daily_outcomes as outcomes
            inner join dim_protocols as protocols on protocols.protocol_id = outcomes.protocol_id
            where outcomes.user_id = ? and outcomes.condition = 'B' and protocols.design_type <> 'MULTIPLE_BASELINE'
            union all
            select protocol_id || ':' || tier, date, 1.0
            from fct_protocol_tier_daily_outcomes
            where user_id = ? and condition = 'B'
            union all
            select protocol_id || ':criterion', date, criterion
            from fct_protocol_daily_outcomes
            where user_id = ? and criterion is not null
        """, [user_id, user_id, user_id])
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.pivot_table(index="date", columns="term", values="value", aggfunc="first").sort_index(axis=1)
