"""Oura Ring API v2 -> ``WearableDay``: a user's days as Oura summarised them.

Endpoints and fields used, as the Oura API v2 reference documents them (https://cloud.ouraring.com/v2/docs;
authentication: https://cloud.ouraring.com/docs/authentication):
- GET /v2/usercollection/sleep, the sleep periods (a day can hold several): ``id``, ``day``, ``type`` (deleted,
  sleep, long_sleep, late_nap, rest), ``total_sleep_duration`` (seconds), ``average_hrv`` (ms; Oura's HRV is RMSSD),
  ``lowest_heart_rate`` (bpm), ``bedtime_end``.
- GET /v2/usercollection/daily_sleep: ``id``, ``day``, ``score`` (0-100, nullable), ``timestamp``.
- GET /v2/usercollection/daily_activity: ``id``, ``day``, ``steps``, ``timestamp``.
- Paging: query ``start_date``/``end_date`` (ISO dates) and ``next_token``; body ``{"data": [...], "next_token":
  <string or null>}``.
- OAuth2: authorize at https://cloud.ouraring.com/oauth/authorize, tokens from https://api.ouraring.com/oauth/token;
  scope ``daily`` (daily summaries of sleep, activity and readiness).

Mapping, per Oura ``day`` (the user's calendar day; a night belongs to the day it ends):
- sleep_hours: the sum of ``total_sleep_duration`` over the day's periods of type ``long_sleep`` and ``sleep``, in
  hours. ``late_nap`` and ``rest`` are daytime rest, not the night's sleep, and are left out; ``deleted`` periods were
  removed by the user and are counted as skipped.
- hrv_score and resting_heart_rate: ``average_hrv`` and ``lowest_heart_rate`` of the day's main period (the counted
  period with the longest total_sleep_duration), as averaging HRV over a night and a short sleep would mix two
  conditions. Not daily_readiness' ``contributors.resting_heart_rate``: that is a 1-100 contribution to the readiness
  score, not beats per minute, and nothing else of daily_readiness is used, so it is not fetched.
- sleep_quality: daily_sleep ``score`` by deciles (``records.quality_from_percent``: 0-9 -> 1, ..., 90-100 -> 10).
- steps: daily_activity ``steps``. activity_strain stays empty: strain is WHOOP's 0-21 scale, Oura has none.
- external_id (traceability; the row's key is user, source and ``day``): the day's daily_sleep id; without one,
  the main sleep period's id, then the daily_activity id.
  recorded_at: the main period's ``bedtime_end``, else daily_sleep's, else daily_activity's ``timestamp`` (all with
  the user's UTC offset).
- ``end_date`` is sent one day after ``end`` and the documents are filtered on ``day`` here, so the result does not
  depend on whether Oura counts end_date in.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import partial
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

SOURCE = "OURA"
VENDOR = "Oura"
BASE_URL = "https://api.ouraring.com"
AUTHORIZE_URL = "https://cloud.ouraring.com/oauth/authorize"
TOKEN_PATH = "/oauth/token"
SCOPES = ["daily"]
COLLECTION = api.Collection(vendor=VENDOR, items_key="data", token_param="next_token")
COUNTED_SLEEP_TYPES = ("long_sleep", "sleep")

_SLEEP = {"id": "str", "day": "date", "type": "str", "total_sleep_duration": "int?", "average_hrv": "number?",
          "lowest_heart_rate": "number?", "bedtime_end": "datetime"}
_DAILY_SLEEP = {"id": "str", "day": "date", "score": "number?", "timestamp": "datetime"}
_DAILY_ACTIVITY = {"id": "str", "day": "date", "steps": "int?", "timestamp": "datetime"}
ENDPOINTS = {"sleep": ("/v2/usercollection/sleep", partial(api.check_fields, spec=_SLEEP)),
             "daily_sleep": ("/v2/usercollection/daily_sleep", partial(api.check_fields, spec=_DAILY_SLEEP)),
             "daily_activity": ("/v2/usercollection/daily_activity", partial(api.check_fields, spec=_DAILY_ACTIVITY))}


def config_from_env(environ: Mapping[str, str] | None = None) -> VendorConfig:
    """OURA_CLIENT_ID, OURA_CLIENT_SECRET and AMERICANO_OURA_BASE_URL (default https://api.ouraring.com; the tests
    point it at the stand-in server)."""
    return vendor_config_from_env("OURA", "AMERICANO_OURA_BASE_URL", BASE_URL, environ)


def oauth_client(config: VendorConfig) -> OAuthClient:
    return OAuthClient(VENDOR, config.base_url + TOKEN_PATH, config.client_id, config.client_secret)


def consent_url(config: VendorConfig, redirect_uri: str, state: str) -> str:
    """Where to send the user to grant this deployment the ``daily`` scope (see ``oauth``, step 1)."""
    return authorization_url(AUTHORIZE_URL, config.client_id, redirect_uri, SCOPES, state)


def fetch_days(user_id: str, start: date, end: date, *, config: VendorConfig, token_store: TokenStore,
               http: httpx.Client | None = None, policy: api.FetchPolicy = api.FetchPolicy(),
               sleep: api.Sleep = time.sleep) -> api.SyncResult:
    """The user's days ``start``..``end`` (inclusive) from Oura, read with the tokens in ``token_store``."""
    if end < start:
        raise ValueError(f"Oura sync of user {user_id!r}: end {end} is before start {start}")
    params = {"start_date": start.isoformat(), "end_date": (end + timedelta(days=1)).isoformat()}
    documents, stats = fetch_signed(user_id, oauth_client(config), token_store, COLLECTION, config.base_url, ENDPOINTS,
                                    params, http=http, policy=policy, sleep=sleep)
    return api.SyncResult(days_from_documents(user_id, documents, start, end, stats), stats)


def days_from_documents(user_id: str, documents: Mapping[str, list[dict[str, Any]]], start: date, end: date,
                        stats: api.SyncStats) -> list[WearableDay]:
    """The rules above applied to checked documents (``sleep``, ``daily_sleep``, ``daily_activity``), one day per
    Oura ``day`` from ``start`` to ``end``; deleted sleep periods are added to ``stats.skipped``."""
    periods: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for period in documents["sleep"]:
        if period["type"] == "deleted":
            stats.skipped += 1
        elif period["type"] in COUNTED_SLEEP_TYPES:
            periods[date.fromisoformat(period["day"])].append(period)
    daily_sleep = {date.fromisoformat(doc["day"]): doc for doc in documents["daily_sleep"]}
    activity = {date.fromisoformat(doc["day"]): doc for doc in documents["daily_activity"]}
    days = sorted(day for day in set(periods) | set(daily_sleep) | set(activity) if start <= day <= end)
    return [_day(user_id, day, periods.get(day, []), daily_sleep.get(day), activity.get(day)) for day in days]


def _day(user_id: str, day: date, periods: list[dict[str, Any]], daily_sleep: dict[str, Any] | None,
         activity: dict[str, Any] | None) -> WearableDay:
    main = max(periods, key=lambda period: period["total_sleep_duration"] or 0, default=None)
    durations = [period["total_sleep_duration"] for period in periods if period["total_sleep_duration"] is not None]
    first = next(doc for doc in (daily_sleep, main, activity) if doc is not None)
    recorded = main["bedtime_end"] if main else next(doc["timestamp"] for doc in (daily_sleep, activity) if doc)
    return WearableDay(
        user_id=user_id,
        source=SOURCE,
        external_id=first["id"],
        local_date=day,
        recorded_at=datetime.fromisoformat(recorded),
        sleep_hours=sum(durations) / 3600 if durations else None,
        sleep_quality=quality_from_percent(daily_sleep["score"]) if daily_sleep else None,
        hrv_score=whole(main["average_hrv"]) if main else None,
        resting_heart_rate=whole(main["lowest_heart_rate"]) if main else None,
        steps=activity["steps"] if activity else None,
    )

