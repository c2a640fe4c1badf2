"""The one data version: DVC's hash of the current snapshot cut, how it is recorded, and byte-exact restore.

Why DVC: every analysis records the hash of the data it read; DVC keeps each version in its content-addressed
cache (and in a remote when ``AMERICANO_DVC_REMOTE`` is set; a local directory works), so any earlier cut can
be restored byte for byte after newer snapshots replaced it.

Why a DVC repository of its own, beside the snapshots (``<data dir>/raw/.dvc``, ``--no-scm``), and never the
code's git work tree: the pipeline writes a new pointer file (``current.dvc``) at every snapshot. Inside the
code's repository that file would make every later run record ``git.dirty=true``, so the recorded commit would no
longer say which code ran. The data's history lives in DVC's cache; the code's in git; a result records both.

``current_data_version()`` is the only reader of the recorded version: the snapshot's MLflow run, the analyses'
tags, ``result.json`` and ``analysis_runs`` all take it from here. DVC takes a repository-wide lock, so callers
serialize (the snapshot asset runs in a pool of one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from americano_pipeline import settings

REMOTE_NAME = "americano"
UNVERSIONED = "unversioned"
_VERSION = re.compile(r"[0-9a-f]{32}(\.dir)?")


def current_data_version(tracked: Path | None = None) -> str:
    """The DVC hash recorded for ``tracked`` (default the current snapshot cut) in ``<tracked>.dvc``, e.g.
    ``8c66...dir``; ``UNVERSIONED`` before the first snapshot was promoted."""
    import yaml

    tracked = tracked or settings.current_snapshot_dir()
    dvc_file = tracked.with_name(tracked.name + ".dvc")
    if not dvc_file.exists():
        return UNVERSIONED
    return str(yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"])


def _repo(tracked: Path, remote: str | None):
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")  # no usage reports from a research pipeline
    from dvc.repo import Repo

    root = tracked.resolve().parent
    if not (root / ".dvc").is_dir():
        Repo.init(str(root), no_scm=True)
    repo = Repo(str(root))
    if remote:
        with repo.config.edit() as config:
            config["remote"][REMOTE_NAME] = {"url": remote}
            config["core"]["remote"] = REMOTE_NAME
        repo = Repo(str(root))
    return repo


def file_md5(path: Path) -> str:
    """DVC's hash of a file: the md5 of its bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def track(directory: Path, remote: str | None = None) -> str:
    """``dvc add`` the directory (and ``dvc push`` it when a remote is configured); returns its data version,
    DVC's hash of the directory (``<md5>.dir``)."""
    directory = directory.resolve()
    repo = _repo(directory, remote)
    stage = repo.add(str(directory))[0]
    if remote:
        repo.push(targets=[stage.path])
    return stage.outs[0].hash_info.value


class VersionNotFound(LookupError):
    """No cache or remote holds the requested data version."""


class RestoreRefused(ValueError):
    """A restore that would build a path from a malformed hash or overwrite a user's files."""


def checked_version(md5: str) -> str:
    """``md5`` when it is a DVC hash (32 lowercase hex digits, ``.dir`` for a directory); checked before any path
    is built from it, so a hash can never name a file outside the cache (``../../etc``, ``/etc/passwd``)."""
    if not isinstance(md5, str) or not _VERSION.fullmatch(md5):
        raise RestoreRefused(
            f"{md5!r} is not a data version: expected 32 lowercase hex digits, optionally followed by .dir "
            "(the data_version_hash recorded with a snapshot, e.g. 8c66bd0a2f8a1e2f0c2f4b7d9e1a3c5b.dir)"
        )
    return md5


def _require_free(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RestoreRefused(
            f"restore target {target} already exists and is not an empty directory; nothing was changed. "
            "Choose a new or empty directory (--to DIR)"
        )


def restore(tracked: Path, md5: str, target: Path, remote: str | None = None) -> Path:
    """Rebuild version ``md5`` of the tracked directory into ``target``, from the cache or remote.

    Nothing of the user's is overwritten: the hash is validated before any path is built, ``target`` must be new
    or an empty directory (``RestoreRefused`` otherwise), and the files are assembled and verified in a staging
    directory beside it that is renamed into place at the end and removed on any error."""
    if not checked_version(md5).endswith(".dir"):
        raise RestoreRefused(f"{md5} is the hash of a single file; a snapshot cut's data version ends in .dir")
    _require_free(target)
    repo = _repo(tracked, remote)
    stores = [repo.cache.local] + ([repo.cloud.get_remote_odb(REMOTE_NAME)] if remote else [])

    def locate(oid: str) -> Path:
        for store in stores:
            candidate = Path(store.oid_to_path(oid))
            if candidate.exists():
                return candidate
        where = "the DVC cache" + (f" or the remote {remote}" if remote else "")
        raise VersionNotFound(f"data version {oid} is not in {where}")

    listing = json.loads(locate(md5).read_text())
    staging = target.with_name(f".{target.name}.restoring")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for entry in listing:
            destination, source = staging / entry["relpath"], locate(entry["md5"])
            shutil.copyfile(source, destination)
            if file_md5(destination) != entry["md5"]:
                raise VersionNotFound(f"{entry['relpath']} of data version {md5}: the stored copy {source} is corrupt")
        _require_free(target)
        os.rename(staging, target)  # replaces an empty directory, fails on a non-empty one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
