"""DVC as a Dagster resource: track the current snapshot cut, restore any earlier one by its hash."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

import dagster as dg


class DataVersioningResource(dg.ConfigurableResource):
    """Local-first DVC; pushes to ``remote`` (default AMERICANO_DVC_REMOTE) when one is configured."""

    remote: str | None = Field(default=None, description="DVC remote URL or local directory; "
                                                         "default AMERICANO_DVC_REMOTE, else none (cache only)")

    def resolved_remote(self) -> str | None:
        return self.remote or os.environ.get("AMERICANO_DVC_REMOTE") or None

    def track(self, directory: Path):
        from americano_pipeline.versioning import track

        return track(directory, self.resolved_remote())

    def restore(self, tracked: Path, md5: str, target: Path) -> Path:
        from americano_pipeline.versioning import restore

        return restore(tracked, md5, target, self.resolved_remote())
