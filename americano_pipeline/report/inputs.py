"""Everything one report states, gathered into plain values: the registered design (``dim_protocols``), the
registration fields the marts do not carry (deviations and the CONSORT-style flow counts of
``stg_experiment_protocols``), the phases as planned and as run (``stg_phase_assignments`` with the observed days
of the daily marts), the warehouse's data version, and the published ``result.json`` of each analysis.

Why through ``analysis.marts.MartsReader``: it is the one read-only reader of the warehouse; the three reads the
analyses do not need run on its connection (``_frame``), so the report sees the same cut.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from americano_pipeline.analysis.publish import RESULT_FILE, result_directory

# The published analyses, in the order the report lists them when none is registered as confirmatory.
ANALYSES = ("randomization_result", "its_result", "change_points_result", "sequential_boundaries")

_REGISTRATION_SQL = ("select deviations, screened, eligible, enrolled, completed from stg_experiment_protocols "
                     "where protocol_id = ?")
_PHASES_SQL = """
    with series as (
        select phase_id, count(*) as observed_days, count(primary_outcome_value) as measured_days,
               avg(primary_outcome_value) as outcome_mean
        from fct_protocol_daily_outcomes where protocol_id = ? and phase_id is not null group by phase_id
    ),
    tiers as (
        select phase_id, count(*) as observed_days, count(outcome_value) as measured_days,
               avg(outcome_value) as outcome_mean
        from fct_protocol_tier_daily_outcomes
        where protocol_id = ? and phase_id is not null and phase_id not in (select phase_id from series)
        group by phase_id
    ),
    observed as (select * from series union all select * from tiers)
    select phases.phase_id, phases.phase_label, phases.phase_type, phases.condition, phases.is_washout,
           phases.planned_duration, phases.randomization_seed, phases.intervention_params, phases.tier,
           phases.tier_outcome, phases.criterion, phases.start_window_earliest, phases.start_window_latest,
           phases.start_date, phases.end_date, observed.observed_days, observed.measured_days, observed.outcome_mean
    from stg_phase_assignments as phases
    left join observed on observed.phase_id = phases.phase_id
    where phases.protocol_id = ?
    order by phases.tier nulls first, phases.start_date, phases.phase_id
"""


@dataclass(frozen=True)
class ReportInputs:
    """Plain values (JSON types, ISO dates) so tests can write them by hand. ``results[asset]`` is the published
    result or ``None``, with the reason in ``missing[asset]``; ``result_dirs[asset]`` holds its figures."""

    protocol: dict  # a dim_protocols row
    registration: dict | None = None  # deviations (list), screened, eligible, enrolled, completed; None: unread
    registration_missing: str = ""
    phases: list[dict] = field(default_factory=list)
    results: dict[str, dict | None] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    result_dirs: dict[str, Path] = field(default_factory=dict)
    warehouse_data_version: str | None = None
    warehouse_note: str = ""  # why the data version is unknown
    report_code: dict = field(default_factory=dict)  # the report's own commit/dirty and run


def plain(value):
    """A DuckDB/pandas/numpy value as a JSON type (dates as ISO strings, NaN/NA as None, arrays as lists)."""
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()[:10]
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_results(analysis_root: Path, protocol_id: str) -> tuple[dict, dict, dict]:
    """(results, reasons for the missing ones, result directories) of the four analyses of ``protocol_id``."""
    results, missing, dirs = {}, {}, {}
    for asset in ANALYSES:
        directory = result_directory(analysis_root, asset, protocol_id)
        dirs[asset] = directory
        path = directory / RESULT_FILE
        if not path.is_file():
            results[asset] = None
            missing[asset] = (f"no published result ({path} does not exist): analysis/{asset} has not run for this "
                              "protocol, or its run failed (see the run in Dagster)")
            continue
        try:
            results[asset] = json.loads(path.read_text())
        except ValueError as exc:
            results[asset] = None
            missing[asset] = f"{path} is not valid JSON ({exc})"
    return results, missing, dirs


def load_inputs(protocol_id: str, analysis_root: Path, reader) -> ReportInputs:
    """The inputs of ``protocol_id``'s report; ``reader`` an open ``MartsReader``. ``AnalysisError`` when the
    warehouse does not hold the protocol (``MartsReader.protocol``)."""
    from americano_pipeline.lineage.warehouse_release import WarehouseNotReleased

    reader.protocol(protocol_id)  # raises the reader's own error for a protocol the warehouse lacks
    row = reader._frame("select * from dim_protocols where protocol_id = ?", [protocol_id]).iloc[0]
    protocol = {key: plain(value) for key, value in row.items()}
    protocol["analysis_plan"] = _json(protocol.get("analysis_plan"))
    registration, registration_missing = None, ""
    try:
        frame = reader._frame(_REGISTRATION_SQL, [protocol_id])
        record = {key: plain(value) for key, value in frame.iloc[0].items()}
        deviations = _json(record.get("deviations"))
        record["deviations"] = [_json(d) for d in deviations] if isinstance(deviations, list) else deviations
        registration = record
    except Exception as exc:  # duckdb.CatalogException/BinderException: a warehouse without these columns
        registration_missing = f"the warehouse has no readable stg_experiment_protocols registration ({exc})"
    phases = [{key: plain(value) for key, value in phase.items()}
              for phase in reader._frame(_PHASES_SQL, [protocol_id] * 3).to_dict("records")]
    for phase in phases:
        phase["intervention_params"] = _json(phase.get("intervention_params"))
    version, note = None, ""
    try:
        version = reader.release().data_version
    except WarehouseNotReleased as exc:
        note = str(exc)
    results, missing, dirs = read_results(analysis_root, protocol_id)
    return ReportInputs(protocol=protocol, registration=registration, registration_missing=registration_missing,
                        phases=phases, results=results, missing=missing, result_dirs=dirs,
                        warehouse_data_version=version, warehouse_note=note)
