"""The durable journal of answered computations still to be recorded: one SQLite file (WAL) per data directory.

Why a file and not a queue in memory: recording (``recording``) runs after the answer and falls behind under load;
a backlog in memory dies with the process, a journal does not. The next process on the same file (a restart, or
another API server or uvicorn worker on the same data dir) records what is left.

How: ``append`` is one INSERT and commit on the request path (about 0.1 ms: WAL with ``synchronous=NORMAL``, which
survives the death of the process, not the loss of power of the machine). ``claim`` takes the oldest entry nobody
holds, in one UPDATE under SQLite's write lock, so two processes never take the same one; it counts the attempt
first, so an entry whose recording may have started (``Entry.attempts`` > 0) is recorded idempotently. ``done``
deletes an entry, ``retry`` hands it back for later, ``release`` as if never claimed. A claim outlives a process
killed mid-recording: ``release_orphans`` frees the claims of this host's processes that are gone, and any claim
older than ``LEASE_SECONDS`` is free again. The file is bounded (``MAX_BYTES``): beyond it, as on a full disk,
``append`` raises ``sqlite3.OperationalError`` and the caller says which computation was not journalled.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from americano_pipeline import settings

MAX_BYTES = 256 * 1024 * 1024  # some 300,000 computations of about 800 bytes: hours of recording
LEASE_SECONDS = 600.0  # a claim older than this is free again (its holder hangs or died on another host)
BUSY_SECONDS = 5.0  # how long a statement waits for another connection's write to finish
JOURNAL_ERRORS = (sqlite3.Error, OSError)  # what a journal that cannot be written or read raises

_SCHEMA = """CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    claimed_at REAL,
    retry_at REAL NOT NULL DEFAULT 0
)"""


def journal_path() -> Path:
    """AMERICANO_API_JOURNAL, default ``<data dir>/api/journal.sqlite`` (beside the API's secret)."""
    return Path(os.environ.get("AMERICANO_API_JOURNAL") or settings.data_dir() / "api" / "journal.sqlite").resolve()


@dataclass(frozen=True)
class Entry:
    """One claimed computation: its journal position, id, payload and how often its recording was started."""

    seq: int
    id: str
    payload: str
    attempts: int  # started before this claim: > 0 means a record of it may already exist


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    """The journal file at ``path``: one connection per thread, opened on first use (module doc)."""

    def __init__(self, path: Path):
        self.path = path
        self._host = socket.gethostname()
        self.owner = f"{self._host}:{os.getpid()}:{secrets.token_hex(4)}"
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count={MAX_BYTES // page_size}")
                conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            with self._lock:
                self._opened.append(conn)
            self._local.conn = conn
        return conn

    def append(self, entry_id: str, payload: str) -> None:
        """Journal one computation (committed when this returns)."""
        self._conn().execute("INSERT INTO pending (id, payload) VALUES (?, ?)", (entry_id, payload))

    def claim(self) -> Entry | None:
        """The oldest entry that nobody holds and is not waiting for a retry, now held by this journal's owner."""
        now = time.time()
        rows = self._conn().execute(
            """UPDATE pending SET owner = ?, claimed_at = ?, attempts = attempts + 1
               WHERE seq = (SELECT seq FROM pending WHERE (owner IS NULL OR claimed_at < ?) AND retry_at <= ?
                            ORDER BY seq LIMIT 1)
               RETURNING seq, id, payload, attempts - 1""",
            (self.owner, now, now - LEASE_SECONDS, now)).fetchall()  # fetchall: the statement ends, the lock goes
        return Entry(*rows[0]) if rows else None

    def done(self, entry: Entry) -> None:
        """Forget ``entry``: it is recorded."""
        self._conn().execute("DELETE FROM pending WHERE seq = ? AND owner = ?", (entry.seq, self.owner))

    def release(self, entry: Entry) -> None:
        """Hand ``entry`` back unrecorded, as if it had not been claimed (its recording never started)."""
        self._conn().execute("UPDATE pending SET owner = NULL, claimed_at = NULL, attempts = attempts - 1 "
                             "WHERE seq = ? AND owner = ?", (entry.seq, self.owner))

    def retry(self, entry: Entry, delay_seconds: float) -> None:
        """Hand ``entry`` back, to be claimed again in ``delay_seconds``."""
        self._conn().execute("UPDATE pending SET owner = NULL, claimed_at = NULL, retry_at = ? "
                             "WHERE seq = ? AND owner = ?", (time.time() + delay_seconds, entry.seq, self.owner))

    def release_orphans(self) -> int:
        """Free the claims of processes of this host that are gone; returns how many entries that freed."""
        conn, freed = self._conn(), 0
        for (owner,) in conn.execute("SELECT DISTINCT owner FROM pending WHERE owner IS NOT NULL").fetchall():
            host, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if host == self._host and pid.isdigit() and not _alive(int(pid)):
                freed += conn.execute("UPDATE pending SET owner = NULL, claimed_at = NULL WHERE owner = ?",
                                      (owner,)).rowcount
        return freed

    def pending(self) -> int:
        """Entries not yet recorded, by any process."""
        return self._conn().execute("SELECT count(*) FROM pending").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()
