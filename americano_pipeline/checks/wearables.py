"""The Pandera schema of imported wearable days (a landing frame, ``context.landing``): what a day must be before it
is written into ``context_metadata``, each problem reported naming its row.

Rules (``wearable_schema``):
- every measurement within ``records.BOUNDS``, the physically possible range the database's CHECK constraints also
  state (sleep 0-24 h, HRV 1-300 ms so an HRV of 0 or below is refused, resting heart rate 20-250 bpm, strain 0-21,
  steps 0-200,000, quality 1-10); NaN and infinity are outside every range, a missing value is allowed;
- ``source`` one of ``records.SOURCES``; ``user_id``, ``source``, ``external_id``, ``local_date`` and
  ``recorded_at`` present, the ids not empty;
- one row per (user, source, day), the key the store upserts on;
- for a synced partition (``day`` given), every row on that day: a vendor that answers with another day's data
  would otherwise be filed under the wrong partition.
The columns and their types are those of a landing file's frame (``landing.SCHEMA``, ``landing.FRAME_TYPES``), and
no other column is allowed.

Why a schema and not the database's CHECK constraints alone: the database refuses the first impossible value of a
transaction and names the constraint only; the check names every impossible row, by the words a researcher uses
("OURA day 2026-03-01 of user c... (external id ...): sleep_hours = 25.0 is outside [0, 24]"), and runs before
anything is written. Why the importers keep impossible values: so this check can name them instead of an importer
dropping them unseen (``records`` module doc).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pandera.pandas as pa

from americano_pipeline.context.landing import FRAME_TYPES, MEASUREMENT_TYPES
from americano_pipeline.context.records import BOUNDS, SOURCES

KEY = ["user_id", "source", "local_date"]
IDS = ("user_id", "external_id")
UNIQUE_KEY_CHECK = "multiple_fields_uniqueness"
NULL = "NULL"


@dataclass(frozen=True)
class Problem:
    """A row that breaks a rule: ``row`` names it (source, day, user, external id), ``reason`` says what is wrong;
    ``row`` is None for a problem of the frame itself (a missing or extra column, a column of the wrong type)."""

    row: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.row}: {self.reason}" if self.row else self.reason


def _within(low, high) -> pa.Check:
    # NaN is not null in a nullable Float64 column, and fails both comparisons; null passes.
    return pa.Check(lambda s: s.isna() | ((s >= low) & (s <= high)).fillna(False), name="within_bounds",
                    ignore_na=False)


def wearable_schema(day: date | None = None) -> pa.DataFrameSchema:
    """The rules above, for the rows of partition ``day`` (None: any day, as for an Apple Health export)."""
    columns = {
        "user_id": pa.Column(str, pa.Check(lambda s: s.str.len() > 0, name="not_empty")),
        "source": pa.Column(str, pa.Check(lambda s: s.isin(SOURCES), name="known_source")),
        "external_id": pa.Column(str, pa.Check(lambda s: s.str.len() > 0, name="not_empty")),
        "local_date": pa.Column(object, [pa.Check(lambda s: s.map(type) == date, name="is_date")]
                                + ([pa.Check(lambda s: s == day, name="on_partition_day")] if day else [])),
        "recorded_at": pa.Column("datetime64[us, UTC]"),
        **{name: pa.Column(FRAME_TYPES[MEASUREMENT_TYPES[name]], _within(low, high), nullable=True)
           for name, (low, high) in BOUNDS.items()},
    }
    return pa.DataFrameSchema(columns, unique=KEY, strict=True, ordered=True, name="wearable_days")


def _plain(value):
    """A numpy or pandas scalar as the Python value it holds (so 25.0 reads 25.0, not np.float64(25.0))."""
    return value.item() if hasattr(value, "item") else value


def _text(value) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return NULL
    return str(_plain(value))


def _cell(frame: pd.DataFrame, row: int, column: str):
    return frame.at[row, column] if column in frame.columns else None


def row_name(frame: pd.DataFrame, row: int) -> str:
    """How a problem names a row: ``<SOURCE> day <local_date> of user <user_id> (external id <id>)``."""
    source, day, user, external = (_text(_cell(frame, row, column))
                                   for column in ("source", "local_date", "user_id", "external_id"))
    return f"{source} day {day} of user {user} (external id {external})"


def _reason(frame: pd.DataFrame, row: int, column: str, check: str, day: date | None) -> str:
    value = _cell(frame, row, column)
    if check == "within_bounds":
        low, high = BOUNDS[column]
        return f"{column} = {_plain(value)!r} is outside [{low:g}, {high:g}]"
    if check == "not_nullable":
        return f"no {column}"
    if check == "not_empty":
        return f"{column} is empty"
    if check == "known_source":
        return f"source {value!r} is not one of {', '.join(SOURCES)}"
    if check == "is_date":
        return f"local_date {value!r} is not a date"
    if check == "on_partition_day":
        return f"local_date {value} is not the partition's day {day}"
    if check == UNIQUE_KEY_CHECK:
        same = (frame[KEY] == frame.loc[row, KEY]).all(axis=1)
        others = ", ".join(str(other) for other in frame.loc[same, "external_id"])
        return f"{int(same.sum())} rows for this user, source and day (external ids {others}): one row per user, " \
               "source and day"
    return f"{column} fails {check}"


def _frame_reason(column, check: str, failure) -> str:
    if check == "column_in_dataframe":
        return f"the frame lacks the column {failure}"
    if check == "column_in_schema":
        return f"the frame has the unexpected column {failure}"
    if check.startswith("dtype("):
        return f"column {column} is {failure}, it should be {check[len('dtype(') + 1:-2]}"
    return f"column {column}: {check} (found {failure})"


def find_problems(frame: pd.DataFrame, day: date | None = None) -> list[Problem]:
    """Every problem of ``frame`` (a landing frame) under ``wearable_schema(day)``, row by row in frame order."""
    try:
        wearable_schema(day).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    frame_wide = cases[cases["index"].isna()]
    problems = [Problem(None, _frame_reason(case.column, str(case.check), case.failure_case))
                for case in frame_wide.drop_duplicates(["column", "check"]).itertuples()]
    rows = cases[cases["index"].notna()].assign(row=lambda c: c["index"].astype(int))
    rows = rows.assign(check=rows["check"].astype(str)).drop_duplicates(["row", "column", "check"])
    # A repeated key fails once per key column; it is one problem of the row.
    rows = rows[~((rows["check"] == UNIQUE_KEY_CHECK) & rows.duplicated(["row", "check"]))]
    for case in rows.sort_values("row", kind="stable").itertuples():
        problems.append(Problem(row_name(frame, case.row), _reason(frame, case.row, case.column, case.check, day)))
    return problems


def wearable_problems(frame: pd.DataFrame, day: date | None = None) -> list[str]:
    """``find_problems`` as sentences, each naming its row; empty when every row may be written."""
    return [str(problem) for problem in find_problems(frame, day)]


def problems_markdown(problems: list[Problem]) -> str:
    """The problems as a markdown table (row, problem), for the asset check's report."""
    lines = ["| row | problem |", "|---|---|"]
    lines += [f"| {_escaped(problem.row or 'the frame')} | {_escaped(problem.reason)} |" for problem in problems]
    return "\n".join(lines)


def _escaped(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
