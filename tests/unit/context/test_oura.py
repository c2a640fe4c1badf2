"""The Oura sync against the stand-in server on loopback: documents generated from a known table of days come back
as the same daily values over several pages, each record once; the day rules (which sleep periods count), a 429
waited out as Retry-After says, 5xx and refused connections given up after the retry budget, malformed pages named by
endpoint and page, an expired access token refreshed before the first request, and the settings read from the
environment."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.context import oura
from americano_pipeline.context.http import FetchPolicy, MalformedPageError, WearableApiError
from americano_pipeline.context.oauth import Tokens, TokenStore, VendorConfig
from americano_pipeline.demo.wearable_fixtures import oura_documents
from tests.stand_in.wearables import CLIENT_ID, CLIENT_SECRET, OURA_PATHS, SignedIn, WearableStandIn, running

USER = "participant-1"
FIRST = date(2024, 3, 1)
LAST = FIRST + timedelta(days=9)
# Sleep scores at the decile edges and the 1-10 quality each must become.
SCORES = [0, 9, 10, 55, 89, 90, 99, 100, 72, np.nan]
QUALITIES = [1, 1, 2, 6, 9, 10, 10, 10, 8, None]
DAYS = pd.DataFrame({
    "date": pd.date_range(FIRST, periods=10),
    "sleep_hours": [7.25, 6.5, 8.0, 5.75, 7.0, 9.1, 6.2, 7.8, 4.9, 7.33],
    "hrv_rmssd": [52.4, 61.0, np.nan, 44.6, 70.2, 38.9, 55.5, 48.0, 66.6, 59.1],
    "resting_heart_rate": [54, 52, 58, 61, 50, 57, 53, 55, 49, 56],
    "steps": [8200, 10400, 3100, np.nan, 12000, 7600, 9100, 4400, 15000, 6800],
    "sleep_score": SCORES,
})


@pytest.fixture
def documents():
    return oura_documents(DAYS, user_id=USER, timezone_name="Europe/Berlin")


@pytest.fixture
def sync(documents, tmp_path):
    stand_in = WearableStandIn(oura=documents, page_size=4)
    with running(stand_in) as base_url:
        yield SignedIn(oura, stand_in, base_url, TokenStore(tmp_path / "tokens"), USER)


def test_every_day_comes_back_with_the_values_it_was_generated_from_over_three_pages(sync, documents):
    days, stats = sync.fetch(FIRST, LAST)

    assert [day.local_date for day in days] == [d.date() for d in DAYS["date"]]
    for day, row, quality in zip(days, DAYS.itertuples(), QUALITIES):
        assert (day.user_id, day.source) == (USER, "OURA")
        assert day.sleep_hours == pytest.approx(row.sleep_hours, abs=0.5 / 3600)
        assert day.hrv_score == (None if np.isnan(row.hrv_rmssd) else round(row.hrv_rmssd))
        assert day.resting_heart_rate == row.resting_heart_rate
        assert day.steps == (None if np.isnan(row.steps) else row.steps)
        assert day.sleep_quality == quality
        assert day.activity_strain is None
        assert day.recorded_at.tzinfo is not None and day.recorded_at.utcoffset() == timedelta(hours=1)
    daily_sleep_ids = [doc["id"] for doc in documents["daily_sleep"]]
    assert [day.external_id for day in days] == daily_sleep_ids
    # 10 sleep periods, 10 daily sleeps, 9 daily activities in pages of 4: 3 pages each, each asked for once.
    assert Counter(sync.stand_in.served) == {(path, page): 1 for path in OURA_PATHS.values() for page in (1, 2, 3)}
    assert (stats.pages, stats.records, stats.retries, stats.refreshes, stats.skipped) == (9, 29, 0, 0, 0)


def test_only_the_days_from_start_to_end_are_returned(sync):
    days, _ = sync.fetch(date(2024, 3, 4), date(2024, 3, 6))

    assert [day.local_date for day in days] == [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]


def test_a_night_adds_up_its_sleep_periods_but_not_naps_rest_or_deleted_ones(tmp_path):
    documents = oura_documents(DAYS.iloc[:1], user_id=USER)
    main = documents["sleep"][0]
    documents["sleep"] += [
        {**main, "id": "second", "type": "sleep", "total_sleep_duration": 1800, "average_hrv": 20,
         "lowest_heart_rate": 70},
        {**main, "id": "nap", "type": "late_nap", "total_sleep_duration": 2400},
        {**main, "id": "rest", "type": "rest", "total_sleep_duration": 600},
        {**main, "id": "deleted", "type": "deleted", "total_sleep_duration": 30000},
    ]
    stand_in = WearableStandIn(oura=documents)
    with running(stand_in) as base_url:
        (day,), stats = SignedIn(oura, stand_in, base_url, TokenStore(tmp_path), USER).fetch(FIRST, FIRST)

    assert day.sleep_hours == pytest.approx(7.25 + 0.5)
    assert (day.hrv_score, day.resting_heart_rate) == (52, 54)  # the main (longest) period's
    assert stats.skipped == 1


def test_a_429_is_waited_out_as_long_as_retry_after_says_then_the_page_is_read(sync):
    sync.stand_in.fail(OURA_PATHS["daily_sleep"], page=2, status=429, headers={"Retry-After": "7"})

    days, stats = sync.fetch(FIRST, LAST)

    assert sync.waits == [7.0]
    assert stats.retries == 1 and len(days) == 10
    assert sync.stand_in.served.count((OURA_PATHS["daily_sleep"], 2)) == 1


def test_a_retry_after_longer_than_the_cap_is_cut_to_the_cap(sync):
    sync.stand_in.fail(OURA_PATHS["sleep"], status=429, headers={"Retry-After": "3600"})

    sync.fetch(FIRST, LAST, max_retry_after=90)

    assert sync.waits == [90.0]


def test_5xx_beyond_the_retry_budget_raises_saying_how_many_attempts_were_made(sync):
    sync.stand_in.fail(OURA_PATHS["daily_activity"], page=2, status=503, times=None)

    with pytest.raises(WearableApiError, match=r"^Oura /v2/usercollection/daily_activity page 2: gave up after 4 "
                                               r"attempts \(last: HTTP 503 Service Unavailable\)$"):
        sync.fetch(FIRST, LAST, attempts=4)

    assert sync.waits == [1.0, 2.0, 4.0]


def test_a_vendor_that_cannot_be_reached_is_given_up_on_after_the_budget(tmp_path):
    with running(WearableStandIn()) as gone:
        pass
    config = VendorConfig(gone, CLIENT_ID, CLIENT_SECRET)
    store = TokenStore(tmp_path)
    store.save(USER, "Oura", Tokens("unused-access-token", None, datetime(2030, 1, 1, tzinfo=timezone.utc)))
    waits = []

    with pytest.raises(WearableApiError, match=r"Oura /v2/usercollection/sleep page 1: gave up after 3 attempts "
                                               r"\(last: ConnectError"):
        oura.fetch_days(USER, FIRST, FIRST, config=config, token_store=store, policy=FetchPolicy(attempts=3),
                        sleep=waits.append)
    assert waits == [1.0, 2.0]


@pytest.mark.parametrize("body, problem", [
    ("<html>gateway busy</html>", r"the body is not JSON \(text/html; charset=utf-8, 25 bytes\)"),
    ({"items": []}, r"'data' should be a list of records, it is missing"),
    ({"data": {"id": "x"}}, r"'data' should be a list of records, it is an object"),
    ({"data": [], "next_token": 7}, r"'next_token' should be a string or null, it is a number"),
    ({"data": [{"id": "a1", "day": "2024-03-05", "steps": "many", "timestamp": "2024-03-05T04:00:00+01:00"}]},
     r"record 0: 'steps' should be an integer, it is a string 'many'"),
    ({"data": [{"id": "a1", "day": "5.3.2024", "steps": 1, "timestamp": "2024-03-05T04:00:00+01:00"}]},
     r"record 0: 'day' should be an ISO date \(YYYY-MM-DD\), it is a string '5.3.2024'"),
    ({"data": [{"id": "a1", "day": "2024-03-05", "steps": 1, "timestamp": "2024-03-05T04:00:00"}]},
     r"record 0: 'timestamp' should be an ISO date-time with a UTC offset"),
])
def test_a_malformed_page_raises_naming_vendor_endpoint_page_and_problem(sync, body, problem):
    sync.stand_in.fail(OURA_PATHS["daily_activity"], page=2, status=200, body=body)

    with pytest.raises(MalformedPageError, match=rf"^Oura /v2/usercollection/daily_activity page 2: {problem}"):
        sync.fetch(FIRST, LAST)


def test_an_access_token_past_its_expiry_is_refreshed_before_the_first_request(sync):
    sync.store.save(USER, "Oura", replace(sync.tokens, expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))

    days, stats = sync.fetch(FIRST, LAST)

    stored = sync.store.load(USER, "Oura")
    assert len(days) == 10 and stats.refreshes == 1 and sync.stand_in.unauthorized == 0
    assert stored.refresh_token != sync.tokens.refresh_token
    assert sync.stand_in.refresh_token_valid("oura", stored.refresh_token)


def test_the_settings_come_from_the_environment_with_the_vendors_url_as_default():
    environ = {"OURA_CLIENT_ID": "id-1", "OURA_CLIENT_SECRET": "secret-1"}

    assert oura.config_from_env(environ) == VendorConfig("https://api.ouraring.com", "id-1", "secret-1")
    assert oura.config_from_env({**environ, "AMERICANO_OURA_BASE_URL": "http://127.0.0.1:8123/"}).base_url == \
        "http://127.0.0.1:8123"
    with pytest.raises(ValueError, match=r"^OURA_CLIENT_SECRET must be set to sync OURA data"):
        oura.config_from_env({"OURA_CLIENT_ID": "id-1"})
    with pytest.raises(ValueError, match=r"AMERICANO_OURA_BASE_URL must be an http\(s\) URL, got 'ftp://x'"):
        oura.config_from_env({**environ, "AMERICANO_OURA_BASE_URL": "ftp://x"})


def test_a_table_of_days_without_a_required_column_or_with_a_repeated_date_is_refused():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) hrv_rmssd \(required: date, sleep_hours"):
        oura_documents(DAYS.drop(columns="hrv_rmssd"), user_id=USER)
    with pytest.raises(ValueError, match=r"repeats the date\(s\) \[datetime.date\(2024, 3, 1\)\]"):
        oura_documents(pd.concat([DAYS.iloc[:2], DAYS.iloc[:1]]), user_id=USER)
