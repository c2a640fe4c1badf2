"""WHOOP developer API v2 -> ``WearableDay``: one day per physiological cycle, dated by the user's wake-up day.

Endpoints and fields used, as WHOOP documents them (https://developer.whoop.com/docs/developing/user-data/cycle,
.../user-data/recovery, .../user-data/sleep, .../pagination, .../oauth, .../rate-limiting):
- GET /developer/v2/cycle: ``id``, ``start``, ``end`` (absent while the cycle runs), ``timezone_offset`` ('+hh:mm',
  '-hh:mm' or 'Z'), ``updated_at``, ``score_state`` (SCORED, PENDING_SCORE, UNSCORABLE), ``score.strain`` (0-21).
- GET /developer/v2/recovery: ``cycle_id``, ``score_state``, ``score.hrv_rmssd_milli`` (RMSSD, ms),
  ``score.resting_heart_rate`` (bpm).
- GET /developer/v2/activity/sleep: ``cycle_id``, ``end``, ``nap``, ``score_state``,
  ``score.stage_summary.total_in_bed_time_milli``, ``score.stage_summary.total_awake_time_milli``,
  ``score.sleep_performance_percentage``.
- Paging: query ``start``/``end`` (ISO date-times), ``limit`` (at most 25) and ``nextToken``; body ``{"records":
  [...], "next_token": ...}``, the token absent (or empty) on the last page.
- OAuth2: authorize at https://api.prod.whoop.com/oauth/oauth2/auth, tokens from
  https://api.prod.whoop.com/oauth/oauth2/token; scopes read:cycles, read:recovery, read:sleep and ``offline``
  (without it no refresh token is issued). A refresh sends ``scope=offline`` and returns a new refresh token; the old
  one stops working.
- Rate limits: 100 requests a minute and 10,000 a day; 429 beyond (``http.send`` waits and retries).

Mapping:
- The day: the wake-up day, the local calendar date (at the cycle's ``timezone_offset``) of the ``end`` of the
  cycle's main sleep (its longest scored non-nap sleep). Why: a cycle begins when the user falls asleep, usually the
  evening before, sometimes after midnight; dating it by its start would move the day with the bedtime, while the
  wake-up day is where Oura (a night under the day it ends) and Apple Health file the same night. A cycle without a
  scored non-nap sleep is dated by the local date of its ``start`` and carries its strain only, and its recovery if
  it has one. Such a cycle begun in the evening thus lands on the previous wake-up day, where the collision rule
  below keeps the cycle that has a sleep.
- Two cycles on one day: the one with more sleep (``sleep_hours``) keeps the day, the earlier-starting on a tie; the
  other is skipped, counted and logged with both cycle ids.
- hrv_score and resting_heart_rate: the cycle's recovery, ``score.hrv_rmssd_milli`` and ``score.resting_heart_rate``
  rounded to whole numbers.
- sleep_hours: over the cycle's scored sleeps that are not naps, the sum of total_in_bed_time_milli minus
  total_awake_time_milli, in hours; sleep_quality: the main sleep's ``sleep_performance_percentage`` by deciles
  (``records.quality_from_percent``).
- activity_strain: the cycle's ``score.strain``. external_id (traceability; the row's key is user, source and day):
  the cycle id. recorded_at: the cycle's ``end``, or its ``updated_at`` while it has none.
- Only SCORED records carry a score: others are skipped and counted (``SyncStats.skipped``). A day is written only for
  a SCORED cycle, so a cycle still under way waits for a later sync instead of being stored half measured.
- The query window reaches two days before ``start`` (a wake-up on ``start`` ends a sleep begun the evening before,
  up to 14 hours ahead of UTC) and two after ``end`` (offsets reach UTC-12); cycles are then filtered on their day
  here.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from typing import Any

import httpx

from americano_pipeline.context import http as api
from americano_pipeline.context.oauth import (
    OAuthClient,
    TokenStore,
    VendorConfig,
    authorization_url,
    fetch_signed,
    vendor_config_from_env,
)
from americano_pipeline.context.records import WearableDay, quality_from_percent, whole

log = logging.getLogger(__name__)

SOURCE = "WHOOP"
VENDOR = "WHOOP"
BASE_URL = "https://api.prod.whoop.com"
AUTHORIZE_PATH = "/oauth/oauth2/auth"
TOKEN_PATH = "/oauth/oauth2/token"
SCOPES = ["read:cycles", "read:recovery", "read:sleep", "offline"]
PAGE_LIMIT = 25
COLLECTION = api.Collection(vendor=VENDOR, items_key="records", token_param="nextToken")
SCORED = "SCORED"

_CYCLE = {"id": "int", "start": "datetime", "end": "datetime?", "timezone_offset": "offset", "updated_at": "datetime",
          "score_state": "str"}
_CYCLE_SCORE = {"score": "object", "score.strain": "number?"}
_RECOVERY = {"cycle_id": "int", "score_state": "str"}
_RECOVERY_SCORE = {"score": "object", "score.hrv_rmssd_milli": "number?", "score.resting_heart_rate": "number?"}
_SLEEP = {"cycle_id": "int", "end": "datetime", "nap": "bool", "score_state": "str"}
_SLEEP_SCORE = {"score": "object", "score.stage_summary.total_in_bed_time_milli": "number",
                "score.stage_summary.total_awake_time_milli": "number",
                "score.sleep_performance_percentage": "number?"}


def _checker(spec: dict[str, str], score_spec: dict[str, str]) -> api.Check:
    """Check ``spec`` on every record and ``score_spec`` on the SCORED ones (only they carry a score)."""
    def check(record: Mapping[str, Any]) -> None:
        api.check_fields(record, spec)
        if record["score_state"] == SCORED:
            api.check_fields(record, score_spec)
    return check


ENDPOINTS = {"cycle": ("/developer/v2/cycle", _checker(_CYCLE, _CYCLE_SCORE)),
             "recovery": ("/developer/v2/recovery", _checker(_RECOVERY, _RECOVERY_SCORE)),
             "sleep": ("/developer/v2/activity/sleep", _checker(_SLEEP, _SLEEP_SCORE))}


def config_from_env(environ: Mapping[str, str] | None = None) -> VendorConfig:
    """WHOOP_CLIENT_ID, WHOOP_CLIENT_SECRET and AMERICANO_WHOOP_BASE_URL (default https://api.prod.whoop.com; the
    tests point it at the stand-in server)."""
    return vendor_config_from_env("WHOOP", "AMERICANO_WHOOP_BASE_URL", BASE_URL, environ)


def oauth_client(config: VendorConfig) -> OAuthClient:
    return OAuthClient(VENDOR, config.base_url + TOKEN_PATH, config.client_id, config.client_secret,
                       refresh_scope="offline")


def consent_url(config: VendorConfig, redirect_uri: str, state: str) -> str:
    """Where to send the user to grant this deployment the read scopes and ``offline`` (see ``oauth``, step 1)."""
    return authorization_url(config.base_url + AUTHORIZE_PATH, config.client_id, redirect_uri, SCOPES, state)


def fetch_days(user_id: str, start: date, end: date, *, config: VendorConfig, token_store: TokenStore,
               http: httpx.Client | None = None, policy: api.FetchPolicy = api.FetchPolicy(),
               sleep: api.Sleep = time.sleep) -> api.SyncResult:
    """The user's days ``start``..``end`` (inclusive, local dates) from WHOOP, read with the tokens in
    ``token_store``."""
    if end < start:
        raise ValueError(f"WHOOP sync of user {user_id!r}: end {end} is before start {start}")
    params = {"start": _utc_midnight(start - timedelta(days=2)), "end": _utc_midnight(end + timedelta(days=2)),
              "limit": str(PAGE_LIMIT)}
    records, stats = fetch_signed(user_id, oauth_client(config), token_store, COLLECTION, config.base_url, ENDPOINTS,
                                  params, http=http, policy=policy, sleep=sleep)
    return api.SyncResult(days_from_records(user_id, records, start, end, stats), stats)


def days_from_records(user_id: str, records: Mapping[str, list[dict[str, Any]]], start: date, end: date,
                      stats: api.SyncStats) -> list[WearableDay]:
    """The rules above applied to checked records (``cycle``, ``recovery``, ``sleep``): one day per day from
    ``start`` to ``end`` that a SCORED cycle falls on; unscored records and the cycles that lose a day to another
    are added to ``stats.skipped``."""
    recoveries = {record["cycle_id"]: record for record in _scored(records["recovery"], stats)}
    sleeps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in _scored(records["sleep"], stats):
        if not record["nap"]:
            sleeps[record["cycle_id"]].append(record)
    cycles = sorted(_scored(records["cycle"], stats), key=lambda cycle: datetime.fromisoformat(cycle["start"]))
    nights: dict[date, _Night] = {}
    for cycle in cycles:
        night = _Night.of(cycle, sleeps.get(cycle["id"], []))
        if not start <= night.day <= end:
            continue
        rival = nights.setdefault(night.day, night)
        if rival is night:
            continue
        kept, dropped = (night, rival) if night.slept > rival.slept else (rival, night)
        nights[night.day] = kept
        stats.skipped += 1
        log.warning("WHOOP user %r: cycles %s and %s both fall on %s; kept %s (%.2f h of sleep), skipped %s (%.2f h)",
                    user_id, rival.cycle["id"], night.cycle["id"], night.day, kept.cycle["id"], kept.slept,
                    dropped.cycle["id"], dropped.slept)
    return [_day(user_id, nights[day], recoveries.get(nights[day].cycle["id"])) for day in sorted(nights)]


@dataclass(frozen=True)
class _Night:
    """A scored cycle, the day it falls on, its main sleep (the longest scored non-nap one) and the hours asleep
    over all its scored non-nap sleeps (None without one)."""

    cycle: dict[str, Any]
    day: date
    main: dict[str, Any] | None
    sleep_hours: float | None

    @classmethod
    def of(cls, cycle: dict[str, Any], sleeps: list[dict[str, Any]]) -> _Night:
        main = max(sleeps, key=_asleep_milli, default=None)
        moment = main["end"] if main else cycle["start"]
        hours = sum(map(_asleep_milli, sleeps)) / 3_600_000 if sleeps else None
        return cls(cycle, _local(moment, cycle["timezone_offset"]).date(), main, hours)

    @property
    def slept(self) -> float:
        """Hours asleep, 0 without a sleep: what decides which of two cycles keeps a day."""
        return self.sleep_hours or 0.0


def _asleep_milli(sleep: dict[str, Any]) -> float:
    summary = sleep["score"]["stage_summary"]
    return summary["total_in_bed_time_milli"] - summary["total_awake_time_milli"]


def _day(user_id: str, night: _Night, recovery: dict[str, Any] | None) -> WearableDay:
    cycle, main = night.cycle, night.main
    return WearableDay(
        user_id=user_id,
        source=SOURCE,
        external_id=str(cycle["id"]),
        local_date=night.day,
        recorded_at=datetime.fromisoformat(cycle["end"] or cycle["updated_at"]),
        sleep_hours=night.sleep_hours,
        sleep_quality=quality_from_percent(main["score"]["sleep_performance_percentage"]) if main else None,
        hrv_score=whole(recovery["score"]["hrv_rmssd_milli"]) if recovery else None,
        resting_heart_rate=whole(recovery["score"]["resting_heart_rate"]) if recovery else None,
        activity_strain=cycle["score"]["strain"],
    )


def _scored(records: list[dict[str, Any]], stats: api.SyncStats) -> list[dict[str, Any]]:
    scored = [record for record in records if record["score_state"] == SCORED]
    stats.skipped += len(records) - len(scored)
    return scored


def _local(moment: str, offset: str) -> datetime:
    """``moment`` at the time zone offset a WHOOP record was recorded in."""
    zone = datetime.fromisoformat(f"2000-01-01T00:00{offset}").tzinfo
    return datetime.fromisoformat(moment).astimezone(zone)


def _utc_midnight(day: date) -> str:
    return datetime.combine(day, clock(0), timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
