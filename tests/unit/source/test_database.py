"""Each job of the pipeline gets its own login: the embedded cluster's, or an external server's from the
environment, where one AMERICANO_DATABASE_URL still serves every job as before the separate logins."""

import json

import pytest

from americano_pipeline.cli import main
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source import database
from americano_pipeline.source.connection import API_ROLE, READER_ROLE, WRITER_ROLE

EMBEDDED = "postgresql://{}@127.0.0.1:54400/americano"
EXTERNAL = "postgresql://pipeline:secret@db.example.org:5432/americano"
VARIABLES = ("AMERICANO_DATABASE_URL", "AMERICANO_WRITER_DATABASE_URL", "AMERICANO_ADMIN_DATABASE_URL")


@pytest.fixture(autouse=True)
def embedded(tmp_path, monkeypatch):
    """An embedded cluster (never started) under a private data dir, and no external URL in the environment."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AMERICANO_PG_PORT", "54400")
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "credentials.json").write_text(json.dumps(
        {"user": "americano", "password": "o", "logins": {READER_ROLE: "r", WRITER_ROLE: "w", API_ROLE: "a"}}))


def urls() -> tuple[str, str, str]:
    return database.database_url(), database.writer_url(), database.admin_url()


def test_the_embedded_cluster_gives_each_job_its_login():
    assert urls() == (EMBEDDED.format("americano_reader:r"), EMBEDDED.format("americano_writer:w"),
                      EMBEDDED.format("americano:o"))


def test_one_external_url_serves_every_job_as_before(monkeypatch):
    monkeypatch.setenv("AMERICANO_DATABASE_URL", EXTERNAL)
    assert urls() == (EXTERNAL, EXTERNAL, EXTERNAL)


def test_an_external_server_may_give_each_job_its_own_login(monkeypatch):
    writer, admin = EXTERNAL.replace("pipeline", "writer"), EXTERNAL.replace("pipeline", "owner")
    monkeypatch.setenv("AMERICANO_DATABASE_URL", EXTERNAL)
    monkeypatch.setenv("AMERICANO_WRITER_DATABASE_URL", writer)
    monkeypatch.setenv("AMERICANO_ADMIN_DATABASE_URL", admin)
    assert urls() == (EXTERNAL, writer, admin)


def test_a_job_url_without_americano_database_url_leaves_the_embedded_cluster_in_use(monkeypatch):
    monkeypatch.setenv("AMERICANO_WRITER_DATABASE_URL", EXTERNAL)
    monkeypatch.setenv("AMERICANO_ADMIN_DATABASE_URL", EXTERNAL)
    assert urls() == (EMBEDDED.format("americano_reader:r"), EMBEDDED.format("americano_writer:w"),
                      EMBEDDED.format("americano:o"))


def test_db_url_prints_the_read_only_login_and_with_admin_the_owner(capsys):
    assert main(["db", "url"]) == 0 and main(["db", "url", "--admin"]) == 0
    assert capsys.readouterr().out.splitlines() == [EMBEDDED.format("americano_reader:r"),
                                                    EMBEDDED.format("americano:o")]


def test_the_resource_never_pairs_an_explicit_url_with_a_writer_from_the_environment(monkeypatch):
    elsewhere = EXTERNAL.replace("db.example.org", "elsewhere")
    monkeypatch.setenv("AMERICANO_DATABASE_URL", elsewhere)
    monkeypatch.setenv("AMERICANO_WRITER_DATABASE_URL", elsewhere.replace("pipeline", "writer"))
    assert PostgresResource().resolved_writer_url() == elsewhere.replace("pipeline", "writer")
    assert PostgresResource(url=EXTERNAL).resolved_writer_url() == EXTERNAL
    assert PostgresResource(url=EXTERNAL, writer_url="postgresql://w@h/d").resolved_writer_url() == "postgresql://w@h/d"
