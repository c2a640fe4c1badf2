"""Shared fixtures: a real PostgreSQL cluster for the whole test session, fresh databases on demand.

The cluster lives in its own temporary directory on a free port, so tests never touch the developer's
data/postgres cluster or collide with a running demo. Helpers that tests import live in ``tests/support.py``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from americano_pipeline.source.connection import connect
from americano_pipeline.source.cluster import LocalCluster
from tests.support import free_port


@pytest.fixture(scope="session")
def pg_cluster():
    root = Path(tempfile.mkdtemp(prefix="americano-test-pg-"))
    cluster = LocalCluster(root, free_port())
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_database(pg_cluster):
    """Factory: an empty database on the session cluster, dropped after the test; returns its URL."""
    created = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return pg_cluster.url(name)

    yield make
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
