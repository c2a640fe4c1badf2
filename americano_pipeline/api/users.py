"""The source database as the caller: the ``americano_api`` login, row-level security restricting every table to
the user named by the session setting ``app.user_id`` (policies in ``source/schema.sql``).

Why the database decides and not a WHERE clause here: a query that forgets the user filter still sees only the
caller's rows, and another user's protocol is indistinguishable from one that does not exist (the API answers
404 for both). The setting is transaction-local (``set_config(..., true)``), so a pooled connection never carries
one request's user into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from americano_pipeline import settings
from americano_pipeline.source.connection import API_ROLE, describe

PROTOCOL_COLUMNS = '"id", "protocolName", "designType", "primaryOutcome", "startDate", "endDate"'


def api_database_url() -> str:
    """AMERICANO_API_DATABASE_URL, else AMERICANO_DATABASE_URL (entering americano_api by SET ROLE), else the
    embedded cluster's americano_api login."""
    from americano_pipeline.source.cluster import LocalCluster

    external = settings.external_database_url()
    if external:
        return settings.external_api_url() or external
    return LocalCluster.default().url(login=API_ROLE)


class UserDatabase:
    """A small pool of ``americano_api`` connections; ``as_user`` lends one inside a transaction as that user."""

    def __init__(self, url: str, *, max_size: int = 4):
        from psycopg_pool import ConnectionPool

        self.where = describe(url)
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False, timeout=10,
                                    kwargs={"connect_timeout": 5}, configure=self._configure, name="americano_api")

    @staticmethod
    def _configure(conn) -> None:
        conn.execute(f'SET ROLE "{API_ROLE}"')
        conn.commit()

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def as_user(self, user_id: str) -> Iterator:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('app.user_id', %s, true)", (user_id,))
            yield conn


def protocols(conn) -> list[dict]:
    """The caller's protocols (row-level security keeps the others out), newest first."""
    rows = conn.execute(f'SELECT {PROTOCOL_COLUMNS} FROM "experiment_protocols" ORDER BY "startDate" DESC, "id"')
    return [_protocol(row) for row in rows.fetchall()]


def protocol(conn, protocol_id: str) -> dict | None:
    """The caller's protocol ``protocol_id``, or None when it is not theirs or does not exist."""
    row = conn.execute(f'SELECT {PROTOCOL_COLUMNS} FROM "experiment_protocols" WHERE "id" = %s',
                       (protocol_id,)).fetchone()
    return None if row is None else _protocol(row)


def latest_runs(conn, protocol_id: str) -> dict[str, dict]:
    """The latest published (not exploratory) ``analysis_runs`` row per analysis type of the caller's protocol:
    type -> its provenance."""
    rows = conn.execute(
        """SELECT DISTINCT ON ("analysisType") "analysisType", "id", "mlflowRunId", "codeCommitHash",
                  "dataVersionHash", "completedAt"
           FROM "analysis_runs"
           WHERE "protocolId" = %s AND coalesce(("inputParams" ->> 'exploratory')::boolean, false) = false
           ORDER BY "analysisType", "startedAt" DESC""",
        (protocol_id,),
    ).fetchall()
    return {row[0]: {"analysisRunId": row[1], "mlflowRunId": row[2], "codeCommit": row[3],
                     "dataVersionHash": row[4], "completedAt": row[5].isoformat() if row[5] else None}
            for row in rows}


def _protocol(row) -> dict:
    return {"id": row[0], "protocolName": row[1], "designType": row[2], "primaryOutcome": row[3],
            "startDate": row[4].date().isoformat(), "endDate": row[5].date().isoformat() if row[5] else None}
