"""One data version, read from the pointer DVC writes beside the current cut, and restored from DVC's cache
without overwriting anything of the user's."""

import hashlib
from pathlib import Path

import pytest

from americano_pipeline.lineage.data_version import (
    UNVERSIONED,
    RestoreRefused,
    VersionNotFound,
    current_data_version,
    file_md5,
    restore,
    track,
)


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


# --- restore: nothing of the user's is overwritten, no path is built from a malformed hash ----------------------


@pytest.fixture
def versioned(tmp_path):
    """A directory versioned with real DVC (its own no-scm repository beside it): (directory, version, bytes)."""
    current = tmp_path / "raw" / "current"
    current.mkdir(parents=True)
    files = {"a.parquet": b"first table", "b.parquet": b"second table" * 1000}
    for name, content in files.items():
        (current / name).write_bytes(content)
    return current, track(current), files


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".restoring"))


def test_a_version_is_restored_into_a_new_or_an_empty_directory(versioned, tmp_path):
    current, version, files = versioned
    for target in (tmp_path / "new", tmp_path / "empty"):
        if target.name == "empty":
            target.mkdir()
        assert restore(current, version, target) == target
        assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    assert leftovers(tmp_path) == []


def test_a_non_empty_target_is_refused_and_left_intact(versioned, tmp_path):
    current, version, _ = versioned
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    with pytest.raises(RestoreRefused, match=f"restore target {target} already exists and is not an empty "
                                             "directory; nothing was changed"):
        restore(current, version, target)
    assert [p.name for p in target.iterdir()] == ["thesis.tex"] and leftovers(tmp_path) == []
    with pytest.raises(RestoreRefused, match="already exists and is not an empty directory"):
        restore(current, version, target / "thesis.tex")


@pytest.mark.parametrize("bad", ["", "../../etc", "/etc/passwd", "8C66BD0A2F8A1E2F0C2F4B7D9E1A3C5B.dir",
                                 "8c66bd0a2f8a1e2f0c2f4b7d9e1a3c5b.dir/../x", None])
def test_a_malformed_hash_is_refused_before_any_path_is_built(versioned, tmp_path, bad):
    current, _, _ = versioned
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(RestoreRefused, match=f"{bad!r} is not a data version: expected 32 lowercase hex digits"):
        restore(current, bad, tmp_path / "restored")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_file_hash_a_missing_version_and_a_corrupt_copy_leave_nothing_behind(versioned, tmp_path):
    current, version, _ = versioned
    with pytest.raises(RestoreRefused, match="is the hash of a single file"):
        restore(current, "0" * 32, tmp_path / "restored")
    with pytest.raises(VersionNotFound, match=f"data version {'0' * 32}.dir is not in the DVC cache"):
        restore(current, "0" * 32 + ".dir", tmp_path / "restored")
    cached = current.parent / ".dvc" / "cache" / "files" / "md5"
    copy = next(p for p in cached.rglob("*") if p.is_file() and not p.name.endswith(".dir"))
    copy.chmod(0o644)
    copy.write_bytes(b"bit rot")
    with pytest.raises(VersionNotFound, match="the stored copy .* is corrupt"):
        restore(current, version, tmp_path / "restored")
    assert not (tmp_path / "restored").exists() and leftovers(tmp_path) == []
