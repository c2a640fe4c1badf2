"""Freshness of the wearable imports in a snapshot cut: for every user and wearable source (``context.records.SOURCES``)
with imported days in ``context_metadata``, the latest ``localDate`` against the snapshot's own day.

Why per user and source: an expired or revoked token, a vendor outage or a ring left in a drawer stops one source of
one user while every other row keeps arriving, so neither the snapshot's freshness nor its row counts show it; the
analyses would go on with covariates that end early. Why the snapshot's day (the local day of its id's instant in
``AMERICANO_TIMEZONE``) and not today's: the check describes the cut, so a check of an older snapshot gives the
same answer it gave then.

Threshold ``MAX_AGE_DAYS`` (2): the morning sync imports yesterday (a night belongs to the day it ends on and is
scored after waking), so a source in good order is 1 day behind, 2 when the snapshot ran before that morning's sync
or the vendor scored the night late (the sync asks again for the two days before); 3 or more days is a source that
stopped. A source that never imported anything for a user is not expected and not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from americano_pipeline.context.records import SOURCES

if TYPE_CHECKING:
    import pandas as pd

MAX_AGE_DAYS = 2
SNAPSHOT_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"  # lineage.snapshot_store.new_snapshot_id


@dataclass(frozen=True)
class SourceFreshness:
    """One user's wearable source in a cut: its latest imported day and how many days before the snapshot's."""

    user_id: str
    source: str
    last_day: date
    age_days: int
    stale: bool

    def describe(self) -> str:
        return f"user {self.user_id}, {self.source}: last day {self.last_day} ({self.age_days} days old)"


def snapshot_day(snapshot_id: str, zone: str) -> date:
    """The local day (in the IANA ``zone``) of the instant a snapshot id names (``20261201T223348141788Z``)."""
    moment = datetime.strptime(snapshot_id, SNAPSHOT_ID_FORMAT).replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(zone)).date()


def source_freshness(context: pd.DataFrame, day: date, max_age_days: int = MAX_AGE_DAYS) -> list[SourceFreshness]:
    """Every (user, wearable source) with imported rows in ``context`` (``context_metadata`` columns ``userId``,
    ``source``, ``localDate``), stale when its latest day is more than ``max_age_days`` before ``day``; sorted by
    user and source."""
    imported = context[context["source"].astype("object").isin(SOURCES) & context["localDate"].notna()]
    latest = imported.groupby([imported["userId"].astype("object"), imported["source"].astype("object")],
                              sort=True)["localDate"].max()
    return [SourceFreshness(user_id, source, last_day, (day - last_day).days, (day - last_day).days > max_age_days)
            for (user_id, source), last_day in latest.items()]
