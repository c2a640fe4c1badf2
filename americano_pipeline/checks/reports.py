"""Validate a snapshot cut with the Pandera schemas and report every failure by row, column, rule and value.

Why a report object rather than Pandera's exception: the asset check needs counts per column and rule, a
readable sample of failing rows, and the exact failing rows for quarantine; all from one lazy validation, so a
single run names every problem instead of the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from americano_pipeline.checks.schemas import EXPLAINED_RULES, ROW_RULE_COLUMNS, plan_problem, row_problems, schema_for
from americano_pipeline.source.schema import TABLES

SAMPLE_ROWS = 20
NULL = "NULL"
_NULLABLE_INTS = {pa_arrow.int32(): pd.Int32Dtype(), pa_arrow.int64(): pd.Int64Dtype()}


def _is_null(value) -> bool:
    """A missing value, which pandas prints as None, nan, NaT or <NA> depending on the column's type; a report says
    NULL, as the database would."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def read_frame(path: Path) -> pd.DataFrame:
    """A snapshot file as pandas, keeping nullable integers nullable and enums categorical."""
    return pq.read_table(path).to_pandas(types_mapper=_NULLABLE_INTS.get)


@dataclass(frozen=True)
class TableReport:
    table: str
    rows: int
    violations: pd.DataFrame  # columns: row, id, column, rule, value

    @property
    def passed(self) -> bool:
        return self.violations.empty

    @property
    def failing_rows(self) -> list[int]:
        return sorted(set(self.violations["row"].dropna().astype(int)))

    def counts(self) -> dict[str, int]:
        """'column: rule' -> number of failing rows."""
        grouped = self.violations.groupby(["column", "rule"], dropna=False)["row"].nunique()
        return {f"{column}: {rule}": int(n) for (column, rule), n in grouped.items()}

    def markdown(self) -> str:
        if self.passed:
            return f"All {self.rows:,} rows of `{self.table}` pass every rule."
        lines = [f"**{len(self.failing_rows):,} of {self.rows:,} rows of `{self.table}` fail.**", "",
                 "| column: rule | failing rows |", "|---|---|"]
        lines += [f"| {key} | {n:,} |" for key, n in self.counts().items()]
        lines += ["", "| id | column | value | rule |", "|---|---|---|---|"]
        for record in self.violations.head(SAMPLE_ROWS).itertuples():
            value = NULL if _is_null(record.value) else str(record.value)[:80].replace("|", "\\|")
            lines.append(f"| {record.id} | {record.column} | {value} | {record.rule} |")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line naming the table, each failing column and rule, and an offending value."""
        if self.passed:
            return f"{self.table}: all {self.rows:,} rows valid"
        first = self.violations.drop_duplicates(["column", "rule"])
        parts = [f"{r.column} {r.rule} (e.g. id {r.id} value {_quoted(r.value)})" for r in first.itertuples()]
        return f"{self.table}: {len(self.failing_rows):,} of {self.rows:,} rows fail: " + "; ".join(parts)


def _quoted(value) -> str:
    return NULL if _is_null(value) else repr(str(value)[:60])


def _violations(table: str, frame: pd.DataFrame, errors: pa.errors.SchemaErrors | None,
                cut: dict[str, pd.DataFrame], now: pd.Timestamp) -> pd.DataFrame:
    if errors is None:
        return pd.DataFrame(columns=["row", "id", "column", "rule", "value"])
    cases = errors.failure_cases.copy()
    row_rule = cases["check"].map(ROW_RULE_COLUMNS)
    cases["column"] = row_rule.fillna(cases["column"])
    cases = cases[cases["index"].notna()]
    rows = cases["index"].astype(int)
    values = [frame.at[row, column] if column in frame.columns else case
              for row, column, case in zip(rows, cases["column"], cases["failure_case"])]
    problems = {rule: row_problems(table, rule, frame, cut, now)
                for rule in set(cases["check"]) & EXPLAINED_RULES.get(table, set())}
    values = [problems[rule].at[row] if rule in problems else value
              for row, rule, value in zip(rows, cases["check"], values)]
    values = [plan_problem(value) if rule == "registered_analysis_plan" else value
              for rule, value in zip(cases["check"], values)]
    return pd.DataFrame({
        "row": rows.to_numpy(),
        "id": frame.loc[rows, "id"].to_numpy(),
        "column": cases["column"].to_numpy(),
        "rule": cases["check"].astype(str).str.replace("field_uniqueness", "unique").to_numpy(),
        "value": pd.Series(values, dtype=object),  # as read: no None turned into NaT, no 5 into 5.0
    }).drop_duplicates(["row", "column", "rule"]).reset_index(drop=True)


def validate_cut(cut: dict[str, pd.DataFrame], now: pd.Timestamp | None = None) -> dict[str, TableReport]:
    """Validate every table of a consistent cut (lazily: all failures, not the first)."""
    now = now or pd.Timestamp.now(tz="UTC")  # one clock for the rules and the explanations of their failures
    reports = {}
    for table in TABLES:
        frame = cut[table]
        try:
            schema_for(table, cut, now).validate(frame, lazy=True)
            errors = None
        except pa.errors.SchemaErrors as exc:
            errors = exc
        reports[table] = TableReport(table, len(frame), _violations(table, frame, errors, cut, now))
    return reports


def write_quarantine(source: Path, report: TableReport, target: Path) -> Path:
    """Write the failing rows (all original columns, plus their violations) atomically to ``target``."""
    table = pq.read_table(source).take(report.failing_rows)
    reasons = (report.violations.assign(reason=report.violations["column"] + ": " + report.violations["rule"])
               .groupby("row")["reason"].agg("; ".join))
    table = table.append_column("_violations", pa_arrow.array([reasons[r] for r in report.failing_rows]))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    temporary.replace(target)
    return target


def without_rows(source: Path, rows: list[int], target: Path) -> int:
    """Rewrite ``source`` minus ``rows`` (non-strict mode) to ``target`` atomically; returns rows kept."""
    table = pq.read_table(source)
    keep = sorted(set(range(table.num_rows)) - set(rows))
    temporary = target.with_name(f".{target.name}.tmp")
    pq.write_table(table.take(keep), temporary, compression="zstd")
    temporary.replace(target)
    return len(keep)
