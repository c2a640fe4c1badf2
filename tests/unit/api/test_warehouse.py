"""The shared read-only warehouse connection: one per published file identity, a replaced file held only by the
requests reading it, and none while the API is idle (so a writer can get in)."""

import os

import duckdb
import pytest

from americano_pipeline.api import warehouse
from americano_pipeline.api.warehouse import Warehouse


def publish(path, value: int) -> None:
    """Build a file beside ``path`` and rename it over it, as the pipeline publishes a warehouse."""
    building = path.with_name(path.name + ".building")
    with duckdb.connect(str(building)) as conn:
        conn.execute(f"create table t as select {value} as v")
    os.replace(building, path)


def value(marts) -> int:
    return marts._conn.execute("select v from t").fetchone()[0]


def test_requests_share_a_connection_until_the_file_is_replaced(tmp_path):
    path = tmp_path / "w.duckdb"
    publish(path, 1)
    published = Warehouse(path)
    with published.marts("u") as reading_old:
        first = published._current
        with published.marts("u"):
            assert published._current is first and first.borrowers == 2
        publish(path, 2)
        with published.marts("u") as reading_new:
            assert value(reading_new) == 2 and published._current is not first
        assert value(reading_old) == 1 and first.retired and first.borrowers == 1
    with pytest.raises(duckdb.ConnectionException):
        first.conn.execute("select 1")
    published.close()


def test_an_idle_connection_is_closed_so_a_writer_can_open_the_file(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    publish(path, 1)
    published = Warehouse(path)
    with published.marts("u"):
        pass
    monkeypatch.setattr(warehouse, "IDLE_SECONDS", 0.0)
    published.close_idle()
    assert published._current is None
    with duckdb.connect(str(path)) as writer:
        writer.execute("insert into t values (3)")


def test_what_a_connection_read_is_remembered_per_user_and_forgotten_with_it(tmp_path):
    path = tmp_path / "w.duckdb"
    publish(path, 1)
    published = Warehouse(path)
    calls = []
    with published.marts("u") as marts:
        for _ in range(2):
            marts._remembered(("k",), lambda: calls.append("u") or len(calls))
    with published.marts("other") as marts:
        marts._remembered(("k",), lambda: calls.append("other"))
    publish(path, 2)
    with published.marts("u") as marts:
        marts._remembered(("k",), lambda: calls.append("u again"))
    assert calls == ["u", "other", "u again"]
    published.close()
