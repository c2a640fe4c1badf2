"""`americano restore <hash> [--to DIR]`: an earlier snapshot cut rebuilt byte for byte from DVC."""

from __future__ import annotations

from pathlib import Path

from americano_pipeline import settings
from americano_pipeline.lineage.data_version import restore as restore_version


def restore(data_version: str, to: str | None) -> None:
    target = Path(to) if to else settings.restored_dir() / data_version
    restored = restore_version(settings.current_snapshot_dir(), data_version, target, settings.dvc_remote())
    for path in sorted(restored.iterdir()):
        print(f"  {path}  {path.stat().st_size:,} bytes")
