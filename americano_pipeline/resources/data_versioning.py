"""DVC as a Dagster resource: where snapshot versions are pushed (``AMERICANO_DVC_REMOTE`` or run config)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

import dagster as dg
from americano_pipeline import settings


class DataVersioningResource(dg.ConfigurableResource):
    """Local-first DVC; pushes to ``remote`` (default AMERICANO_DVC_REMOTE) when one is configured."""

    remote: str | None = Field(default=None, description="DVC remote URL or local directory; "
                                                         "default AMERICANO_DVC_REMOTE, else none (cache only)")

    def resolved_remote(self) -> str | None:
        return self.remote or settings.dvc_remote()

    def track(self, directory: Path) -> str:
        """``dvc add`` (and push) ``directory``; returns its data version (``lineage.data_version.track``)."""
        from americano_pipeline.lineage.data_version import track

        return track(directory, self.resolved_remote())
