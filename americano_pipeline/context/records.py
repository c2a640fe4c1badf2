"""The one shape every wearable importer produces: a user's day as one source measured it.

Why a day per source and not per sample: ``context_metadata`` and the analyses work on the user's calendar days,
and each vendor already summarises a night or a day in its own way (Oura's sleep period, WHOOP's cycle, Apple
Health's samples). Keeping one row per (user, source, day) keeps the vendors apart: HRV is SDNN for Apple Health
and RMSSD for Oura and WHOOP, so the two are never averaged into one number (``HRV_METHOD``).

Why the day is the wake-up day at every source: a night belongs to the calendar day it ends on (Oura's ``day``,
the end of WHOOP's sleep, the end of Apple Health's longest sleep), so the three sources' rows for one day describe
the same night and can be compared side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date, datetime

SOURCES = ("APPLE_HEALTH", "OURA", "WHOOP")
HRV_METHOD = {"APPLE_HEALTH": "SDNN", "OURA": "RMSSD", "WHOOP": "RMSSD"}

# Physically possible bounds, as the source table's CHECK constraints state them (schema.sql). Importers keep what
# the vendor sent, impossible values included: the import's asset check blocks them naming the row, instead of an
# importer dropping them unseen.
BOUNDS = {
    "sleep_hours": (0.0, 24.0),
    "sleep_quality": (1, 10),
    "hrv_score": (1, 300),
    "resting_heart_rate": (20, 250),
    "activity_strain": (0.0, 21.0),
    "steps": (0, 200_000),
}


@dataclass(frozen=True)
class WearableDay:
    """One source's measurements of one calendar day of a user (local to the user's time zone).

    The row's identity is ``key``, (``user_id``, ``source``, ``local_date``): one row per user, source and day, the
    key the store upserts on. ``external_id`` is traceability, not identity: the vendor's id of the document(s) the
    day was built from (Oura's daily_sleep id, else its sleep period's, else its daily_activity's; WHOOP's cycle id;
    ``<local date>`` for an Apple Health export, which has no ids of its own). A later sync of the same day may carry
    another external id (a re-scored night, another document chosen): it then updates that day's row instead of
    adding one. ``recorded_at`` is when the day ended or was scored (the row's ``timestamp``). Units: hours, 1-10
    score, milliseconds (HRV), beats per minute, WHOOP strain 0-21, steps.
    """

    user_id: str
    source: str
    external_id: str
    local_date: date
    recorded_at: datetime
    sleep_hours: float | None = None
    sleep_quality: int | None = None
    hrv_score: int | None = None
    resting_heart_rate: int | None = None
    activity_strain: float | None = None
    steps: int | None = None

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not self.external_id:
            raise ValueError(f"{self.source} day {self.local_date} of user {self.user_id} has no external id")
        if self.recorded_at.tzinfo is None:
            raise ValueError(f"{self.source} day {self.local_date}: recorded_at {self.recorded_at} has no time zone")

    @property
    def key(self) -> tuple[str, str, date]:
        """What identifies the row: (user, source, day); see the class docstring for why not ``external_id``."""
        return self.user_id, self.source, self.local_date

    @property
    def measurements(self) -> dict[str, float | int | None]:
        """The measured fields by name (everything after ``recorded_at``)."""
        names = [f.name for f in fields(self)][5:]
        return {name: getattr(self, name) for name in names}


def quality_from_percent(percent: float | None) -> int | None:
    """A vendor's 0-100 sleep score as the 1-10 ``sleep_quality``, by deciles: [0, 10) -> 1, [10, 20) -> 2, ...,
    [90, 100] -> 10. A score outside 0-100 is not clamped into range: it maps by the same deciles to a quality
    outside 1-10 (-5 -> 0, 130 -> 14), so the import's asset check (``BOUNDS``) names it instead of the importer
    hiding it."""
    if percent is None:
        return None
    return 10 if percent == 100 else math.floor(percent / 10) + 1


def whole(value: float | None) -> int | None:
    """A vendor's number as the whole number ``WearableDay`` keeps (HRV in ms, beats per minute)."""
    return None if value is None else round(value)
