"""Connections to the source PostgreSQL database, with one-line errors instead of tracebacks.

Why not use psycopg directly everywhere: a misconfigured URL must produce a message that names host, port,
database and the cause (never the password), and every connection must end up in the role its job allows.

The roles are logins of their own (issue #13, least privilege): none is a superuser, none bypasses row-level
security, none is a member of any role, so neither ``RESET ROLE`` nor ``SET ROLE`` reaches beyond the login's own
privileges. The pipeline logs in as ``READER_ROLE`` (the extract) and ``WRITER_ROLE`` (provenance); the research
API as ``API_ROLE``; the cluster owner only for maintenance. ``connect(url, role=...)`` still issues ``SET ROLE``:
a no-op when the URL's login is that role, and what narrows the single login of an external server that is a
member of both roles (the setup before issue #13, which ``RESET ROLE`` can undo).
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

READER_ROLE = "americano_reader"  # SELECT on the five source tables
WRITER_ROLE = "americano_writer"  # SELECT, INSERT, UPDATE on analysis_runs and imported context_metadata rows
API_ROLE = "americano_api"  # SELECT on the five source tables, under row-level security
LOGINS = (READER_ROLE, WRITER_ROLE, API_ROLE)


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
    """Open a connection; with ``role``, switch to it (SET ROLE): a no-op for that role's own login, and what keeps
    a broader login (an external server's single login) to the role's privileges."""
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
