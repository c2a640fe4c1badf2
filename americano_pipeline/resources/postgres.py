"""The source PostgreSQL database as a Dagster resource.

Why a resource and not a module-level connection: the code location must load without touching a database
(the UI and sensors import it constantly), and tests swap the URL without patching.
"""

from __future__ import annotations

import psycopg
from pydantic import Field

import dagster as dg
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source import database


class PostgresResource(dg.ConfigurableResource):
    """Connections to the study database: reads as americano_reader, provenance writes as americano_writer, each
    through its own login (``source.database``), so neither can gain the other's privileges."""

    url: str | None = Field(
        default=None,
        description="postgresql:// URL of the read-only login; default AMERICANO_DATABASE_URL, else the embedded "
                    "cluster's americano_reader.",
    )
    writer_url: str | None = Field(
        default=None,
        description="postgresql:// URL of the provenance login; default `url` when that is given, else "
                    "AMERICANO_WRITER_DATABASE_URL or AMERICANO_DATABASE_URL, else the embedded americano_writer.",
    )

    def resolved_url(self) -> str:
        return self.url or database.database_url()

    def resolved_writer_url(self) -> str:
        """An explicit ``url`` is never paired with a writer login from the environment, which may name another
        server: without ``writer_url`` its login writes, after SET ROLE americano_writer."""
        return self.writer_url or self.url or database.writer_url()

    def reader(self) -> psycopg.Connection:
        """A connection whose session role can only SELECT (the extract's role)."""
        return connect(self.resolved_url(), role=READER_ROLE)

    def writer(self) -> psycopg.Connection:
        """A connection that may insert and update analysis_runs only."""
        return connect(self.resolved_writer_url(), role=WRITER_ROLE)
