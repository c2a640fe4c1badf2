"""Oura (API v2) and WHOOP (developer API v2) documents generated from a table of days, so that tests and the
synthetic study can serve wearable data whose daily values are known beforehand.

Input: a DataFrame with one row per calendar day, columns ``date`` plus ``sleep_hours``, ``hrv_rmssd`` (ms),
``resting_heart_rate`` (bpm), and optionally ``strain`` (WHOOP's 0-21), ``steps`` (Oura's daily activity) and
``sleep_score`` (0-100: Oura's daily sleep score and WHOOP's sleep performance). A missing value (NaN) is a
measurement the vendor did not make: the field is null, and a WHOOP sleep without hours is UNSCORABLE.

Each generator returns ``{collection: [documents]}`` under the names the stand-in server serves (Oura: sleep,
daily_sleep, daily_activity; WHOOP: cycle, recovery, sleep). The documents hold the documented fields the importers
read plus enough of the rest (stages, contributors, timestamps) to look like a real response. Ids derive from user
and date (uuid5, and WHOOP's integer cycle ids from the date), so regenerating a table gives the same ids and a
re-import finds its rows.

Which night a row describes: the night that ends on ``date`` (the wake-up day), at both vendors, as their importers
date nights. Oura files a night under the day it ends (its ``day``): in bed at 23:00 local the evening before. A WHOOP
cycle starts when the user falls asleep and runs until the next one starts: asleep at 22:45 local the evening before
on most days, at 00:30 on ``date`` itself on every third day (by ordinal) and on days without sleep hours. So the
fixtures hold bedtimes that move across midnight between consecutive days, and a WHOOP cycle without a scored sleep,
which the importer dates by its start, still starts on ``date``.
"""

from __future__ import annotations

import uuid
import zlib
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

REQUIRED_COLUMNS = ("date", "sleep_hours", "hrv_rmssd", "resting_heart_rate")
OPTIONAL_COLUMNS = ("strain", "steps", "sleep_score")
_NAMESPACE = uuid.UUID("6f1c1f0e-7d4a-4c59-9a43-0b8f3f7e2a11")
_AWAKE_SECONDS = 20 * 60
_OURA_BEDTIME = time(23, 0)
_WHOOP_EVENING_ONSET = time(22, 45)
_WHOOP_AFTER_MIDNIGHT_ONSET = time(0, 30)


def oura_documents(days: pd.DataFrame, *, user_id: str, timezone_name: str = "UTC") -> dict[str, list[dict]]:
    """Oura's /v2/usercollection sleep (one long_sleep period a night), daily_sleep and daily_activity documents."""
    zone = ZoneInfo(timezone_name)
    documents: dict[str, list[dict]] = {"sleep": [], "daily_sleep": [], "daily_activity": []}
    for row in _rows(days):
        day = row["date"]
        documents["sleep"].append(_oura_sleep(row, user_id, zone))
        midnight = datetime.combine(day, time(0), zone)
        score = _integer(row["sleep_score"])
        documents["daily_sleep"].append({
            "id": _id(user_id, "oura/daily_sleep", day),
            "contributors": {name: score for name in ("deep_sleep", "efficiency", "latency", "rem_sleep",
                                                      "restfulness", "timing", "total_sleep")},
            "day": day.isoformat(),
            "score": score,
            "timestamp": midnight.isoformat(),
        })
        steps = _integer(row["steps"])
        if steps is not None:
            documents["daily_activity"].append({
                "id": _id(user_id, "oura/daily_activity", day),
                "active_calories": round(steps * 0.04),
                "day": day.isoformat(),
                "equivalent_walking_distance": round(steps * 0.75),
                "score": None,
                "steps": steps,
                "timestamp": (midnight + timedelta(hours=4)).isoformat(),
            })
    return documents


def whoop_documents(days: pd.DataFrame, *, user_id: str, timezone_name: str = "UTC") -> dict[str, list[dict]]:
    """WHOOP's /developer/v2 cycle, recovery and sleep records: one SCORED cycle a row, from its sleep onset (see
    above) to the next day's, its (non-nap) sleep ending on the row's ``date`` and its recovery."""
    zone = ZoneInfo(timezone_name)
    whoop_user = 10_000 + zlib.crc32(user_id.encode()) % 90_000
    rows = _rows(days)
    onsets = {row["date"]: _whoop_onset(row["date"], zone, slept=row["sleep_hours"] is not None) for row in rows}
    documents: dict[str, list[dict]] = {"cycle": [], "recovery": [], "sleep": []}
    for row in rows:
        day = row["date"]
        onset = onsets[day]
        ends = onsets.get(day + timedelta(days=1)) or _whoop_onset(day + timedelta(days=1), zone, slept=True)
        cycle_id = cycle_id_for(user_id, day)
        sleep_id = _id(user_id, "whoop/sleep", day)
        offset = _offset(onset)
        sleep, woke = _whoop_sleep(row, onset)
        common = {"user_id": whoop_user, "created_at": _utc(_after(woke, timedelta(minutes=5))),
                  "updated_at": _utc(_after(woke, timedelta(minutes=10)))}
        documents["cycle"].append({
            "id": cycle_id, **common, "start": _utc(onset), "end": _utc(ends), "timezone_offset": offset,
            "score_state": "SCORED",
            "score": {"strain": row["strain"], "kilojoule": 8300.0, "average_heart_rate": 68, "max_heart_rate": 141},
        })
        documents["sleep"].append({"id": sleep_id, "cycle_id": cycle_id, **common, "start": _utc(onset),
                                   "end": _utc(woke), "timezone_offset": offset, "nap": False, **sleep})
        documents["recovery"].append({
            "cycle_id": cycle_id, "sleep_id": sleep_id, **common, "score_state": "SCORED",
            "score": {"user_calibrating": False, "recovery_score": 60.0,
                      "resting_heart_rate": row["resting_heart_rate"], "hrv_rmssd_milli": row["hrv_rmssd"],
                      "spo2_percentage": 96.5, "skin_temp_celsius": 33.6},
        })
    return documents


def _whoop_onset(day: date, zone: ZoneInfo, *, slept: bool) -> datetime:
    """When the generated user falls asleep for the night ending on ``day``: 22:45 the evening before, or 00:30 on
    ``day`` itself on every third day (by ordinal) and when the night has no sleep hours (see the module docstring)."""
    if not slept or day.toordinal() % 3 == 0:
        return datetime.combine(day, _WHOOP_AFTER_MIDNIGHT_ONSET, zone)
    return datetime.combine(day - timedelta(days=1), _WHOOP_EVENING_ONSET, zone)


def cycle_id_for(user_id: str, day: date) -> int:
    """The WHOOP cycle id the generator gives ``user_id``'s cycle whose sleep ends on ``day`` (unique per user and
    day)."""
    return (zlib.crc32(user_id.encode()) % 100_000) * 1_000_000 + day.toordinal() % 1_000_000


def _oura_sleep(row: dict[str, Any], user_id: str, zone: ZoneInfo) -> dict[str, Any]:
    day = row["date"]
    asleep = _integer(None if row["sleep_hours"] is None else row["sleep_hours"] * 3600)
    in_bed = (asleep or 0) + _AWAKE_SECONDS
    start = datetime.combine(day - timedelta(days=1), _OURA_BEDTIME, zone)
    deep, rem = _stages(asleep)
    resting = _integer(row["resting_heart_rate"])
    return {
        "id": _id(user_id, "oura/sleep", day),
        "average_breath": 14.5,
        "average_heart_rate": None if resting is None else resting + 6,
        "average_hrv": _integer(row["hrv_rmssd"]),
        "awake_time": _AWAKE_SECONDS,
        "bedtime_end": _after(start, timedelta(seconds=in_bed)).isoformat(),
        "bedtime_start": start.isoformat(),
        "day": day.isoformat(),
        "deep_sleep_duration": deep,
        "efficiency": None if asleep is None else round(100 * asleep / in_bed),
        "latency": 600,
        "light_sleep_duration": None if asleep is None else asleep - deep - rem,
        "low_battery_alert": False,
        "lowest_heart_rate": resting,
        "period": 0,
        "rem_sleep_duration": rem,
        "restless_periods": 12,
        "time_in_bed": in_bed,
        "total_sleep_duration": asleep,
        "type": "long_sleep",
    }


def _whoop_sleep(row: dict[str, Any], onset: datetime) -> tuple[dict[str, Any], datetime]:
    """The scored part of a WHOOP sleep (UNSCORABLE without hours) and when the user woke up."""
    if row["sleep_hours"] is None:
        return {"score_state": "UNSCORABLE"}, _after(onset, timedelta(seconds=_AWAKE_SECONDS))
    asleep = round(row["sleep_hours"] * 3_600_000)
    awake = _AWAKE_SECONDS * 1000
    deep, rem = _stages(asleep)
    score = {
        "stage_summary": {
            "total_in_bed_time_milli": asleep + awake, "total_awake_time_milli": awake,
            "total_no_data_time_milli": 0, "total_light_sleep_time_milli": asleep - deep - rem,
            "total_slow_wave_sleep_time_milli": deep, "total_rem_sleep_time_milli": rem,
            "sleep_cycle_count": 4, "disturbance_count": 10,
        },
        "sleep_needed": {"baseline_milli": 27_000_000, "need_from_sleep_debt_milli": 0,
                         "need_from_recent_strain_milli": 0, "need_from_recent_nap_milli": 0},
        "respiratory_rate": 15.5,
        "sleep_performance_percentage": row["sleep_score"],
        "sleep_consistency_percentage": 85.0,
        "sleep_efficiency_percentage": 100 * asleep / (asleep + awake),
    }
    return {"score_state": "SCORED", "score": score}, _after(onset, timedelta(milliseconds=asleep + awake))


def _rows(days: pd.DataFrame) -> list[dict[str, Any]]:
    """The table's rows as dicts with a ``date`` and floats or None, optional columns filled with None."""
    missing = [column for column in REQUIRED_COLUMNS if column not in days.columns]
    if missing:
        raise ValueError(f"the table of days lacks the column(s) {', '.join(missing)} (required: "
                         f"{', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)})")
    dates = pd.to_datetime(days["date"], errors="coerce")
    if dates.isna().any():
        raise ValueError(f"the table of days has rows without a readable date: {days.index[dates.isna()].tolist()}")
    if dates.duplicated().any():
        raise ValueError(f"the table of days repeats the date(s) {sorted(set(dates[dates.duplicated()].dt.date))}")
    rows = []
    for position, when in enumerate(dates):
        row = {"date": when.date()}
        for column in REQUIRED_COLUMNS[1:] + OPTIONAL_COLUMNS:
            value = days[column].iloc[position] if column in days.columns else None
            row[column] = None if value is None or pd.isna(value) else float(value)
        rows.append(row)
    return rows


def _stages(asleep: int | None) -> tuple[int | None, int | None]:
    """Deep and REM parts of a sleep (20 % and 22 %); light sleep is the rest, so the stages add up exactly."""
    if asleep is None:
        return None, None
    return int(asleep * 0.20), int(asleep * 0.22)


def _integer(value: float | None) -> int | None:
    return None if value is None else round(value)


def _id(user_id: str, kind: str, day: date) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}/{kind}/{day.isoformat()}"))


def _after(moment: datetime, elapsed: timedelta) -> datetime:
    """``moment`` plus ``elapsed`` of real time, in ``moment``'s zone. Adding to an aware datetime adds wall-clock
    time, which is an hour off for a night across a DST change."""
    return (moment.astimezone(timezone.utc) + elapsed).astimezone(moment.tzinfo)


def _offset(moment: datetime) -> str:
    """WHOOP's time zone designator: 'Z' or '+hh:mm'/'-hh:mm'."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
