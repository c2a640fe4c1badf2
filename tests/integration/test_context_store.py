"""Imported wearable days in the real source database: idempotent upserts through the writer login, which row-level
security keeps away from the user's own reports, and the upgrade of a database created before the import columns."""

import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from americano_pipeline.context.records import WearableDay
from americano_pipeline.context.store import StoreResult, store_days
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.schema import ensure_schema, tables
from tests.support import login_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RELEASED_SCHEMA = "4325fd5:americano_pipeline/source/schema.sql"  # the last schema without the import columns
COLUMNS = ['"userId"', "source::text", '"localDate"', '"externalId"', '"sleepHours"', '"hrvScore"',
           '"restingHeartRate"', "steps", '"energyLevel"', "mood::text", "location::text"]


def days(user: str, source: str = "OURA", first=date(2026, 3, 1), n: int = 3) -> list[WearableDay]:
    return [WearableDay(user, source, f"{source.lower()}-{i}", first + timedelta(days=i),
                        datetime(2026, 3, 1, 8, tzinfo=timezone.utc) + timedelta(days=i),
                        sleep_hours=7 + i / 4, hrv_score=40 + i, resting_heart_rate=55, steps=8000 + i)
            for i in range(n)]


def rows(conn) -> list[tuple]:
    return conn.execute(f"SELECT id, {', '.join(COLUMNS)} FROM context_metadata WHERE source <> 'SELF_REPORT' "
                        'ORDER BY source, "localDate"').fetchall()


@pytest.fixture
def writer(pg_cluster, source_db):
    with connect(login_url(pg_cluster, source_db, WRITER_ROLE), role=WRITER_ROLE) as conn:
        yield conn


@pytest.fixture
def user(source_db) -> str:
    with connect(source_db) as conn:
        return conn.execute('SELECT min("userId") FROM context_metadata').fetchone()[0]


def test_a_reimport_changes_nothing_and_a_rescored_day_updates_its_own_row(writer, user):
    imported = days(user) + days(user, "APPLE_HEALTH", n=2)
    assert store_days(writer, imported) == StoreResult(inserted=5, updated=0, unchanged=0)
    first = rows(writer)
    assert [row[1:9] for row in first][:2] == [
        (user, "APPLE_HEALTH", date(2026, 3, 1), "apple_health-0", 7.0, 40, 55, 8000),
        (user, "APPLE_HEALTH", date(2026, 3, 2), "apple_health-1", 7.25, 41, 55, 8001)]
    assert {row[9:] for row in first} == {(None, None, None)}  # no self-report field on an imported row

    assert store_days(writer, imported) == StoreResult(inserted=0, updated=0, unchanged=5)
    assert rows(writer) == first  # not even an id changed

    rescored = replace(imported[1], external_id="oura-1-rescored", hrv_score=52)
    new_day = replace(imported[2], external_id="oura-3", local_date=date(2026, 3, 4))
    overlapping = [rescored, imported[2], new_day]  # 03-02 re-scored, 03-03 as before, 03-04 new
    assert store_days(writer, overlapping) == StoreResult(inserted=1, updated=1, unchanged=1)
    after = {(row[2], row[3]): row for row in rows(writer)}
    before = {(row[2], row[3]): row for row in first}
    assert after["OURA", date(2026, 3, 2)][0] == before["OURA", date(2026, 3, 2)][0]
    assert after["OURA", date(2026, 3, 2)][4:7] == ("oura-1-rescored", 7.25, 52)
    assert len(after) == 6


def test_an_impossible_value_or_a_repeated_day_writes_nothing(writer, user):
    with pytest.raises(psycopg.errors.CheckViolation, match="context_metadata_sleepHours_range"):
        store_days(writer, [*days(user), replace(days(user)[0], local_date=date(2026, 4, 1), sleep_hours=25.0)])
    with pytest.raises(ValueError, match=f"OURA day 2026-03-01 of user {user} is given twice"):
        store_days(writer, [*days(user), replace(days(user)[0], external_id="again")])
    assert rows(writer) == []


def test_the_writer_can_neither_see_nor_change_what_the_user_reported(writer, source_db, pg_cluster, user):
    store_days(writer, days(user))
    assert writer.execute("SELECT count(*) FROM context_metadata WHERE source = 'SELF_REPORT'").fetchone() == (0,)
    assert writer.execute("""UPDATE context_metadata SET "sleepHours" = 1 WHERE source = 'SELF_REPORT'""").rowcount == 0
    writer.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        writer.execute("""INSERT INTO context_metadata (id, "userId", mood, "energyLevel", location)
                          VALUES ('c000000000000000000000001', %s, 'LOW', 3, 'HOME')""", [user])
    writer.rollback()
    with connect(login_url(pg_cluster, source_db, READER_ROLE), role=READER_ROLE) as reader:
        counts = dict(reader.execute("SELECT source::text, count(*) FROM context_metadata GROUP BY 1").fetchall())
    assert counts["OURA"] == 3 and counts["SELF_REPORT"] > 100


def test_a_database_created_before_the_import_columns_is_upgraded_in_place(make_database):
    released = subprocess.run(["git", "show", RELEASED_SCHEMA], cwd=ROOT, capture_output=True, text=True, check=True)
    url = make_database()
    with connect(url) as conn:
        conn.execute(released.stdout)
        conn.execute("""INSERT INTO context_metadata (id, "userId", mood, location)
                        VALUES ('c000000000000000000000002', 'u1', 'HIGH', 'CAFE')""")
        conn.commit()
        assert ensure_schema(conn) is False  # existed: only the idempotent sections ran
        assert ensure_schema(conn) is False  # and again: nothing left to change
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'context_metadata' "
            "ORDER BY ordinal_position")]
        assert columns == tables()["context_metadata"].column_names
        assert conn.execute('SELECT source::text, mood::text, "energyLevel" FROM context_metadata').fetchall() == \
            [("SELF_REPORT", "HIGH", 5)]
        assert store_days(conn, days("u1", n=1)) == StoreResult(inserted=1, updated=0, unchanged=0)
        with pytest.raises(psycopg.errors.CheckViolation, match="context_metadata_self_report_complete"):
            conn.execute("""INSERT INTO context_metadata (id, "userId", location)
                            VALUES ('c000000000000000000000003', 'u1', 'HOME')""")
