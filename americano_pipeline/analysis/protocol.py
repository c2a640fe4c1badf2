"""The protocol domain: a protocol's registered design, its phases as observed day by day, and the metric
catalogue a protocol may name as its outcome.

Why plain dataclasses apart from the reader: the methods, the figures and the tests work on these types whatever
produced them (the marts, a test fixture), and the registered design is the input every rule of the analysis
layer starts from. The metric catalogue is the list ``metric_catalogue`` in ``dbt_project/dbt_project.yml``, the
same declaration the marts and the dbt tests read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import pandas as pd

from americano_pipeline import settings
from americano_pipeline.analysis.errors import AnalysisError

DBT_PROJECT_FILE = settings.PROJECT_ROOT / "dbt_project" / "dbt_project.yml"


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
    confirmatory: str  # the registered confirmatory analysis (a method name); every other one is supportive
    alternative: str  # the registered direction: "greater" (B > A), "less" or "two-sided"
    alpha: float  # the confirmatory analysis' registered type I error
    max_consecutive: int | None = None  # ALTERNATING: the registered run limit (None: no limit)
    multiple_baseline_scheme: str | None = None  # MULTIPLE_BASELINE: how the tiers' starts were drawn


@dataclass(frozen=True)
class ObservedPhase:
    """A phase as observed in the daily series: number (1-based), label, type, condition (None = washout)."""

    number: int
    label: str
    phase_type: str
    condition: str | None
    start: pd.Timestamp
    end: pd.Timestamp  # last observed day, inclusive


@dataclass(frozen=True)
class ProtocolData:
    """A protocol and its daily rows (DatetimeIndex ``date``; phase columns, ``criterion`` and every catalogue
    metric); for a multiple baseline also ``tiers``, the rows of ``fct_protocol_tier_daily_outcomes`` (one per tier
    and day; docs/DESIGNS.md), whose primary tier is the one ``days`` follows."""

    protocol: Protocol
    days: pd.DataFrame
    tiers: pd.DataFrame | None = None

    @property
    def phases(self) -> tuple[ObservedPhase, ...]:
        grouped = self.days.reset_index().groupby("phase_number", sort=True)
        return tuple(
            ObservedPhase(
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
