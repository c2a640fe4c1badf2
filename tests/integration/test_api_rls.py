"""Row-level security for the research API (policies in source/schema.sql): the americano_api login sees only the
rows of the user in the setting app.user_id, in all five tables, and none without it; the extract's reader and
the provenance writer keep every row; re-applying the schema keeps it so."""

from __future__ import annotations

import pytest

from americano_pipeline.lineage.analysis_runs import new_cuid
from americano_pipeline.source.connection import API_ROLE, READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.schema import ensure_schema
from tests.support import login_url

pytestmark = pytest.mark.integration

TABLES = ("experiment_protocols", "phase_assignments", "context_metadata", "behavioral_events", "analysis_runs")
OWNER_OF = {  # the user a row belongs to, as the owner sees it
    "experiment_protocols": 'SELECT "userId" FROM experiment_protocols',
    "phase_assignments": 'SELECT p."userId" FROM phase_assignments a JOIN experiment_protocols p '
                         'ON p.id = a."protocolId"',
    "context_metadata": 'SELECT "userId" FROM context_metadata',
    "behavioral_events": 'SELECT "userId" FROM behavioral_events',
    "analysis_runs": 'SELECT p."userId" FROM analysis_runs r JOIN experiment_protocols p ON p.id = r."protocolId"',
}
INSERT_RUN = """INSERT INTO analysis_runs (id, "protocolId", "runName", "analysisType", "codeCommitHash",
                "dataVersionHash", "inputParams", "resultsSummary")
                VALUES (%s, %s, 'r', 'its_result', 'c', 'd', '{}', '{}')"""


@pytest.fixture
def counts(source_db):
    """Rows per table and user as the owner sees them, after one analysis_runs row per protocol."""
    with connect(source_db) as owner:
        for (protocol_id,) in owner.execute("SELECT id FROM experiment_protocols").fetchall():
            owner.execute(INSERT_RUN, (new_cuid(), protocol_id))
        owner.commit()
        found = {}
        for table, sql in OWNER_OF.items():
            for (user,) in owner.execute(sql).fetchall():
                found.setdefault(user, {}).setdefault(table, 0)
                found[user][table] += 1
    assert len(found) == 2 and all(len(tables) == len(TABLES) for tables in found.values())
    return found


def visible(conn) -> dict[str, int]:
    return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in TABLES}


def test_the_api_login_sees_only_the_rows_of_the_user_in_app_user_id(pg_cluster, source_db, counts):
    with connect(login_url(pg_cluster, source_db, API_ROLE), autocommit=True) as conn:
        assert visible(conn) == dict.fromkeys(TABLES, 0)  # no user set: nothing
        for user, expected in counts.items():
            conn.execute("SELECT set_config('app.user_id', %s, false)", (user,))
            assert visible(conn) == expected
            users = {row[0] for row in conn.execute('SELECT DISTINCT "userId" FROM behavioral_events')}
            assert users == {user}
        conn.execute("SELECT set_config('app.user_id', '', false)")
        assert visible(conn) == dict.fromkeys(TABLES, 0)
        conn.execute("SELECT set_config('app.user_id', 'nobody', false)")
        assert visible(conn) == dict.fromkeys(TABLES, 0)


def test_set_role_americano_api_from_the_owner_is_confined_the_same_way(source_db, counts):
    user = next(iter(counts))
    with connect(source_db, autocommit=True) as conn:
        conn.execute(f"SET ROLE {API_ROLE}")
        assert visible(conn) == dict.fromkeys(TABLES, 0)
        conn.execute("SELECT set_config('app.user_id', %s, false)", (user,))
        assert visible(conn) == counts[user]


def test_the_reader_keeps_every_row_and_the_writer_records_provenance(pg_cluster, source_db, counts):
    total = {table: sum(tables[table] for tables in counts.values()) for table in TABLES}
    with connect(login_url(pg_cluster, source_db, READER_ROLE)) as reader:
        assert visible(reader) == total
    with connect(login_url(pg_cluster, source_db, WRITER_ROLE)) as writer:
        protocol_id = writer.execute('SELECT "protocolId" FROM analysis_runs LIMIT 1').fetchone()[0]
        writer.execute(INSERT_RUN, (new_cuid(), protocol_id))
        updated = writer.execute('UPDATE analysis_runs SET "completedAt" = "startedAt"').rowcount
        assert updated == total["analysis_runs"] + 1


def test_reapplying_the_schema_keeps_the_policies(pg_cluster, source_db, counts):
    with connect(source_db) as owner:
        ensure_schema(owner)
        ensure_schema(owner)
        owner.commit()
        policies = owner.execute("SELECT tablename, policyname, roles::text FROM pg_policies ORDER BY 1, 2").fetchall()
    assert {table for table, name, _ in policies if name == "api_own_rows"} == set(TABLES)
    user = next(iter(counts))
    with connect(login_url(pg_cluster, source_db, API_ROLE), autocommit=True) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (user,))
        assert visible(conn) == counts[user]
