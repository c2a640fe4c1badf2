"""The source PostgreSQL database as a Dagster resource.

Why a resource and not a module-level connection: the code location must load without touching a database
(the UI and sensors import it constantly), and tests swap the URL without patching.
"""

from __future__ import annotations

import psycopg
from pydantic import Field

import dagster as dg
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.database import database_url


class PostgresResource(dg.ConfigurableResource):
    """Connections to the study database: reads as americano_reader, provenance writes as americano_writer."""

    url: str | None = Field(
        default=None,
        description="postgresql:// URL; default AMERICANO_DATABASE_URL, else the embedded local cluster.",
    )

    def resolved_url(self) -> str:
        return self.url or database_url()

    def reader(self) -> psycopg.Connection:
        """A connection whose session role can only SELECT (the extract's role)."""
        return connect(self.resolved_url(), role=READER_ROLE)

    def writer(self) -> psycopg.Connection:
        """A connection that may insert and update analysis_runs only."""
        return connect(self.resolved_url(), role=WRITER_ROLE)
