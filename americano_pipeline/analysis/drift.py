"""Drift of a snapshot cut: the latest window of behavioral events and context against the window before it, with
Evidently, saved as HTML and JSON beside a summary (``result.json``) under ``<data dir>/monitoring/drift/<snapshot>/``.

What is compared (``DATASETS``):
- ``events``: one row per behavioral event, the columns that describe what the user did and how: ``eventType``,
  ``completionQuality``, ``engagementLevel``, ``difficultyLevel``, ``contentType`` (categorical), the hour
  ``timeOfDay``, ``sessionPerformanceScore`` and the ``durationMinutes`` and ``engagementScore`` of ``eventData``
  (numerical). Left out: ids, ``experimentPhase`` and ``randomizationSeed`` (they change by design at every phase
  change) and ``dayOfWeek`` (whole-week windows hold every weekday equally often).
- ``context``: one row per ``context_metadata`` row, the measurements (``sleepHours``, ``sleepQuality``,
  ``hrvScore``, ``restingHeartRate``, ``activityStrain``, ``steps``, the self-reported ``energyLevel``) and
  ``mood``, ``location`` and ``source``. ``source`` is compared too because the sources measure differently (HRV is
  SDNN from Apple Health, RMSSD from Oura and WHOOP: docs/CONTEXT.md): a measurement that drifts together with
  ``source`` may only say that a wearable was added or dropped.
Rows of every user are pooled: the report watches the data the pipeline receives, not one user's experiment.
pandas and Evidently are imported where they are used, so the Dagster code location can read the defaults here
without loading them.

Windows: the latest ``latest_days`` (default 14) calendar days, ending on the last day with data in that table (so
a pause in the data, which the freshness checks report, does not leave an empty window), against the
``reference_days`` (default 56) just before them. Days are local days in ``AMERICANO_TIMEZONE`` (an imported
context row's own ``localDate``). Why these lengths: both are whole weeks, so weekly rhythms (study days, weekends)
weigh alike in both windows; two weeks is about one phase of the study's designs, so a change within the current
phase shows up within that phase; eight weeks is long enough to hold a stable reference of daily values (the
Kolmogorov-Smirnov test finds a 1.5 sd shift of a daily measurement at 14 against 56 days in 98% of simulated
series, 93% under AR(1) noise with phi 0.5) and short enough not to compare against another season of the
user's life. Each window needs ``min_days`` (default 7) days with data, else
the dataset's result is "not enough data" with the counts, and no Evidently report is made for it.

Tests and thresholds are Evidently's defaults (``DataDriftPreset``), chosen per column by its values in the
reference window: up to ``SMALL_SAMPLE`` (1,000), a test, drift at p < 0.05: Kolmogorov-Smirnov for numerical
columns and, for categorical ones, one change: the two-sample chi-square test of homogeneity
(``scipy.stats.chi2_contingency``) instead of Evidently's chi-square, a goodness-of-fit test that takes the reference
proportions as exact. At 14 against 56 days that ignores a fifth of the variance and flagged 10% of same-distribution
columns at 0.05 in a simulation (3 categories, 300 draws), the homogeneity test 4.7%. Above 1,000 values (an event
column that most events fill), normed Wasserstein and Jensen-Shannon distances, drift at >= 0.1, so thousands of
events do not turn negligible differences into drift; their noise floor falls with the number of events: between
two windows of one distribution, the normed Wasserstein distance of 420 against 1,680 events (30 a day) exceeds 0.1
in about 10% of draws, of 1,400 against 5,600 (100 a day) hardly ever. A column with no value in a window is
skipped and named. Evidently calls the dataset drifted when at least ``DRIFT_SHARE`` of its columns drifted.

This is a monitoring signal, not inference: daily data are autocorrelated and the rows of one day (an event
stream) are clustered, so the tests' independence assumption does not hold and the per-column p-values are too
small; nothing is corrected for testing many columns. A drifted column is a reason to look at the data, never a
finding. The synthetic study plants intervention effects, so its latest window shows event drift by design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from americano_pipeline import settings
from americano_pipeline.analysis.publish import RESULT_FILE, publish, staging_directory, write_json

if TYPE_CHECKING:
    import pandas as pd

LATEST_DAYS = 14
REFERENCE_DAYS = 56
MIN_DAYS = 7
DRIFT_SHARE = 0.5  # Evidently's default share of drifted columns for dataset drift
SMALL_SAMPLE = 1000  # up to this many reference values Evidently tests (p-values), above it measures distances
HOMOGENEITY = "chi-square homogeneity p_value"
CHECKED, NOT_ENOUGH_DATA = "checked", "not enough data"
NOTE = ("Daily data are autocorrelated and events cluster within days: per-column p-values and distances are a "
        "monitoring signal, not inference.")


@dataclass(frozen=True)
class DatasetSpec:
    """A compared table (``<table>.parquet`` in the cut) and its compared columns by kind."""

    name: str
    table: str
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]


EVENTS = DatasetSpec("events", "behavioral_events",
                     numerical=("timeOfDay", "sessionPerformanceScore", "durationMinutes", "engagementScore"),
                     categorical=("eventType", "completionQuality", "engagementLevel", "difficultyLevel",
                                  "contentType"))
CONTEXT = DatasetSpec("context", "context_metadata",
                      numerical=("sleepHours", "sleepQuality", "hrvScore", "restingHeartRate", "activityStrain",
                                 "steps", "energyLevel"),
                      categorical=("mood", "location", "source"))
DATASETS = (EVENTS, CONTEXT)
EVENT_DATA_FIELDS = ("durationMinutes", "engagementScore")


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: Evidently's method, its statistic (a p-value or a distance), threshold and verdict."""

    column: str
    kind: str  # numerical | categorical
    method: str  # e.g. "K-S p_value", "Wasserstein distance (normed)"
    statistic: float
    threshold: float
    drifted: bool

    @property
    def is_p_value(self) -> bool:
        return "p_value" in self.method

    def describe(self) -> str:
        """``sleepHours (K-S p_value 0.0012 < 0.05)``: what the check and the metadata name."""
        relation = ("<" if self.drifted else ">=") if self.is_p_value else (">=" if self.drifted else "<")
        return f"{self.column} ({self.method} {self.statistic:.4g} {relation} {self.threshold:g})"

    def to_dict(self) -> dict:
        return {"column": self.column, "kind": self.kind, "method": self.method,
                "statistic": self.statistic, "threshold": self.threshold, "drifted": self.drifted}


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    rows: int
    days_with_data: int

    def to_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "rows": self.rows,
                "daysWithData": self.days_with_data}


@dataclass(frozen=True)
class DatasetDrift:
    """One dataset's result; ``status`` NOT_ENOUGH_DATA (with ``reason``) when a window is too small."""

    name: str
    status: str
    reason: str | None
    reference: Window | None
    latest: Window | None
    columns: tuple[ColumnDrift, ...] = ()
    skipped_columns: tuple[tuple[str, str], ...] = ()  # (column, why)
    share_drifted: float = 0.0
    dataset_drift: bool = False
    report_files: tuple[str, ...] = ()  # file names beside result.json

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        return tuple(column for column in self.columns if column.drifted)

    def to_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason,
                "reference": self.reference.to_dict() if self.reference else None,
                "latest": self.latest.to_dict() if self.latest else None,
                "shareDrifted": self.share_drifted, "datasetDrift": self.dataset_drift,
                "driftedColumns": [column.column for column in self.drifted_columns],
                "columns": [column.to_dict() for column in self.columns],
                "skippedColumns": dict(self.skipped_columns), "reportFiles": list(self.report_files)}


@dataclass(frozen=True)
class DriftSummary:
    """The drift of one snapshot cut: each dataset's result and where the files are."""

    snapshot_id: str
    latest_days: int
    reference_days: int
    min_days: int
    datasets: tuple[DatasetDrift, ...]
    directory: Path

    @property
    def drifted_columns(self) -> tuple[tuple[str, ColumnDrift], ...]:
        """(dataset, column) of every drifted column."""
        return tuple((dataset.name, column) for dataset in self.datasets for column in dataset.drifted_columns)

    @property
    def unchecked(self) -> tuple[DatasetDrift, ...]:
        return tuple(dataset for dataset in self.datasets if dataset.status != CHECKED)

    @property
    def result_path(self) -> Path:
        return self.directory / RESULT_FILE

    def files(self) -> list[Path]:
        """Every file written: the Evidently reports, then ``result.json``."""
        return [self.directory / name for dataset in self.datasets for name in dataset.report_files] + [
            self.result_path]

    def to_dict(self) -> dict:
        return {"snapshotId": self.snapshot_id,
                "windows": {"latestDays": self.latest_days, "referenceDays": self.reference_days,
                            "minDays": self.min_days},
                "driftFound": bool(self.drifted_columns),
                "driftedColumns": [f"{dataset}.{column.column}" for dataset, column in self.drifted_columns],
                "datasets": {dataset.name: dataset.to_dict() for dataset in self.datasets},
                "note": NOTE}


def drift_directory(snapshot_id: str) -> Path:
    return settings.data_dir() / "monitoring" / "drift" / snapshot_id


def _local_days(timestamps: pd.Series, timezone: str) -> pd.Series:
    return timestamps.dt.tz_convert(timezone).dt.date


def read_dataset(cut_dir: Path, spec: DatasetSpec, timezone: str) -> pd.DataFrame:
    """The compared columns of ``spec``'s table in the cut, plus ``day`` (the row's local day)."""
    import pandas as pd

    if spec is EVENTS:
        frame = pd.read_parquet(cut_dir / f"{spec.table}.parquet",
                                columns=["timestamp", "eventData", *(c for c in spec.numerical + spec.categorical
                                                                     if c not in EVENT_DATA_FIELDS)])
        payload = pd.DataFrame([json.loads(text) for text in frame.pop("eventData")], index=frame.index)
        for field in EVENT_DATA_FIELDS:
            frame[field] = pd.to_numeric(payload[field], errors="coerce") if field in payload else float("nan")
        frame["day"] = _local_days(frame.pop("timestamp"), timezone)
    else:
        frame = pd.read_parquet(cut_dir / f"{spec.table}.parquet",
                                columns=["timestamp", "localDate", *spec.numerical, *spec.categorical])
        reported = _local_days(frame.pop("timestamp"), timezone)
        frame["day"] = frame.pop("localDate").fillna(reported)
    for column in spec.categorical:  # plain strings: the enums' unused categories are not values of the window
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    for column in spec.numerical:
        frame[column] = frame[column].astype("float64")
    return frame


def split_windows(frame: pd.DataFrame, latest_days: int, reference_days: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame, Window, Window]:
    """(reference rows, latest rows, their windows): the latest window ends on the last day with data."""
    end = max(frame["day"])
    latest_start = end - timedelta(days=latest_days - 1)
    reference_start = latest_start - timedelta(days=reference_days)
    latest = frame[(frame["day"] >= latest_start) & (frame["day"] <= end)]
    reference = frame[(frame["day"] >= reference_start) & (frame["day"] < latest_start)]
    return reference, latest, *(Window(start, stop, len(rows), rows["day"].nunique()) for start, stop, rows in (
        (reference_start, latest_start - timedelta(days=1), reference), (latest_start, end, latest)))


def _homogeneity(reference: pd.Series, current: pd.Series, feature_type, threshold: float) -> tuple[float, bool]:
    """Two-sample chi-square test of homogeneity of a categorical column's counts (both windows are samples)."""
    import pandas as pd
    from scipy.stats import chi2_contingency

    counts = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0).to_numpy().T
    counts = counts[:, counts.sum(axis=0) > 0]
    p_value = 1.0 if counts.shape[1] < 2 else float(chi2_contingency(counts, correction=False).pvalue)
    return p_value, p_value < threshold


@cache
def _homogeneity_test():
    """``_homogeneity`` as an Evidently stat test, registered once per process."""
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    test = StatTest(name=HOMOGENEITY, display_name=HOMOGENEITY, allowed_feature_types=[ColumnType.Categorical])
    register_stattest(test, default_impl=_homogeneity)
    return test


def _evidently_columns(snapshot, kinds: dict[str, str]) -> tuple[list[ColumnDrift], float, bool]:
    """Per-column results, the share drifted and the dataset verdict, from an Evidently snapshot's dict: each
    ``ValueDrift`` metric with the verdict of its test, and ``DriftedColumnsCount`` with its test."""
    result = snapshot.dict()
    verdicts = {test["metric_config"]["metric_id"]: test["status"] for test in result["tests"]}
    columns, share, dataset_drift = [], 0.0, False
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns.append(ColumnDrift(column=config["column"], kind=kinds[config["column"]], method=config["method"],
                                       statistic=float(metric["value"]), threshold=float(config["threshold"]),
                                       drifted=verdicts[metric["id"]] == "FAIL"))
        elif config["type"].endswith(":DriftedColumnsCount"):
            share, dataset_drift = float(metric["value"]["share"]), verdicts[metric["id"]] == "FAIL"
    return sorted(columns, key=lambda column: column.column), share, dataset_drift


def compare(spec: DatasetSpec, frame: pd.DataFrame, directory: Path, *, latest_days: int, reference_days: int,
            min_days: int) -> DatasetDrift:
    """Run Evidently's ``DataDriftPreset`` on ``spec``'s windows and write ``<name>.html`` and ``<name>.json`` into
    ``directory``; NOT_ENOUGH_DATA (no files) when a window has fewer than ``min_days`` days with data."""
    if frame.empty:
        return DatasetDrift(spec.name, NOT_ENOUGH_DATA, f"{spec.table} has no rows", None, None)
    reference, latest, reference_window, latest_window = split_windows(frame, latest_days, reference_days)
    short = [f"the {label} window {window.start}..{window.end} has {window.days_with_data} day(s) with data"
             for label, window in (("reference", reference_window), ("latest", latest_window))
             if window.days_with_data < min_days]
    if short:
        return DatasetDrift(spec.name, NOT_ENOUGH_DATA, f"{'; '.join(short)} (at least {min_days} needed)",
                            reference_window, latest_window)
    kinds = {**{c: "numerical" for c in spec.numerical}, **{c: "categorical" for c in spec.categorical}}
    empty = {column: [label for label, rows in (("reference", reference), ("latest", latest))
                      if rows[column].isna().all()] for column in kinds}
    skipped = tuple((column, f"no values in the {' and '.join(labels)} window{'s' * (len(labels) - 1)}")
                    for column, labels in empty.items() if labels)
    compared = [column for column in kinds if column not in dict(skipped)]
    if not compared:
        return DatasetDrift(spec.name, NOT_ENOUGH_DATA, "no column has values in both windows", reference_window,
                            latest_window, skipped_columns=skipped)

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=[c for c in compared if kinds[c] == "numerical"],
                                categorical_columns=[c for c in compared if kinds[c] == "categorical"])
    tested = {column: _homogeneity_test() for column in definition.categorical_columns
              if reference[column].notna().sum() <= SMALL_SAMPLE}
    report = Report([DataDriftPreset(columns=compared, drift_share=DRIFT_SHARE, per_column_method=tested or None)],
                    include_tests=True, metadata={"dataset": spec.name, "table": spec.table})
    snapshot = report.run(Dataset.from_pandas(latest[compared].reset_index(drop=True), data_definition=definition),
                          Dataset.from_pandas(reference[compared].reset_index(drop=True), data_definition=definition))
    columns, share, dataset_drift = _evidently_columns(snapshot, kinds)
    snapshot.save_html(str(directory / f"{spec.name}.html"))
    snapshot.save_json(str(directory / f"{spec.name}.json"))
    return DatasetDrift(spec.name, CHECKED, None, reference_window, latest_window, tuple(columns), skipped, share,
                        dataset_drift, (f"{spec.name}.html", f"{spec.name}.json"))


def drift_report(cut_dir: Path, snapshot_id: str, *, latest_days: int = LATEST_DAYS,
                 reference_days: int = REFERENCE_DAYS, min_days: int = MIN_DAYS, timezone: str | None = None,
                 directory: Path | None = None) -> DriftSummary:
    """The drift of the cut in ``cut_dir`` (``<table>.parquet`` files), written to ``directory`` (default
    ``drift_directory(snapshot_id)``) atomically: every file is staged beside it and moved in with
    ``result.json`` last, so a reader sees the previous report or the complete new one."""
    if not 1 <= min_days <= latest_days or reference_days < min_days:
        raise ValueError(f"windows must satisfy 1 <= min_days <= latest_days and reference_days >= min_days, got "
                         f"latest_days={latest_days}, reference_days={reference_days}, min_days={min_days}")
    timezone = timezone or settings.timezone_name()
    target = directory or drift_directory(snapshot_id)
    with staging_directory(target) as staging:
        datasets = tuple(compare(spec, read_dataset(cut_dir, spec, timezone), staging, latest_days=latest_days,
                                 reference_days=reference_days, min_days=min_days) for spec in DATASETS)
        summary = DriftSummary(snapshot_id, latest_days, reference_days, min_days, datasets, target)
        write_json(staging / RESULT_FILE, summary.to_dict())
        publish(staging, target)
    return summary
