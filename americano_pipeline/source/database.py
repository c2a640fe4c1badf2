"""Which source database the pipeline talks to: ``AMERICANO_DATABASE_URL`` when set, else the embedded cluster.

Why a module of its own: the connection helpers (``connection``) know nothing about where a URL comes from, and
the embedded cluster (``cluster``) knows nothing about the configuration that chooses it; this is the one place
that decides, so the CLI, the Dagster resource and the sensor cannot disagree.
"""

from __future__ import annotations

import psycopg

from americano_pipeline import settings
from americano_pipeline.source.cluster import ClusterError, LocalCluster
from americano_pipeline.source.connection import connect


def database_url() -> str:
    """AMERICANO_DATABASE_URL if set, else the embedded local cluster's URL."""
    return settings.external_database_url() or LocalCluster.default().url()


def embedded_cluster() -> LocalCluster:
    """The embedded cluster; ``ClusterError`` when AMERICANO_DATABASE_URL says it is not in use."""
    if settings.external_database_url():
        raise ClusterError("AMERICANO_DATABASE_URL is set, so the embedded cluster is not used; "
                           "unset it to manage the local cluster")
    return LocalCluster.default()


def owner_connection() -> psycopg.Connection:
    """A connection as the login of the URL, starting the embedded cluster first when it is the default."""
    if not settings.external_database_url():
        LocalCluster.default().start()
    return connect(database_url())
