"""One data version, read from the pointer DVC writes beside the current cut."""

import hashlib

from americano_pipeline.lineage.data_version import UNVERSIONED, current_data_version, file_md5


def test_the_version_is_the_hash_in_the_pointer_file_or_unversioned_before_any(tmp_path, monkeypatch):
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path))
    assert current_data_version() == UNVERSIONED
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "current.dvc").write_text(
        "outs:\n- md5: 8c66bd0a2f8a1e2f0c2f4b7d9e1a3c5b.dir\n  size: 10\n  nfiles: 5\n  hash: md5\n  path: current\n")
    assert current_data_version() == "8c66bd0a2f8a1e2f0c2f4b7d9e1a3c5b.dir"


def test_a_file_hash_is_the_md5_of_its_bytes(tmp_path):
    path = tmp_path / "table.parquet"
    path.write_bytes(b"x" * 3_000_000)
    assert file_md5(path) == hashlib.md5(b"x" * 3_000_000).hexdigest()
