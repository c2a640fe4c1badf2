"""Atomic publication of a result directory: nothing is visible until everything is written.

Why this way: a reader (the study app, ``make demo``'s summary, a reviewer) must never see a half-written result,
and a failed run must leave the previous result intact. Files are written into a private staging directory next
to the target (same file system), then moved in with ``os.replace`` (atomic per file), ``result.json`` last:
it is the commit point, and it names the run that produced the figures next to it. The figure names are fixed
per method, so a new result replaces every file of the old one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RESULT_FILE = "result.json"


def result_directory(root: Path, asset: str, protocol_id: str, exploratory_metric: str | None = None) -> Path:
    """``<root>/<asset>/<protocol_id>/``; exploratory runs go to ``.../exploratory/<metric>/`` so they never
    replace the confirmatory result."""
    directory = root / asset / protocol_id
    return directory / "exploratory" / exploratory_metric if exploratory_metric else directory


def write_json(path: Path, payload: dict) -> Path:
    """Strict JSON (``allow_nan=False``: NaN/Infinity are not JSON and would break the study app's parser)."""
    path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return path


@contextmanager
def staging_directory(target: Path) -> Iterator[Path]:
    """A private directory beside ``target`` for the new files; removed afterwards, whatever happened."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, target: Path) -> list[Path]:
    """Move every staged file into ``target`` with ``os.replace``, ``result.json`` last; return the new paths."""
    target.mkdir(parents=True, exist_ok=True)
    names = sorted(path.name for path in staging.iterdir() if path.is_file())
    ordered = [name for name in names if name != RESULT_FILE] + [name for name in names if name == RESULT_FILE]
    for name in ordered:
        os.replace(staging / name, target / name)
    return [target / name for name in ordered]
