"""`americano db start|stop|status|reset|url`: the embedded cluster, and the URL the pipeline uses."""

from __future__ import annotations

import json

from americano_pipeline.source.connection import connect, describe
from americano_pipeline.source.database import database_url, embedded_cluster
from americano_pipeline.source.schema import ensure_schema


def db(action: str) -> None:
    if action == "url":
        print(database_url())
        return
    cluster = embedded_cluster()
    if action == "start":
        started = cluster.start()
        with connect(cluster.url()) as conn:
            applied = ensure_schema(conn)
        print(f"PostgreSQL {'started' if started else 'already running'} at {describe(cluster.url())} "
              f"(data {cluster.pgdata}){'; schema created' if applied else ''}")
    elif action == "stop":
        print("PostgreSQL stopped" if cluster.stop() else "PostgreSQL was not running")
    elif action == "reset":
        cluster.reset()
        print(f"removed the local cluster at {cluster.root}; `americano db start` creates an empty one")
    else:
        print(json.dumps(cluster.status(), indent=2))
