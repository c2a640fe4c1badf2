"""The warehouse as the caller sees it: the read-only marts (``analysis.marts.MartsReader``) with every query
restricted to one user, opened per request and retried briefly while a build swaps the file.

Why per request: the pipeline publishes a new warehouse by renaming a finished copy over the file; a connection
opened before keeps reading the old one, and the next request opens the new one, so a build never waits for the
API and the API never waits for a build. DuckDB may still refuse an open for a moment (a process writing the
published file itself, e.g. a plain ``dbt build``): the open is retried for up to ``OPEN_RETRY_SECONDS``.
"""

from __future__ import annotations

import time

import pandas as pd

from americano_pipeline.analysis.marts import MartsReader
from americano_pipeline.analysis.protocol import ProtocolData, metric_catalogue

OPEN_RETRY_SECONDS = 5.0
_PAUSE = 0.05


class NotFound(LookupError):
    """What the caller asked for is not theirs or does not exist (the API answers 404 for both)."""


class UnknownMetric(LookupError):
    """The metric is not in the warehouse's catalogue; the message lists the catalogue."""


def catalogue_metric(metric: str) -> str:
    """``metric`` if the catalogue (``dbt_project.yml`` var ``metric_catalogue``) has it, else ``UnknownMetric``."""
    catalogue = metric_catalogue()
    if metric not in catalogue:
        raise UnknownMetric(f"unknown metric {metric!r}; the catalogue is {', '.join(catalogue)}")
    return metric


class WarehouseBusy(RuntimeError):
    """The warehouse file stayed locked by a writer for longer than ``OPEN_RETRY_SECONDS``."""


class UserMarts(MartsReader):
    """The marts of one user: a protocol of another user is ``NotFound``, and daily series are the user's only."""

    def __init__(self, user_id: str, path=None):
        super().__init__(path)
        self.user_id = user_id

    def __enter__(self) -> UserMarts:
        import duckdb

        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                return super().__enter__()
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(f"the warehouse {self.path} stayed locked by a writer for "
                                        f"{OPEN_RETRY_SECONDS:.0f} s; retry shortly") from None
                time.sleep(_PAUSE)

    def protocol(self, protocol_id: str) -> ProtocolData:
        if not self.owns(self.user_id, protocol_id):
            raise NotFound(f"protocol {protocol_id} is not one of your protocols in the warehouse")
        return super().protocol(protocol_id)

    def user_metric(self, metric: str, start, end) -> pd.Series:
        """The user's daily ``metric`` from ``start`` to ``end`` (``MartsReader.daily_metric``); ``NotFound`` when
        the warehouse has no such day, ``UnknownMetric`` outside the catalogue."""
        series = self.daily_metric(self.user_id, catalogue_metric(metric), start, end)
        if series.empty:
            raise NotFound(f"you have no days of {metric} from {start} to {end} in the warehouse")
        return series
