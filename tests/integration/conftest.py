"""Fixtures of the integration tests: a seeded template database, cheap copies of it, a private data dir, and
the seeded demo study with its DVC-versioned snapshot and built warehouse (shared by warehouse and analysis)."""

import json
import uuid
from datetime import date

import pytest

from americano_pipeline.lineage.snapshot_store import new_snapshot_id, promote
from americano_pipeline.source import extract as source_extract
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow
from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.demo.synthetic import SeedConfig
from americano_pipeline.lineage.data_version import track
from tests.support import seeded_database
from tests.integration.warehouse_support import STUDY, Source, materialize

SEED = SeedConfig(users=2, days=290, events_per_day=20, seed=11, end_date=date(2026, 10, 31))


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


@pytest.fixture(scope="session")
def source(pg_cluster, tmp_path_factory) -> Source:
    """The seeded demo study and its snapshot promoted to <data>/raw/current and versioned with DVC."""
    data_dir = tmp_path_factory.mktemp("study") / "data"
    truth_path = data_dir / "demo" / "ground_truth.json"
    url, _ = seeded_database(pg_cluster, "study_seeded", STUDY, truth_path)
    with connect(url, role=READER_ROLE) as conn:
        files = source_extract.extract(conn, data_dir / "raw", new_snapshot_id(), ExtractWindow(days=ALL_HISTORY))
    promote(files, data_dir / "raw" / "current")
    version = track(data_dir / "raw" / "current")
    return Source(url, data_dir, json.loads(truth_path.read_text()), version)


@pytest.fixture(scope="session")
def built(source):
    """The study's warehouse, materialized once through Dagster."""
    return materialize(source.data_dir)
