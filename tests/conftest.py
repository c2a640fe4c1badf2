"""Shared fixtures: a real PostgreSQL cluster for the whole test session, fresh databases on demand.

The cluster lives in its own temporary directory on a free port, so tests never touch the developer's
data/postgres cluster or collide with a running demo.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest

from americano_pipeline.database import connect
from americano_pipeline.demo.cluster import LocalCluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seeded_database(cluster: LocalCluster, name: str, config, truth_path: Path):
    """(Re)create database ``name`` on ``cluster``, seed it with ``config``; returns (URL, seed report)."""
    from americano_pipeline.demo.seeding import seed

    with connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = cluster.url(name)
    with connect(url) as conn:
        report = seed(conn, config, ground_truth_path=truth_path)
    return url, report


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
