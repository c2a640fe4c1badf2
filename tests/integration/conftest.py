"""Fixtures of the integration tests: a seeded template database, cheap copies of it, a private data dir."""

import uuid
from datetime import date

import pytest

from americano_pipeline.database import connect
from americano_pipeline.demo.synthetic import SeedConfig
from tests.conftest import seeded_database

SEED = SeedConfig(users=2, days=150, events_per_day=20, seed=11, end_date=date(2026, 10, 31))


@pytest.fixture(scope="session")
def seeded_template(pg_cluster, tmp_path_factory):
    """A seeded database used only as a CREATE DATABASE ... TEMPLATE source."""
    name = "snapshot_template"
    seeded_database(pg_cluster, name, SEED, tmp_path_factory.mktemp("truth") / "ground_truth.json")
    return name


@pytest.fixture
def source_db(pg_cluster, seeded_template):
    """A private copy of the seeded database; returns its URL."""
    name = f"copy_{uuid.uuid4().hex[:10]}"
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_template}"')
    yield pg_cluster.url(name)
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(path))
    monkeypatch.delenv("AMERICANO_DVC_REMOTE", raising=False)
    return path
