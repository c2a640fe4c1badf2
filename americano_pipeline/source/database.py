"""Which source database the pipeline talks to, and as which login: ``AMERICANO_DATABASE_URL`` (with
``AMERICANO_WRITER_DATABASE_URL`` and ``AMERICANO_ADMIN_DATABASE_URL``) when set, else the embedded cluster.

Why a module of its own: the connection helpers (``connection``) know nothing about where a URL comes from, and
the embedded cluster (``cluster``) knows nothing about the configuration that chooses it; this is the one place
that decides, so the CLI, the Dagster resource and the sensor cannot disagree.

Three URLs, one per job (issue #13, least privilege): the pipeline reads as the read-only login, records
provenance as the writer login, and only maintenance (schema, seeding) uses the owner. On an external server the
writer and admin URLs default to AMERICANO_DATABASE_URL, so a single login that is a member of both roles and owns
the schema (the setup before the separate logins) keeps working.
"""

from __future__ import annotations

import psycopg

from americano_pipeline import settings
from americano_pipeline.source.cluster import ClusterError, LocalCluster
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect


def _external(url_for_the_job: str | None) -> str | None:
    """On the external server AMERICANO_DATABASE_URL names, the job's own URL or else that one; None when the
    embedded cluster is in use (which the job's variable alone never changes)."""
    read_only = settings.external_database_url()
    return (url_for_the_job or read_only) if read_only else None


def database_url() -> str:
    """The pipeline's read-only login: AMERICANO_DATABASE_URL if set, else the embedded cluster's reader."""
    return _external(None) or LocalCluster.default().url(login=READER_ROLE)


def writer_url() -> str:
    """The provenance login: AMERICANO_WRITER_DATABASE_URL, else AMERICANO_DATABASE_URL, else the embedded writer."""
    return _external(settings.external_writer_url()) or LocalCluster.default().url(login=WRITER_ROLE)


def admin_url() -> str:
    """The maintenance login (schema, seeding): AMERICANO_ADMIN_DATABASE_URL, else AMERICANO_DATABASE_URL, else the
    embedded cluster's owner."""
    return _external(settings.external_admin_url()) or LocalCluster.default().url()


def embedded_cluster() -> LocalCluster:
    """The embedded cluster; ``ClusterError`` when AMERICANO_DATABASE_URL says it is not in use."""
    if settings.external_database_url():
        raise ClusterError("AMERICANO_DATABASE_URL is set, so the embedded cluster is not used; "
                           "unset it to manage the local cluster")
    return LocalCluster.default()


def owner_connection() -> psycopg.Connection:
    """A connection as the maintenance login, starting the embedded cluster first when it is the default."""
    if not settings.external_database_url():
        LocalCluster.default().start()
    return connect(admin_url())
