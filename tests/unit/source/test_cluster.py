"""Missing server binaries give an instruction, not a traceback."""

import pytest

from americano_pipeline.source import cluster


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
