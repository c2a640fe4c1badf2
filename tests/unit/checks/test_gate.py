"""The quarantine/promote gate on small real cuts (Parquet files in the extract's exact schema): strict mode
rejects and keeps the previous cut, non-strict mode drops the named rows and promotes the rest."""

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from americano_pipeline.checks.gate import gate_cut
from americano_pipeline.source.extract import SnapshotFile, arrow_schema
from americano_pipeline.source.schema import TABLES

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def context_row(number: int, sleep_hours: float) -> dict:
    return {"id": f"c{number:024d}", "userId": "c" + "u" * 24, "timestamp": NOW, "mood": "MEDIUM",
            "energyLevel": 5, "location": "HOME", "sleepHours": sleep_hours}


def write_cut(directory, snapshot_id: str, context_rows: list[dict]) -> dict[str, SnapshotFile]:
    """Every table empty but context_metadata, written as the extract writes it."""
    files = {}
    for table in TABLES:
        schema = arrow_schema(table)
        rows = context_rows if table == "context_metadata" else []
        data = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
        path = directory / table / f"{snapshot_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        files[table] = SnapshotFile(table, path, data.num_rows, path.stat().st_size, schema.names)
    return files


def current_ids(current_dir) -> list[str]:
    return pq.read_table(current_dir / "context_metadata.parquet").column("id").to_pylist()


@pytest.fixture
def store(tmp_path):
    return tmp_path / "raw", tmp_path / "quarantine", tmp_path / "raw" / "current"


def test_a_valid_cut_is_promoted_and_nothing_is_quarantined(store):
    raw, quarantine, current = store
    outcome = gate_cut(write_cut(raw, "s1", [context_row(1, 7.5)]), "s1", strict=True, quarantine_dir=quarantine,
                       current_dir=current)
    assert outcome.promoted and outcome.quarantined == {}
    assert all(report.passed for report in outcome.reports.values())
    assert current_ids(current) == [f"c{1:024d}"]


def test_strict_mode_quarantines_the_bad_row_and_keeps_the_previous_cut(store):
    raw, quarantine, current = store
    gate_cut(write_cut(raw, "s1", [context_row(1, 7.5)]), "s1", strict=True, quarantine_dir=quarantine,
             current_dir=current)
    files = write_cut(raw, "s2", [context_row(2, 8.0), context_row(3, 25.0)])
    outcome = gate_cut(files, "s2", strict=True, quarantine_dir=quarantine, current_dir=current)
    assert not outcome.promoted
    report = outcome.reports["context_metadata"]
    assert report.failing_rows == [1]
    assert "sleepHours" in report.summary() and "25.0" in report.summary()
    quarantined = pq.read_table(outcome.quarantined["context_metadata"]).to_pylist()
    assert [(row["id"], row["sleepHours"]) for row in quarantined] == [(f"c{3:024d}", 25.0)]
    assert "sleepHours" in quarantined[0]["_violations"]
    assert current_ids(current) == [f"c{1:024d}"]  # the previous good cut is still current


def test_non_strict_mode_drops_the_bad_row_and_promotes_the_rest(store):
    raw, quarantine, current = store
    files = write_cut(raw, "s1", [context_row(2, 8.0), context_row(3, 25.0)])
    outcome = gate_cut(files, "s1", strict=False, quarantine_dir=quarantine, current_dir=current)
    assert outcome.promoted
    assert not outcome.reports["context_metadata"].passed  # the checks still report what the extract held
    assert list(outcome.cut["context_metadata"]["id"]) == [f"c{2:024d}"]
    assert current_ids(current) == [f"c{2:024d}"]
    assert (quarantine / "context_metadata" / "s1.parquet").exists()
