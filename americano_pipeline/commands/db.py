"""`americano db start|stop|status|reset|url [--admin]`: the embedded cluster, and the URLs the pipeline uses."""

from __future__ import annotations

import json

from americano_pipeline.source.connection import READER_ROLE, connect, describe
from americano_pipeline.source.database import admin_url, database_url, embedded_cluster
from americano_pipeline.source.schema import ensure_schema


def db(action: str, *, admin: bool = False) -> None:
    """Run ``action``; ``url`` prints the pipeline's read-only login, or with ``admin`` the maintenance (owner) login
    that creates the schema and seeds, the only one with more than the pipeline's privileges."""
    if action == "url":
        print(admin_url() if admin else database_url())
        return
    cluster = embedded_cluster()
    if action == "start":
        started = cluster.start()
        with connect(cluster.url()) as conn:
            applied = ensure_schema(conn)
        print(f"PostgreSQL {'started' if started else 'already running'} at "
              f"{describe(cluster.url(login=READER_ROLE))} (data {cluster.pgdata}; passwords in "
              f"{cluster.credentials_file}){'; schema created' if applied else ''}")
    elif action == "stop":
        print("PostgreSQL stopped" if cluster.stop() else "PostgreSQL was not running")
    elif action == "reset":
        cluster.reset()
        print(f"removed the local cluster at {cluster.root}; `americano db start` creates an empty one")
    else:
        print(json.dumps(cluster.status(), indent=2))
