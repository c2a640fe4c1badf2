"""`americano restore <hash> [--to DIR]`: an earlier snapshot cut rebuilt byte for byte from DVC, into a new or
empty directory (a non-empty one is refused and left as it is)."""

from __future__ import annotations

from pathlib import Path

from americano_pipeline import settings
from americano_pipeline.lineage.data_version import checked_version
from americano_pipeline.lineage.data_version import restore as restore_version


def restore(data_version: str, to: str | None) -> None:
    target = Path(to) if to else settings.restored_dir() / checked_version(data_version)
    restored = restore_version(settings.current_snapshot_dir(), data_version, target, settings.dvc_remote())
    for path in sorted(restored.iterdir()):
        print(f"  {path}  {path.stat().st_size:,} bytes")
