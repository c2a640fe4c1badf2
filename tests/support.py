"""Helpers the tests import (fixtures stay in the conftest files): a free local port, an ASGI app served on
loopback, a seeded database, the URL of one of the cluster's least-privilege logins."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from americano_pipeline.source.cluster import LocalCluster
from americano_pipeline.source.connection import connect


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, what: str, *, lifespan: str = "auto") -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn in a thread on http://127.0.0.1:<port>, bound before the server starts
    (no race for a free port); yields its base URL and stops the server after. ``what`` names it if it cannot
    start."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def seeded_database(cluster: LocalCluster, name: str, config, truth_path: Path):
    """(Re)create database ``name`` on ``cluster``, seed it with ``config``; returns (URL, seed report)."""
    from americano_pipeline.demo.seeding import seed

    with connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = cluster.url(name)
    with connect(url) as conn:
        report = seed(conn, config, ground_truth_path=truth_path)
    return url, report


def login_url(cluster: LocalCluster, url: str, login: str) -> str:
    """The URL of ``login`` (a login of ``cluster``, e.g. ``READER_ROLE``) on the database that ``url`` names."""
    return cluster.url(conninfo_to_dict(url)["dbname"], login=login)
