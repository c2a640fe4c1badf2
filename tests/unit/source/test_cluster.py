"""Missing server binaries give an instruction, not a traceback; each login has its URL from a private file."""

import json
import os
import stat

import pytest

from americano_pipeline.source import cluster
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE


def test_missing_binaries_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "DEBIAN_BINARIES", tmp_path / "nothing")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AMERICANO_PG_BINDIR", str(tmp_path))
    with pytest.raises(cluster.ClusterError, match="apt-get install postgresql.*AMERICANO_DATABASE_URL"):
        cluster.LocalCluster(tmp_path / "pg", 1).start()


def test_binaries_are_found_in_a_given_directory(tmp_path, monkeypatch):
    for tool in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / tool).touch()
    monkeypatch.setattr(cluster, "DEBIAN_BINARIES", tmp_path / "nothing")
    monkeypatch.setenv("AMERICANO_PG_BINDIR", str(tmp_path))
    assert cluster._server_binaries() == tmp_path


def _cluster_with(tmp_path, credentials: dict) -> cluster.LocalCluster:
    """A cluster (never started) whose credentials.json holds ``credentials``."""
    local = cluster.LocalCluster(tmp_path / "pg", 54400)
    local.root.mkdir()
    local.credentials_file.write_text(json.dumps(credentials))
    return local


def test_each_login_has_its_own_url_and_a_missing_one_says_what_to_run(tmp_path):
    local = _cluster_with(tmp_path, {"user": "americano", "password": "owner", "logins": {READER_ROLE: "reads"}})
    assert local.url() == "postgresql://americano:owner@127.0.0.1:54400/americano"
    assert local.url("postgres", login=READER_ROLE) == "postgresql://americano_reader:reads@127.0.0.1:54400/postgres"
    with pytest.raises(cluster.ClusterError, match="has no login americano_writer yet; run `americano db start`$"):
        local.url(login=WRITER_ROLE)


def test_credentials_are_never_readable_by_others_even_under_an_open_umask(tmp_path):
    local = _cluster_with(tmp_path, {})
    local.credentials_file.chmod(0o644)
    previous = os.umask(0)
    try:
        local._store_credentials({"user": "americano", "password": "owner", "logins": {}})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(local.credentials_file.stat().st_mode) == 0o600
    assert json.loads(local.credentials_file.read_text())["password"] == "owner"
    assert [path.name for path in local.root.iterdir()] == ["credentials.json"]
