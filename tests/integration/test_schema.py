"""The source schema applies to a fresh cluster and the database itself rejects impossible rows."""

import psycopg
import pytest

from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.schema import ensure_schema
from americano_pipeline.source.schema import TABLES, enums

pytestmark = pytest.mark.integration

CONTEXT_ID = "c" + "a" * 24
PROTOCOL_ID = "c" + "b" * 24


@pytest.fixture
def db(make_database):
    url = make_database()
    with connect(url) as conn:
        assert ensure_schema(conn) is True
        assert ensure_schema(conn) is False  # applying twice is a no-op
        conn.execute(
            """INSERT INTO context_metadata (id, "userId", mood, "energyLevel", location)
               VALUES (%s, 'u1', 'HIGH', 7, 'HOME')""", (CONTEXT_ID,))
        conn.execute(
            """INSERT INTO experiment_protocols (id, "userId", "protocolName", hypothesis, "startDate",
               "designType", "primaryOutcome", "sampleSizeTarget", "analysisPlan")
               VALUES (%s, 'u1', 'p', 'h', now(), 'ABAB', 'engagement_score', 40, 'plan')""", (PROTOCOL_ID,))
        conn.commit()
    return url


def test_tables_and_enums_match_the_parsed_definition(db):
    with connect(db) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        assert present == set(TABLES)
        for name, values in enums().items():
            labels = conn.execute(
                "SELECT array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum e "
                "JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = %s", (name,)).fetchone()[0]
            assert tuple(labels) == values
    assert len(enums()["EventType"]) == 13
    assert enums()["CompletionQuality"] == ("RUSHED", "NORMAL", "THOROUGH")
    assert enums()["EngagementLevel"] == ("LOW", "MEDIUM", "HIGH")


def _event(**overrides):
    row = {"id": "c" + "e" * 24, "userId": "u1", "eventType": "CARD_REVIEWED", "eventData": "{}",
           "dayOfWeek": 3, "timeOfDay": 10, "sessionPerformanceScore": 80, "contextMetadataId": CONTEXT_ID}
    row.update(overrides)
    return row


def _insert_event(conn, row):
    columns = ", ".join(f'"{c}"' for c in row)
    conn.execute(f"INSERT INTO behavioral_events ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                 list(row.values()))


def test_a_valid_event_is_accepted(db):
    with connect(db) as conn:
        _insert_event(conn, _event())
        assert conn.execute("SELECT count(*) FROM behavioral_events").fetchone()[0] == 1


@pytest.mark.parametrize("overrides, fragment", [
    ({"dayOfWeek": 9}, "behavioral_events_dayOfWeek_range"),
    ({"timeOfDay": 24}, "behavioral_events_timeOfDay_range"),
    ({"sessionPerformanceScore": 101}, "behavioral_events_sessionPerformanceScore_range"),
    ({"id": "not-a-cuid"}, "behavioral_events_id_cuid"),
    ({"eventType": "CARD_FLIPPED"}, 'invalid input value for enum "EventType": "CARD_FLIPPED"'),
    ({"engagementLevel": "EXTREME"}, 'invalid input value for enum "EngagementLevel"'),
    ({"contextMetadataId": "c" + "z" * 24}, "behavioral_events_contextMetadataId_fkey"),
])
def test_invalid_events_are_rejected(db, overrides, fragment):
    with connect(db) as conn, pytest.raises(psycopg.Error) as info:
        _insert_event(conn, _event(**overrides))
    assert fragment in str(info.value)


@pytest.mark.parametrize("sql, fragment", [
    ("""UPDATE context_metadata SET "sleepHours" = 25""", "context_metadata_sleepHours_range"),
    ("""UPDATE context_metadata SET "energyLevel" = 0""", "context_metadata_energyLevel_range"),
    ("""INSERT INTO phase_assignments (id, "protocolId", "phaseLabel", "phaseType", "startDate", "endDate",
        "plannedDuration", "randomizationSeed", "interventionParams")
        VALUES ('c' || repeat('p', 24), 'c' || repeat('b', 24), 'baseline_1', 'BASELINE', '2026-01-10',
                '2026-01-01', 5, 1, '{}')""", "phase_assignments_dates"),
    ("""INSERT INTO phase_assignments (id, "protocolId", "phaseLabel", "phaseType", "startDate",
        "plannedDuration", "randomizationSeed", "interventionParams")
        VALUES ('c' || repeat('p', 24), 'c' || repeat('x', 24), 'baseline_1', 'BASELINE', now(), 5, 1, '{}')""",
     "phase_assignments_protocolId_fkey"),
])
def test_other_rules_are_enforced(db, sql, fragment):
    with connect(db) as conn, pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    assert fragment in str(info.value)


def test_reader_role_cannot_write_and_writer_only_writes_provenance(db):
    with connect(db, role=READER_ROLE) as conn:
        assert conn.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _insert_event(conn, _event())
    with connect(db, role=WRITER_ROLE) as conn:
        conn.execute(
            """INSERT INTO analysis_runs (id, "protocolId", "runName", "analysisType", "codeCommitHash",
               "dataVersionHash", "inputParams", "resultsSummary")
               VALUES ('c' || repeat('r', 24), %s, 'run', 'test', 'abc', 'md5', '{}', '{}')""", (PROTOCOL_ID,))
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM experiment_protocols")
