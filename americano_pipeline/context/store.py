"""Imported wearable days written into ``context_metadata``, idempotently, through the writer login.

Why an upsert keyed by (user, source, day) that changes only what differs: a re-import of the same export, or a
daily sync overlapping yesterday's, must change nothing (not even a row's id or timestamp), while a day the vendor
scored later, or re-scored, must replace that day's row rather than add a second one. So each day is inserted when
its key is new, updated when any measured value (or the vendor's id) differs, and left alone otherwise; the result
counts the three. Rows are written by ``americano_writer``, whose row-level security policy admits only rows whose
source is not SELF_REPORT (schema.sql): an import can never read or overwrite what the user reported. The
self-report fields stay empty on imported rows (``energyLevel`` explicitly, over its column default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from americano_pipeline.context.records import WearableDay
from americano_pipeline.lineage.analysis_runs import new_cuid

if TYPE_CHECKING:
    import psycopg

COLUMNS = {"sleep_hours": "sleepHours", "sleep_quality": "sleepQuality", "hrv_score": "hrvScore",
           "resting_heart_rate": "restingHeartRate", "activity_strain": "activityStrain", "steps": "steps"}
_CHANGING = ['"externalId"', *(f'"{column}"' for column in COLUMNS.values())]

UPSERT_SQL = f"""
    INSERT INTO context_metadata (id, "userId", source, "localDate", "externalId", "timestamp", "energyLevel",
                                  {", ".join(f'"{column}"' for column in COLUMNS.values())})
    VALUES (%s, %s, %s, %s, %s, %s, NULL, {", ".join(["%s"] * len(COLUMNS))})
    ON CONFLICT ("userId", source, "localDate") DO UPDATE SET
        "timestamp" = EXCLUDED."timestamp",
        {", ".join(f"{column} = EXCLUDED.{column}" for column in _CHANGING)}
    WHERE ({", ".join(f"context_metadata.{column}" for column in _CHANGING)})
        IS DISTINCT FROM ({", ".join(f"EXCLUDED.{column}" for column in _CHANGING)})
    RETURNING (xmax = 0) AS inserted
"""


@dataclass(frozen=True)
class StoreResult:
    """What one write did: days inserted, days whose values changed, days already as imported."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def _parameters(day: WearableDay) -> list:
    return [new_cuid(), day.user_id, day.source, day.local_date, day.external_id, day.recorded_at,
            *(day.measurements[name] for name in COLUMNS)]


def store_days(conn: psycopg.Connection, days: Iterable[WearableDay]) -> StoreResult:
    """Upsert ``days`` in one transaction (all or none); a day given twice is refused, naming its key."""
    days = list(days)
    seen: dict[tuple, WearableDay] = {}
    for day in days:
        if day.key in seen:
            raise ValueError(f"{day.source} day {day.local_date} of user {day.user_id} is given twice "
                             f"({seen[day.key].external_id} and {day.external_id}): one row per user, source and day")
        seen[day.key] = day
    inserted = updated = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(UPSERT_SQL, [_parameters(day) for day in days], returning=True)
        while True:
            row = cur.fetchone()
            if row is not None:
                inserted += row[0]
                updated += not row[0]
            if not cur.nextset():
                break
    return StoreResult(inserted, updated, len(days) - inserted - updated)
