"""The source schema applies to a fresh cluster, the database itself rejects impossible rows, and each login can do
what its job needs and nothing more: the extract reads, the writer records provenance, the API reads under
row-level security, and no SET ROLE or RESET ROLE reaches further (issue #13, least privilege)."""

import json
import stat
from contextlib import contextmanager

import psycopg
import pytest

from americano_pipeline.source.cluster import OWNER
from americano_pipeline.source.connection import API_ROLE, LOGINS, READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.schema import ensure_schema
from americano_pipeline.source.schema import TABLES, enums
from tests.support import login_url

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


@pytest.fixture
def login(pg_cluster, db):
    """Factory: an autocommit connection to the test database as one of the cluster's logins, with no SET ROLE."""
    return lambda name: connect(login_url(pg_cluster, db, name), autocommit=True)


@contextmanager
def denied(message: str):
    """The block fails with PostgreSQL's insufficient-privilege error, whose message is exactly ``message``."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        yield
    assert info.value.diag.message_primary == message


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


INSERT_RUN = """INSERT INTO analysis_runs (id, "protocolId", "runName", "analysisType", "codeCommitHash",
                "dataVersionHash", "inputParams", "resultsSummary")
                VALUES ('c' || repeat('r', 24), %s, 'run', 'test', 'abc', 'md5', '{}', '{}')"""


def test_a_single_login_of_an_external_server_narrows_itself_with_set_role(db):
    """The AMERICANO_DATABASE_URL path with one login that is a member of both roles, as before issue #13."""
    with connect(db, role=READER_ROLE) as conn:
        assert conn.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0] == 1
        with denied("permission denied for table behavioral_events"):
            _insert_event(conn, _event())
    with connect(db, role=WRITER_ROLE) as conn:
        conn.execute(INSERT_RUN, (PROTOCOL_ID,))
        conn.commit()
        with denied("permission denied for table experiment_protocols"):
            conn.execute("DELETE FROM experiment_protocols")


def test_no_login_is_superuser_bypasses_row_security_or_belongs_to_a_role(db):
    with connect(db) as conn:
        rows = conn.execute(
            """SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolinherit, rolcreaterole, rolcreatedb,
                      rolreplication, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
               FROM pg_roles r WHERE rolname = ANY(%s) ORDER BY rolname""", [list(LOGINS)]).fetchall()
        superusers = conn.execute("SELECT array_agg(rolname) FROM pg_roles WHERE rolsuper").fetchone()[0]
    assert rows == [(name, True, False, False, False, False, False, False, 0) for name in sorted(LOGINS)]
    assert superusers == [OWNER]  # the cluster owner, for maintenance only


@pytest.mark.parametrize("statement, message", [
    ("DELETE FROM behavioral_events", "permission denied for table behavioral_events"),
    ("""UPDATE experiment_protocols SET "protocolName" = 'x'""", "permission denied for table experiment_protocols"),
    ("TRUNCATE phase_assignments", "permission denied for table phase_assignments"),
    ("""INSERT INTO context_metadata (id, "userId", mood, "energyLevel", location)
        VALUES ('c' || repeat('n', 24), 'u1', 'LOW', 1, 'HOME')""", "permission denied for table context_metadata"),
    (INSERT_RUN, "permission denied for table analysis_runs"),
    ("CREATE TABLE scratch (id INTEGER)", "permission denied for schema public"),
])
def test_the_extract_login_reads_the_source_tables_and_cannot_write(login, statement, message):
    with login(READER_ROLE) as conn:
        assert [conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES] == [1, 0, 1, 0, 0]
        with denied(message):
            conn.execute(statement, (PROTOCOL_ID,) if "%s" in statement else None)


@pytest.mark.parametrize("name", [READER_ROLE, WRITER_ROLE])
def test_reset_role_and_set_role_reach_no_further_than_the_login(login, name):
    with login(name) as conn:
        conn.execute("RESET ROLE")
        assert conn.execute("SELECT current_user, session_user").fetchone() == (name, name)
        with denied("permission denied for table behavioral_events"):
            conn.execute("DELETE FROM behavioral_events")
        for role in (OWNER, *(other for other in LOGINS if other != name), "pg_write_all_data"):
            with denied(f'permission denied to set role "{role}"'):
                conn.execute(f'SET ROLE "{role}"')
        with denied(f'permission denied to set session authorization "{OWNER}"'):
            conn.execute(f'SET SESSION AUTHORIZATION "{OWNER}"')


@pytest.mark.parametrize("statement, message", [
    ("DELETE FROM analysis_runs", "permission denied for table analysis_runs"),
    ("TRUNCATE analysis_runs", "permission denied for table analysis_runs"),
    ("SELECT count(*) FROM behavioral_events", "permission denied for table behavioral_events"),
    ("""UPDATE experiment_protocols SET "protocolName" = 'x'""", "permission denied for table experiment_protocols"),
])
def test_the_writer_login_records_provenance_and_nothing_else(login, statement, message):
    with login(WRITER_ROLE) as conn:
        conn.execute(INSERT_RUN, (PROTOCOL_ID,))
        conn.execute("""UPDATE analysis_runs SET "completedAt" = "startedAt" WHERE "protocolId" = %s""", (PROTOCOL_ID,))
        assert conn.execute('SELECT count(*) FROM analysis_runs WHERE "completedAt" IS NOT NULL').fetchone()[0] == 1
        with denied(message):
            conn.execute(statement)


def test_the_api_login_only_reads_and_row_level_security_applies_to_it(db, login):
    with connect(db, autocommit=True) as owner:  # the owner is not subject to the policies
        assert owner.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0] == 1
    with login(API_ROLE) as conn:  # no app.user_id: row-level security shows no user's rows
        assert conn.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM context_metadata").fetchone()[0] == 0
        with denied("permission denied for table context_metadata"):
            conn.execute("DELETE FROM context_metadata")
        with denied("permission denied for table analysis_runs"):
            conn.execute(INSERT_RUN, (PROTOCOL_ID,))


def test_other_tables_of_the_app_database_are_not_granted(pg_cluster, make_database):
    url = make_database()
    with connect(url) as conn:
        conn.execute('CREATE TABLE "users" (id TEXT PRIMARY KEY)')  # e.g. the study app's own tables
        ensure_schema(conn)
        conn.commit()
    for name in LOGINS:
        with connect(login_url(pg_cluster, url, name)) as conn, denied("permission denied for table users"):
            conn.execute('SELECT count(*) FROM "users"')


def test_privileges_granted_by_hand_are_revoked_when_the_schema_is_ensured_again(db, login):
    with connect(db) as conn:
        conn.execute(f"GRANT ALL ON behavioral_events TO {READER_ROLE}, {WRITER_ROLE}, {API_ROLE}")
        assert ensure_schema(conn) is False
        conn.commit()
    for name in LOGINS:
        with login(name) as conn, denied("permission denied for table behavioral_events"):
            conn.execute("DELETE FROM behavioral_events")


def test_passwords_are_generated_once_kept_private_and_never_logged(pg_cluster):
    mode = stat.S_IMODE(pg_cluster.credentials_file.stat().st_mode)
    passwords = json.loads(pg_cluster.credentials_file.read_text())["logins"]
    assert mode == 0o600 and sorted(passwords) == sorted(LOGINS)
    assert pg_cluster.start() is False  # already running: nothing regenerated
    assert json.loads(pg_cluster.credentials_file.read_text())["logins"] == passwords
    server_log = pg_cluster.log_file.read_text()
    assert not [name for name, password in passwords.items() if password in server_log]


def test_a_cluster_created_before_the_logins_gets_them_at_the_next_start(pg_cluster):
    credentials = json.loads(pg_cluster.credentials_file.read_text())
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {READER_ROLE} NOLOGIN INHERIT BYPASSRLS")  # the NOLOGIN group of old schemas
    pg_cluster.credentials_file.write_text(json.dumps({"user": credentials["user"],
                                                       "password": credentials["password"]}))
    pg_cluster.start()
    renewed = json.loads(pg_cluster.credentials_file.read_text())["logins"]
    assert renewed[READER_ROLE] != credentials["logins"][READER_ROLE]
    with connect(pg_cluster.url("postgres", login=READER_ROLE)) as conn:
        assert conn.execute("SELECT rolcanlogin, rolinherit, rolbypassrls FROM pg_roles WHERE rolname = current_user"
                            ).fetchone() == (True, False, False)
