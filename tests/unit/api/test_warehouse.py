"""The shared read-only warehouse connection: one per published file identity, a replaced file held only by the
requests reading it, and none while the API is idle (so a writer can get in)."""

import math
import os
from datetime import date

import duckdb
import pytest

from americano_pipeline.api import warehouse
from americano_pipeline.api.inputs import InvalidInput
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


def publish_minutes(path, minutes: list[float]) -> None:
    """A warehouse whose only mart is user u's daily study_minutes from 2026-03-01, one value per day."""
    building = path.with_name(path.name + ".building")
    with duckdb.connect(str(building)) as conn:
        conn.execute("create table fct_daily_user_metrics (user_id varchar, date date, study_minutes double)")
        conn.executemany("insert into fct_daily_user_metrics values ('u', date '2026-03-01' + ?::integer, ?)",
                         list(enumerate(minutes)))
        conn.execute("insert into fct_daily_user_metrics values ('other', date '2026-03-01', 99)")
    os.replace(building, path)


def test_a_window_is_the_slice_of_the_users_whole_series_read_once(tmp_path):
    path = tmp_path / "w.duckdb"
    publish_minutes(path, [float(day) for day in range(30)])
    published = Warehouse(path)
    with published.marts("u") as marts:
        window = marts.user_metric("study_minutes", date(2026, 3, 5), date(2026, 3, 9))
        window.iloc[0] = -1.0  # a caller's copy: the remembered series is untouched
        again = marts.user_metric("study_minutes", date(2026, 2, 20), date(2026, 3, 2))
        with pytest.raises(warehouse.NotFound, match="no days of study_minutes from 2026-04-01"):
            marts.user_metric("study_minutes", date(2026, 4, 1), date(2026, 4, 30))
        reads = [key for key in marts._connection._memo if key[1] == "metric"]
    assert window.tolist() == [-1.0, 5.0, 6.0, 7.0, 8.0] and window.name == "study_minutes"
    assert list(window.index.strftime("%Y-%m-%d")) == ["2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08",
                                                       "2026-03-09"]
    assert again.tolist() == [0.0, 1.0] and reads == [("u", "metric", "study_minutes")]
    published.close()


def test_a_bad_day_refuses_only_the_windows_holding_it(tmp_path):
    path = tmp_path / "w.duckdb"
    publish_minutes(path, [1.0] * 10 + [math.inf] + [2.0] * 10)
    published = Warehouse(path)
    with published.marts("u") as marts:
        assert marts.user_metric("study_minutes", date(2026, 3, 12), date(2026, 3, 21)).tolist() == [2.0] * 10
        with pytest.raises(InvalidInput, match=r"study_minutes series fails its check 'finite' on 2026-03-11 \(inf\)$"):
            marts.user_metric("study_minutes", date(2026, 3, 1), date(2026, 3, 15))
    published.close()
