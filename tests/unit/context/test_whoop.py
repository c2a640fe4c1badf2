"""The WHOOP sync against the stand-in server on loopback: records generated from a known table of days come back
as the same daily values over several pages, each record once, each cycle dated by the user's wake-up day (a bedtime
moving across midnight leaves no gap and no collision, two cycles on one day keep the longer sleep); unscored records
and naps left out and counted; an access token the API refuses refreshed once, the rotated refresh token persisted
before use; 429s waited out (HTTP-date Retry-After, X-RateLimit-Reset); malformed records named by endpoint and
page."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pandas as pd
import pytest

from americano_pipeline.context import oura, whoop
from americano_pipeline.context.http import MalformedPageError, SyncStats
from americano_pipeline.context.oauth import TokenStore, VendorConfig
from americano_pipeline.demo.wearable_fixtures import cycle_id_for, oura_documents, whoop_documents
from tests.stand_in.wearables import WHOOP_PATHS, SignedIn, WearableStandIn, running

USER = "participant-2"
ZONE = "America/New_York"
FIRST = date(2024, 3, 5)  # New York changes to daylight saving time on 2024-03-10: offsets -05:00 and -04:00
LAST = FIRST + timedelta(days=9)
DAYS = pd.DataFrame({
    "date": pd.date_range(FIRST, periods=10),
    "sleep_hours": [7.25, 6.5, np.nan, 5.75, 7.0, 9.1, 6.2, 7.8, 4.9, 7.33],
    "hrv_rmssd": [52.4, 61.0, 47.7, 44.6, 70.2, 38.9, 55.5, 48.0, 66.6, 59.1],
    "resting_heart_rate": [54.2, 51.8, 58.0, 60.6, 50.1, 57.0, 53.4, 55.0, 49.5, 56.0],
    "strain": [10.2, 14.8, 8.1, 12.0, np.nan, 16.5, 9.9, 11.1, 13.3, 7.0],
    "sleep_score": [95, 81, 70, 64, 88, 100, 59, 90, 45, 77],
})
QUALITIES = [10, 9, None, 7, 9, 10, 6, 10, 5, 8]


@pytest.fixture
def records():
    return whoop_documents(DAYS, user_id=USER, timezone_name=ZONE)


@pytest.fixture
def sync(records, tmp_path):
    stand_in = WearableStandIn(whoop=records, page_size=4)
    with running(stand_in) as base_url:
        yield SignedIn(whoop, stand_in, base_url, TokenStore(tmp_path / "tokens"), USER)


def test_every_day_comes_back_with_the_values_it_was_generated_from_over_three_pages(sync, records):
    days, stats = sync.fetch(FIRST, LAST)

    assert [day.local_date for day in days] == [d.date() for d in DAYS["date"]]
    for day, row, quality, cycle in zip(days, DAYS.itertuples(), QUALITIES, records["cycle"]):
        assert (day.user_id, day.source, day.external_id) == (USER, "WHOOP", str(cycle_id_for(USER, row.date.date())))
        assert day.sleep_hours == (None if np.isnan(row.sleep_hours) else pytest.approx(row.sleep_hours, abs=1e-6))
        assert day.sleep_quality == quality
        assert (day.hrv_score, day.resting_heart_rate) == (round(row.hrv_rmssd), round(row.resting_heart_rate))
        assert day.activity_strain == (None if np.isnan(row.strain) else row.strain)
        assert day.recorded_at == datetime.fromisoformat(cycle["end"]) and day.recorded_at.tzinfo is not None
    # 10 records per collection in pages of 4: pages 1-3 of each, each asked for once.
    assert Counter(sync.stand_in.served) == {(path, page): 1 for path in WHOOP_PATHS.values() for page in (1, 2, 3)}
    assert (stats.pages, stats.records, stats.retries, stats.refreshes) == (9, 30, 0, 0)
    assert stats.skipped == 1  # the UNSCORABLE sleep of the night without hours


def test_a_cycle_is_dated_by_the_local_day_its_sleep_ends_on_not_the_day_it_starts(records):
    cycle, sleep = records["cycle"][0], records["sleep"][0]  # asleep 2024-03-04 22:45 in New York, awake 06:20

    (day,) = whoop.days_from_records(USER, {"cycle": [cycle], "recovery": [], "sleep": [sleep]}, FIRST - timedelta(1),
                                     FIRST, SyncStats())

    assert (cycle["start"], sleep["end"], cycle["timezone_offset"]) == ("2024-03-05T03:45:00.000Z",
                                                                         "2024-03-05T11:20:00.000Z", "-05:00")
    assert day.local_date == FIRST


def test_the_wake_up_day_is_taken_at_the_cycles_offset_not_in_utc():
    documents = whoop_documents(DAYS.iloc[:3], user_id=USER, timezone_name="Pacific/Auckland")  # UTC+13

    days = whoop.days_from_records(USER, documents, FIRST - timedelta(1), FIRST + timedelta(3), SyncStats())

    assert [day.local_date for day in days] == [FIRST, FIRST + timedelta(1), FIRST + timedelta(2)]
    assert documents["sleep"][0]["end"].startswith("2024-03-04T")  # woke up on 5 March, the 4th in UTC


def test_a_bedtime_moving_across_midnight_between_days_leaves_no_gap_and_no_collision(records):
    """Asleep 22:45 on the 4th, 00:30 on the 6th, 00:30 on the 7th, 22:45 on the 7th: dated by their starts the
    cycles would leave the 5th empty and put two on the 7th; by the wake-up day each of 5-8 March has one."""
    local_starts = [datetime.fromisoformat(cycle["start"]).astimezone(ZoneInfo(ZONE)) for cycle in records["cycle"]]
    stats = SyncStats()

    days = whoop.days_from_records(USER, records, FIRST, FIRST + timedelta(3), stats)

    assert [start.strftime("%d %H:%M") for start in local_starts[:4]] == ["04 22:45", "06 00:30", "07 00:30",
                                                                          "07 22:45"]
    assert [(day.local_date, day.external_id) for day in days] == [
        (FIRST + timedelta(n), str(cycle_id_for(USER, FIRST + timedelta(n)))) for n in range(4)]
    assert stats.skipped == 1  # the unscorable sleep of the 7th


def test_a_cycle_without_a_scored_sleep_is_dated_by_its_local_start_and_carries_strain_and_recovery(records):
    """7 March has no sleep hours: the generated cycle starts at 00:30 that day and its sleep is UNSCORABLE."""
    night = _pick(records, 2)

    (day,) = whoop.days_from_records(USER, night, FIRST, LAST, SyncStats())

    assert day.local_date == date(2024, 3, 7) and night["sleep"][0]["score_state"] == "UNSCORABLE"
    assert (day.sleep_hours, day.sleep_quality, day.activity_strain, day.hrv_score) == (None, None, 8.1, 48)


def test_whoop_and_oura_file_the_same_night_under_the_same_day():
    whoop_days = whoop.days_from_records(USER, whoop_documents(DAYS, user_id=USER, timezone_name=ZONE), FIRST, LAST,
                                         SyncStats())
    oura_days = oura.days_from_documents(USER, oura_documents(DAYS, user_id=USER, timezone_name=ZONE), FIRST, LAST,
                                         SyncStats())

    nights = [[(day.local_date, day.sleep_hours and round(day.sleep_hours, 3)) for day in days]
              for days in (whoop_days, oura_days)]
    assert nights[0] == nights[1] == [(row.date.date(), None if np.isnan(row.sleep_hours) else row.sleep_hours)
                                      for row in DAYS.itertuples()]


def test_unscored_records_and_naps_are_left_out_and_unscored_ones_counted(records):
    in_progress = {**records["cycle"][-1], "id": 1, "start": "2024-03-15T02:50:00.000Z", "end": None,
                   "score_state": "PENDING_SCORE"}
    in_progress.pop("score")
    unscorable_recovery = {**records["recovery"][3], "score_state": "UNSCORABLE"}
    unscorable_recovery.pop("score")
    nap = {**records["sleep"][4], "id": "nap-1", "nap": True}
    nap["score"] = {**nap["score"], "stage_summary": {**nap["score"]["stage_summary"],
                                                      "total_in_bed_time_milli": 3_600_000}}
    stats = SyncStats()

    days = whoop.days_from_records(USER, {"cycle": records["cycle"] + [in_progress],
                                          "recovery": records["recovery"][:3] + [unscorable_recovery]
                                          + records["recovery"][4:],
                                          "sleep": records["sleep"] + [nap]},
                                   FIRST, FIRST + timedelta(days=10), stats)

    assert len(days) == 10  # no day for the cycle still under way
    assert (days[3].hrv_score, days[3].resting_heart_rate) == (None, None)
    assert days[4].sleep_hours == pytest.approx(7.0)  # the nap's hour is not added
    assert stats.skipped == 3  # the in-progress cycle, the unscorable recovery, the unscorable sleep of day 3


def test_of_two_cycles_waking_up_on_one_day_the_longer_sleep_keeps_it_whichever_came_first(records, caplog):
    """1.25 h asleep from 00:30 on 5 March, then a new cycle from 03:00 with 5 h asleep: both wake up on the 5th."""
    short = _night(records, 501, "2024-03-05T05:30:00Z", "2024-03-05T08:00:00Z", asleep_hours=1.25)
    long = _night(records, 502, "2024-03-05T08:00:00Z", "2024-03-06T03:00:00Z", asleep_hours=5)
    stats = SyncStats()

    with caplog.at_level(logging.WARNING, logger=whoop.__name__):
        (day,) = whoop.days_from_records(USER, _merge(short, long), FIRST, FIRST, stats)

    assert (day.local_date, day.external_id, day.sleep_hours) == (FIRST, "502", pytest.approx(5))
    assert stats.skipped == 1
    assert "cycles 501 and 502 both fall on 2024-03-05; kept 502 (5.00 h of sleep), skipped 501 (1.25 h)" in \
        caplog.text


def test_a_sleepless_cycle_begun_in_the_evening_loses_its_start_day_to_the_night_before(records, caplog):
    """No scored sleep: the cycle begun at 22:00 on 5 March is dated the 5th, which the night ending that morning
    already has; the night keeps the day (more sleep) and the sleepless cycle is skipped, not given the 6th."""
    night = _pick(records, 0)
    sleepless = _night(records, 503, "2024-03-06T03:00:00Z", "2024-03-07T03:00:00Z")
    stats = SyncStats()

    with caplog.at_level(logging.WARNING, logger=whoop.__name__):
        days = whoop.days_from_records(USER, _merge(night, sleepless), FIRST, FIRST + timedelta(1), stats)

    assert [(day.local_date, day.external_id) for day in days] == [(FIRST, str(records["cycle"][0]["id"]))]
    assert stats.skipped == 1 and "skipped 503 (0.00 h)" in caplog.text


def test_an_access_token_the_api_refuses_is_refreshed_once_and_the_rotated_token_is_stored_first(sync):
    sync.stand_in.expire_access_tokens()

    days, stats = sync.fetch(FIRST, LAST)

    stored = sync.store.load(USER, "WHOOP")
    assert len(days) == 10 and stats.refreshes == 1 and sync.stand_in.unauthorized == 1
    assert sync.stand_in.token_requests[-1] == {"grant_type": "refresh_token", "scope": "offline"}
    assert stored.refresh_token != sync.tokens.refresh_token and stored.access_token != sync.tokens.access_token
    assert sync.stand_in.refresh_token_valid("whoop", stored.refresh_token)
    assert not sync.stand_in.refresh_token_valid("whoop", sync.tokens.refresh_token)
    assert TokenStore(sync.store.directory).load(USER, "WHOOP") == stored  # read back from the encrypted file


def test_a_429_with_an_http_date_is_waited_out_until_that_date(sync):
    until = datetime.now(timezone.utc) + timedelta(seconds=30)
    sync.stand_in.fail(WHOOP_PATHS["recovery"], page=3, status=429,
                       headers={"Retry-After": format_datetime(until, usegmt=True)})

    days, stats = sync.fetch(FIRST, LAST)

    (wait,) = sync.waits
    assert 27 < wait <= 30 and stats.retries == 1 and len(days) == 10


def test_a_429_without_retry_after_waits_for_the_rate_limit_reset(sync):
    sync.stand_in.fail(WHOOP_PATHS["cycle"], status=429, headers={"X-RateLimit-Reset": "3"})

    sync.fetch(FIRST, LAST)

    assert sync.waits == [3.0]


def test_a_record_of_another_shape_than_documented_raises_naming_endpoint_page_and_field(sync, records):
    broken = {**records["recovery"][0], "score": {**records["recovery"][0]["score"], "hrv_rmssd_milli": "fast"}}
    sync.stand_in.fail(WHOOP_PATHS["recovery"], page=2, status=200, body={"records": [broken]})

    with pytest.raises(MalformedPageError, match=r"^WHOOP /developer/v2/recovery page 2: record 0: "
                                                 r"'score.hrv_rmssd_milli' should be a number, it is a string 'fast'$"):
        sync.fetch(FIRST, LAST)


def test_a_page_without_records_raises_and_returns_nothing(sync):
    sync.stand_in.fail(WHOOP_PATHS["sleep"], page=3, status=200, body={"data": []})

    with pytest.raises(MalformedPageError, match=r"^WHOOP /developer/v2/activity/sleep page 3: 'records' should be "
                                                 r"a list of records, it is missing$"):
        sync.fetch(FIRST, LAST)


def test_a_bad_time_zone_offset_is_a_malformed_record(sync, records):
    sync.stand_in.fail(WHOOP_PATHS["cycle"], status=200,
                       body={"records": [{**records["cycle"][0], "timezone_offset": "EST"}]})

    with pytest.raises(MalformedPageError, match=r"page 1: record 0: 'timezone_offset' should be a UTC offset"):
        sync.fetch(FIRST, LAST)


def test_the_query_asks_for_at_most_25_records_a_page_from_two_days_before_to_two_days_after(tmp_path):
    seen = []
    documents = whoop_documents(DAYS.iloc[:1], user_id=USER)

    def record(request: httpx.Request):
        seen.append(request)

    stand_in = WearableStandIn(whoop=documents)
    with running(stand_in) as base_url, httpx.Client(event_hooks={"request": [record]}) as http:
        signed_in = SignedIn(whoop, stand_in, base_url, TokenStore(tmp_path), USER)
        whoop.fetch_days(USER, FIRST, FIRST, config=signed_in.config, token_store=signed_in.store, http=http)

    assert [(r.url.path, dict(r.url.params)) for r in seen] == [
        (path, {"start": "2024-03-03T00:00:00.000Z", "end": "2024-03-07T00:00:00.000Z", "limit": "25"})
        for path in WHOOP_PATHS.values()]


def test_the_settings_come_from_the_environment_with_the_vendors_url_as_default():
    environ = {"WHOOP_CLIENT_ID": "id-2", "WHOOP_CLIENT_SECRET": "secret-2"}

    assert whoop.config_from_env(environ) == VendorConfig("https://api.prod.whoop.com", "id-2", "secret-2")
    assert whoop.config_from_env({**environ, "AMERICANO_WHOOP_BASE_URL": "http://127.0.0.1:9"}).base_url == \
        "http://127.0.0.1:9"
    with pytest.raises(ValueError, match=r"^WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET must be set"):
        whoop.config_from_env({})


def _night(records, cycle_id: int, start: str, end: str, asleep_hours: float | None = None) -> dict[str, list]:
    """A scored cycle ``start``-``end`` (UTC, in New York's winter offset) made from the generated ones, with a
    non-nap sleep from its start of ``asleep_hours`` asleep (and 20 minutes awake) when given."""
    cycle = {**records["cycle"][0], "id": cycle_id, "start": start, "end": end}
    if asleep_hours is None:
        return {"cycle": [cycle], "recovery": [], "sleep": []}
    asleep, awake = round(asleep_hours * 3_600_000), 1_200_000
    template = records["sleep"][0]
    woke = datetime.fromisoformat(start) + timedelta(milliseconds=asleep + awake)
    summary = {**template["score"]["stage_summary"], "total_in_bed_time_milli": asleep + awake,
               "total_awake_time_milli": awake}
    sleep = {**template, "id": f"sleep-{cycle_id}", "cycle_id": cycle_id, "start": start,
             "end": woke.isoformat().replace("+00:00", "Z"), "score": {**template["score"], "stage_summary": summary}}
    return {"cycle": [cycle], "recovery": [], "sleep": [sleep]}


def _pick(records, index: int) -> dict[str, list]:
    """The generated cycle, recovery and sleep of row ``index``."""
    return {name: [records[name][index]] for name in ("cycle", "recovery", "sleep")}


def _merge(*collections: dict[str, list]) -> dict[str, list]:
    return {name: [record for collection in collections for record in collection[name]]
            for name in ("cycle", "recovery", "sleep")}
