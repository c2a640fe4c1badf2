"""Small real snapshot cuts for the checks' tests: Parquet files in the extract's exact schema."""

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from americano_pipeline.source.extract import SnapshotFile, arrow_schema
from americano_pipeline.source.schema import TABLES

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def context_row(number: int, sleep_hours: float) -> dict:
    return {"id": f"c{number:024d}", "userId": "c" + "u" * 24, "timestamp": NOW, "mood": "MEDIUM",
            "energyLevel": 5, "location": "HOME", "sleepHours": sleep_hours, "source": "SELF_REPORT"}


def write_cut(directory, snapshot_id: str, rows_by_table: dict[str, list[dict]]) -> dict[str, SnapshotFile]:
    """A cut of ``rows_by_table`` (every other table empty), written as the extract writes it."""
    files = {}
    for table in TABLES:
        schema = arrow_schema(table)
        rows = rows_by_table.get(table, [])
        data = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
        path = directory / table / f"{snapshot_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        files[table] = SnapshotFile(table, path, data.num_rows, path.stat().st_size, schema.names)
    return files


def protocol_row(number: int, analysis_plan: str, **fields) -> dict:
    return {"id": f"c{number:024d}", "userId": "c" + "u" * 24, "protocolName": "p", "hypothesis": "h",
            "startDate": NOW, "designType": "ABAB", "primaryOutcome": "engagement_score", "sampleSizeTarget": 40,
            "analysisPlan": analysis_plan, "minPhaseLength": 5, "deviations": "[]", **fields}


def phase_row(number: int, protocol_number: int, label: str, start: datetime, end: datetime | None) -> dict:
    return {"id": f"c{number:024d}", "protocolId": f"c{protocol_number:024d}", "phaseLabel": label,
            "phaseType": "BASELINE" if label.startswith("baseline") else "INTERVENTION_A", "startDate": start,
            "endDate": end, "plannedDuration": 7, "randomizationSeed": 7, "interventionParams": "{}"}
