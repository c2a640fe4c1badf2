"""The extract's writer thread: a failing write (a full disk) fails the extract instead of hanging it."""

import threading

import pyarrow as pa

from americano_pipeline.source import extract
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow


class Cursor:
    """Stands in for the ADBC cursor (the part under test is the threading around it): many batches of rows."""

    def __init__(self, batch: pa.RecordBatch, count: int):
        self.batch, self.count = batch, count

    def execute(self, sql: str) -> None:
        self.sql = sql

    def fetch_record_batch(self):
        return iter([self.batch] * self.count)


def test_a_failing_write_fails_the_extract_instead_of_blocking_the_reader(tmp_path, monkeypatch):
    schema = extract.arrow_schema("analysis_runs")
    batch = pa.RecordBatch.from_pylist([], schema=schema)

    def full_disk(batch, schema):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(extract, "_typed", full_disk)
    outcome = {}

    def run():
        try:
            extract._write_table(Cursor(batch, 50), "analysis_runs", ExtractWindow(days=ALL_HISTORY),
                                 tmp_path / "analysis_runs.parquet")
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the extract hung on a full queue"
    assert str(outcome["error"]) == "[Errno 28] No space left on device"
