"""The warehouse as the caller sees it: the read-only marts (``analysis.marts.MartsReader``) with every query
restricted to one user, on one read-only connection shared by the requests that read the same published file.

Why shared, and why per file identity: opening the DuckDB file costs more than a whole fast request (about
12 ms of a 20 ms randomization test), so requests borrow a cursor of one connection instead. The pipeline
publishes a new warehouse by renaming a finished copy over the file (``lineage.warehouse_release``), and records
a failed build beside it (``<file>.failed.json``), so what is published is identified by the file's device,
inode, modification time and size together with that failure record's. Every request compares that identity
(two ``stat`` calls) with the connection's: a new one opens a new connection for it and the requests after it,
while requests already reading the old file finish on it; the old connection closes when its last borrower
returns, so a replaced file is held no longer than the requests that were reading it.

Why the connection is also closed when idle (``IDLE_SECONDS``, by ``close_idle``, which the app calls
periodically): DuckDB lets a process write the file only when no other process has it open, and a process that
writes the published file itself (a plain ``dbt build``, a notebook) must get in once the API is quiet. Such a
writer may also refuse the API's open for a moment: the open is retried for up to ``OPEN_RETRY_SECONDS``.

What one connection's queries return never changes (the file it reads does not), so ``UserMarts`` remembers the
reads and checks of a request's inputs (a protocol's days, a user's daily series after its Pandera check, the
release) with the connection, in a bounded least-recently-used memo that goes with it; callers get copies.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import pandas as pd

from americano_pipeline.analysis.marts import MartsReader
from americano_pipeline.analysis.protocol import ProtocolData, metric_catalogue
from americano_pipeline.api.inputs import InvalidInput, validated_series

OPEN_RETRY_SECONDS = 5.0
IDLE_SECONDS = 1.0
MEMO_ENTRIES = 256
_PAUSE = 0.05
_ALIAS = "published"
_FIRST_DAY, _LAST_DAY = date(1, 1, 1), date(9999, 12, 31)  # every day a mart can hold
T = TypeVar("T")


class NotFound(LookupError):
    """What the caller asked for is not theirs or does not exist (the API answers 404 for both)."""


class UnknownMetric(LookupError):
    """The metric is not in the warehouse's catalogue; the message lists the catalogue."""


class WarehouseBusy(RuntimeError):
    """The warehouse file stayed locked by a writer for longer than ``OPEN_RETRY_SECONDS``."""


def catalogue_metric(metric: str) -> str:
    """``metric`` if the catalogue (``dbt_project.yml`` var ``metric_catalogue``) has it, else ``UnknownMetric``."""
    catalogue = metric_catalogue()
    if metric not in catalogue:
        raise UnknownMetric(f"unknown metric {metric!r}; the catalogue is {', '.join(catalogue)}")
    return metric


def _identity(path: Path) -> tuple:
    """What is published at ``path``: the file's and its failure record's identity (module doc);
    ``FileNotFoundError`` when there is no warehouse."""
    from americano_pipeline.lineage.warehouse_release import failure_path

    if not path.exists():
        raise FileNotFoundError(f"the warehouse {path} does not exist; materialize the dbt assets (group warehouse) "
                                "first")
    return tuple((s.st_dev, s.st_ino, s.st_mtime_ns, s.st_size) if s else None
                 for s in (_stat(path), _stat(failure_path(path))))


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _open(path: Path):
    """A read-only connection to ``path`` in a database instance of its own, retried while a writer holds the file
    (module doc). Why its own instance: ``duckdb.connect(path)`` hands out the instance a connection still open
    in this process holds for that path, which after a rename over it is the replaced file."""
    import duckdb

    deadline = time.monotonic() + OPEN_RETRY_SECONDS
    while True:
        conn = duckdb.connect(":memory:")
        try:
            conn.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {_ALIAS} (READ_ONLY)")
            return conn
        except BaseException as exc:
            conn.close()
            if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"the warehouse {path} stayed locked by a writer for {OPEN_RETRY_SECONDS:.0f} "
                                    "s; retry shortly") from None
            time.sleep(_PAUSE)


class _Connection:
    """One read-only connection to one published identity, the requests borrowing it, and its memo."""

    def __init__(self, identity: tuple, conn):
        self.identity, self.conn = identity, conn
        self.borrowers, self.retired, self.last_used = 0, False, time.monotonic()
        self._memo: OrderedDict = OrderedDict()
        self._memo_lock = threading.Lock()

    def remembered(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` for this connection's lifetime (least recently used out first);
        an exception is not remembered."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        return value


class Warehouse:
    """The published marts file and the one connection requests share to it (module doc)."""

    def __init__(self, path: Path):
        self.path = path
        self._current: _Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def marts(self, user_id: str) -> Iterator[UserMarts]:
        """The marts of ``user_id`` on a cursor of the connection to what is published now."""
        connection = self._borrow()
        try:
            with self._lock:
                cursor = connection.conn.cursor()
            cursor.execute(f"USE {_ALIAS}")
            with UserMarts(user_id, self.path, cursor, connection) as marts:
                yield marts
        finally:
            self._give_back(connection)

    def _borrow(self) -> _Connection:
        identity = _identity(self.path)
        with self._lock:
            if self._current is not None and self._current.identity == identity:
                return self._lend(self._current)
        opened = _Connection(identity, _open(self.path))  # outside the lock: the open may wait for a writer
        with self._lock:
            if self._current is not None and self._current.identity == identity:
                opened.conn.close()
                return self._lend(self._current)
            self._retire()
            self._current = opened
            return self._lend(opened)

    @staticmethod
    def _lend(connection: _Connection) -> _Connection:
        connection.borrowers += 1
        connection.last_used = time.monotonic()
        return connection

    def _give_back(self, connection: _Connection) -> None:
        with self._lock:
            connection.borrowers -= 1
            if connection.retired and connection.borrowers == 0:
                connection.conn.close()

    def _retire(self) -> None:
        """Stop lending the current connection; it closes now or when its last borrower returns (lock held)."""
        current, self._current = self._current, None
        if current is not None:
            current.retired = True
            if current.borrowers == 0:
                current.conn.close()

    def close_idle(self) -> None:
        """Close the connection when no request has used it for ``IDLE_SECONDS`` or the file was replaced."""
        try:
            identity = _identity(self.path)
        except FileNotFoundError:
            identity = None
        with self._lock:
            current = self._current
            if current is not None and (current.identity != identity or (
                    current.borrowers == 0 and time.monotonic() - current.last_used > IDLE_SECONDS)):
                self._retire()

    def close(self) -> None:
        with self._lock:
            self._retire()


class UserMarts(MartsReader):
    """The marts of one user on a borrowed cursor: a protocol of another user is ``NotFound``, daily series are
    the user's only, and what was read is remembered with the connection (module doc)."""

    def __init__(self, user_id: str, path: Path, cursor, connection: _Connection):
        super().__init__(path)
        self.user_id, self._conn, self._connection = user_id, cursor, connection

    def __enter__(self) -> UserMarts:
        return self

    def _remembered(self, key: tuple, compute: Callable[[], T]) -> T:
        return self._connection.remembered((self.user_id, *key), compute)

    def protocol(self, protocol_id: str) -> ProtocolData:
        data = self._remembered(("protocol", protocol_id), lambda: self._owned_protocol(protocol_id))
        return dataclasses.replace(data, days=data.days.copy())

    def _owned_protocol(self, protocol_id: str) -> ProtocolData:
        if not self.owns(self.user_id, protocol_id):
            raise NotFound(f"protocol {protocol_id} is not one of your protocols in the warehouse")
        return super().protocol(protocol_id)

    def release(self):
        return self._connection.remembered(("release",), super().release)

    def user_metric(self, metric: str, start, end) -> pd.Series:
        """The user's daily ``metric`` from ``start`` to ``end`` (``MartsReader.daily_metric``) after its Pandera
        check (``inputs.validated_series``); ``NotFound`` when the warehouse has no such day, ``UnknownMetric``
        outside the catalogue, ``InvalidInput`` when it fails the check.

        Why the whole series is read and checked once: every window of a series that passes the check passes it
        too (one row per day, in date order, finite), so a request's window is a slice of the user's whole
        series, read and checked once per connection; reading and checking each window was 3 ms of an 8 ms
        change-point request. A whole series that fails is checked window by window, so only the windows with
        the bad day are refused."""
        whole, passed = self._remembered(("metric", catalogue_metric(metric)), lambda: _checked_whole(
            self.daily_metric(self.user_id, metric, _FIRST_DAY, _LAST_DAY)))
        window = whole.loc[pd.Timestamp(start):pd.Timestamp(end)]
        if window.empty:
            raise NotFound(f"you have no days of {metric} from {start} to {end} in the warehouse")
        return window.copy() if passed else validated_series(window.copy())


def _checked_whole(series: pd.Series) -> tuple[pd.Series, bool]:
    """``series`` and whether it passes the Pandera check as a whole (``UserMarts.user_metric``)."""
    try:
        return validated_series(series), True
    except InvalidInput:
        return series, False
