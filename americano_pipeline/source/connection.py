"""Connections to the source PostgreSQL database, with one-line errors instead of tracebacks.

Why not use psycopg directly everywhere: a misconfigured URL must produce a message that names host, port,
database and the cause, and every reader must go through the read-only role (SET ROLE), whichever login the
URL carries.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

READER_ROLE = "americano_reader"
WRITER_ROLE = "americano_writer"


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL server cannot be reached or refuses the login."""


def describe(url: str) -> str:
    """host:port/database as user, for messages (never the password)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnavailable(f"AMERICANO_DATABASE_URL is not a valid PostgreSQL URL: {exc}") from None
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or '?'} as {info.get('user') or '?'}"


def connect(url: str, *, role: str | None = None, autocommit: bool = False,
            connect_timeout: int = 5) -> psycopg.Connection:
    """Open a connection; with ``role``, switch to it (SET ROLE) so its privileges, not the login's, apply."""
    where = describe(url)
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        cause = " ".join(str(exc).split())
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {cause}") from None
    if role:
        try:
            conn.execute(f'SET ROLE "{role}"')
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseUnavailable(
                f"PostgreSQL at {where}: cannot switch to role {role} ({exc.diag.message_primary}); "
                f"apply the schema (americano db start / americano seed) or GRANT {role} TO the login"
            ) from None
        if not autocommit:
            conn.commit()
    return conn
