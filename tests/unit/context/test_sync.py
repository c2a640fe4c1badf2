"""A day's sync of every authorized user at every configured vendor, against the Oura and WHOOP stand-in on loopback:
the day's values as generated, one user's or vendor's failure named without losing the others' days, vendors without
an OAuth client left out (half a client is a failure), nothing called with ENABLE_WEARABLES_SYNC off; the token
store's list of users; and the daily schedule that requests the sync."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone

import httpx
import pandas as pd
import pytest

import dagster as dg
from americano_pipeline.automation import schedules
from americano_pipeline.context import oura, whoop
from americano_pipeline.context.http import FetchPolicy
from americano_pipeline.context.oauth import Tokens, TokenStore
from americano_pipeline.context.sync import SyncDisabled, SyncFailure, sync_day
from americano_pipeline.demo.wearable_fixtures import cycle_id_for, oura_documents, whoop_documents
from tests.stand_in.wearables import CLIENT_ID, CLIENT_SECRET, WHOOP_PATHS, WearableStandIn, authorize, running

OURA_USER = "cku1ouraaaaaaaaaaaaaaaaaa"
WHOOP_USER = "cku2whoopaaaaaaaaaaaaaaaa"
DAY = date(2026, 3, 3)
DAYS = pd.DataFrame({
    "date": pd.date_range(date(2026, 3, 1), periods=5),
    "sleep_hours": [7.25, 6.5, 8.4, 5.75, 7.0],
    "hrv_rmssd": [52.4, 61.0, 47.6, 44.6, 70.2],
    "resting_heart_rate": [54, 52, 58, 61, 50],
    "strain": [10.2, 14.8, 8.1, 12.0, 9.0],
    "steps": [8200, 10400, 3100, 9900, 12000],
    "sleep_score": [95, 81, 72, 64, 88],
})
ROW = DAYS.set_index("date").loc[pd.Timestamp(DAY)]


@pytest.fixture
def stand_in():
    return WearableStandIn(oura=oura_documents(DAYS, user_id=OURA_USER, timezone_name="Europe/Berlin"),
                           whoop=whoop_documents(DAYS, user_id=WHOOP_USER, timezone_name="Europe/Berlin"))


@pytest.fixture
def base_url(stand_in):
    with running(stand_in) as url:
        yield url


@pytest.fixture
def environ(base_url):
    return {"ENABLE_WEARABLES_SYNC": "true", "OURA_CLIENT_ID": CLIENT_ID, "OURA_CLIENT_SECRET": CLIENT_SECRET,
            "WHOOP_CLIENT_ID": CLIENT_ID, "WHOOP_CLIENT_SECRET": CLIENT_SECRET, "AMERICANO_OURA_BASE_URL": base_url,
            "AMERICANO_WHOOP_BASE_URL": base_url}


@pytest.fixture
def store(stand_in, environ, tmp_path):
    """The Oura user and the WHOOP user have authorized (the stand-in serves each vendor's documents to any of its
    tokens, so one user per vendor keeps the generated days apart)."""
    store = TokenStore(tmp_path / "tokens")
    with httpx.Client() as http:
        authorize(stand_in, oura.oauth_client(oura.config_from_env(environ)), store, OURA_USER, http)
        authorize(stand_in, whoop.oauth_client(whoop.config_from_env(environ)), store, WHOOP_USER, http)
    return store


def test_every_authorized_user_of_every_configured_vendor_brings_the_day_as_generated(store, environ, stand_in):
    synced = sync_day(DAY, token_store=store, environ=environ)

    assert synced.complete and synced.failures == [] and synced.unconfigured == []
    ring, band = synced.days
    assert (ring.user_id, ring.source, ring.local_date) == (OURA_USER, "OURA", DAY)
    assert ring.sleep_hours == pytest.approx(8.4, abs=0.5 / 3600)
    assert (ring.hrv_score, ring.resting_heart_rate, ring.steps, ring.sleep_quality) == (48, 58, 3100, 8)
    assert (band.user_id, band.source, band.local_date) == (WHOOP_USER, "WHOOP", DAY)
    assert band.external_id == str(cycle_id_for(WHOOP_USER, DAY))
    assert band.sleep_hours == pytest.approx(ROW.sleep_hours, abs=1e-6)
    assert (band.hrv_score, band.resting_heart_rate, band.activity_strain, band.sleep_quality) == (48, 58, 8.1, 8)
    oura_stats, whoop_stats = synced.stats["OURA"], synced.stats["WHOOP"]
    # Oura: one page each of sleep, daily_sleep and daily_activity (end_date is sent a day later, so the stand-in
    # answers with 03-03 and 03-04: 2 records each). WHOOP asks from 03-01 to 03-05 00:00 UTC: the cycles that start
    # there (those of 03-02 to 03-05, each asleep the evening before), 4 records of each collection, one page each.
    assert (oura_stats.users, oura_stats.failed, oura_stats.days, oura_stats.pages, oura_stats.records) == \
        (1, 0, 1, 3, 6)
    assert (whoop_stats.users, whoop_stats.failed, whoop_stats.days, whoop_stats.pages, whoop_stats.records) == \
        (1, 0, 1, 3, 12)
    assert (whoop_stats.retries, whoop_stats.refreshes, whoop_stats.skipped) == (0, 0, 0)


def test_a_failing_vendor_is_named_and_the_other_vendors_days_are_kept(store, environ, stand_in):
    stand_in.fail(WHOOP_PATHS["recovery"], status=503, times=None)
    waits = []

    synced = sync_day(DAY, token_store=store, environ=environ, policy=FetchPolicy(attempts=2), sleep=waits.append)

    assert not synced.complete
    assert [(day.user_id, day.source) for day in synced.days] == [(OURA_USER, "OURA")]
    assert synced.failures == [SyncFailure("WHOOP", WHOOP_USER, "WHOOP /developer/v2/recovery page 1: gave up after 2 "
                                                                "attempts (last: HTTP 503 Service Unavailable)")]
    assert str(synced.failures[0]).startswith(f"WHOOP user '{WHOOP_USER}': WHOOP /developer/v2/recovery page 1")
    assert (synced.stats["WHOOP"].users, synced.stats["WHOOP"].failed, synced.stats["WHOOP"].days) == (1, 1, 0)
    assert synced.stats["OURA"].days == 1 and waits == [1.0]


def test_a_user_whose_consent_was_revoked_fails_alone(store, environ):
    expired = Tokens("revoked-access", "revoked-refresh", datetime(2020, 1, 1, tzinfo=timezone.utc))
    store.save("ckrevokedaaaaaaaaaaaaaaaa", "Oura", expired)

    synced = sync_day(DAY, token_store=store, environ=environ)

    assert [(day.user_id, day.source) for day in synced.days] == [(OURA_USER, "OURA"), (WHOOP_USER, "WHOOP")]
    [failure] = synced.failures
    assert (failure.source, failure.user_id) == ("OURA", "ckrevokedaaaaaaaaaaaaaaaa")
    assert failure.message == ("Oura token endpoint /oauth/token: the refresh was refused with HTTP 400 "
                               "(invalid_grant); the user must authorize again")
    assert (synced.stats["OURA"].users, synced.stats["OURA"].failed) == (2, 1)


def test_a_vendor_without_a_client_is_left_out_and_half_a_client_is_a_failure(store, environ, stand_in):
    without_whoop = {k: v for k, v in environ.items() if not k.startswith("WHOOP_")}

    synced = sync_day(DAY, token_store=store, environ=without_whoop)

    assert synced.complete and synced.unconfigured == ["WHOOP"] and list(synced.stats) == ["OURA"]
    assert [day.source for day in synced.days] == ["OURA"]
    assert not any(path in WHOOP_PATHS.values() for path, _ in stand_in.served)

    half = sync_day(DAY, token_store=store, environ={**without_whoop, "WHOOP_CLIENT_ID": CLIENT_ID})

    assert half.failures == [SyncFailure("WHOOP", None, "WHOOP_CLIENT_SECRET must be set to sync WHOOP data (the OAuth "
                                                        "client registered in the vendor's developer portal)")]
    assert str(half.failures[0]).startswith("WHOOP: WHOOP_CLIENT_SECRET must be set")
    assert [day.source for day in half.days] == ["OURA"]


@pytest.mark.parametrize("flag", [None, "false", "0", "yes"])
def test_nothing_is_called_unless_the_flag_is_on(store, environ, stand_in, flag):
    environ = {**environ, "ENABLE_WEARABLES_SYNC": flag} if flag is not None else \
        {k: v for k, v in environ.items() if k != "ENABLE_WEARABLES_SYNC"}
    served = list(stand_in.served)

    with pytest.raises(SyncDisabled, match="^ENABLE_WEARABLES_SYNC is not set to true, so the Oura and WHOOP APIs "
                                           "are not called"):
        sync_day(DAY, token_store=store, environ=environ)
    assert stand_in.served == served


def test_the_token_store_lists_the_users_of_a_vendor_by_their_own_ids(tmp_path):
    store = TokenStore(tmp_path / "tokens")
    assert store.users("Oura") == []  # no directory yet
    tokens = Tokens("access", "refresh", datetime(2030, 1, 1, tzinfo=timezone.utc))
    for user in ("b user/with slash", "a-plain", "ünïcode"):
        store.save(user, "Oura", tokens)
    store.save("whoop only", "WHOOP", tokens)

    assert store.users("Oura") == ["a-plain", "b user/with slash", "ünïcode"]
    assert store.users("WHOOP") == ["whoop only"]
    assert sorted(path.name for path in store.directory.iterdir())[0] == "fernet.key"  # not taken for a user


# --- The schedule that requests the sync ------------------------------------------------------------------------

def _tick(when: datetime):
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        return schedules.wearable_sync_schedule(context)


def test_a_tick_requests_yesterday_and_the_two_days_before_once_per_tick(monkeypatch):
    monkeypatch.setenv("ENABLE_WEARABLES_SYNC", "true")
    monkeypatch.delenv("AMERICANO_TIMEZONE", raising=False)

    requests = _tick(datetime(2026, 3, 5, 6, 0, tzinfo=timezone.utc))

    assert [request.partition_key for request in requests] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert len({request.run_key for request in requests}) == 3
    tomorrow = _tick(datetime(2026, 3, 6, 6, 0, tzinfo=timezone.utc))
    assert [request.partition_key for request in tomorrow] == ["2026-03-03", "2026-03-04", "2026-03-05"]
    assert not {r.run_key for r in requests} & {r.run_key for r in tomorrow}  # a day re-requested is run again


def test_yesterday_is_the_day_before_in_the_configured_time_zone(monkeypatch):
    monkeypatch.setenv("ENABLE_WEARABLES_SYNC", "true")
    monkeypatch.setenv("AMERICANO_TIMEZONE", "Pacific/Auckland")  # 06:00 on 03-05 there is 17:00 UTC on 03-04

    requests = _tick(datetime(2026, 3, 4, 17, 0, tzinfo=timezone.utc))

    assert [request.partition_key for request in requests] == ["2026-03-02", "2026-03-03", "2026-03-04"]


def test_the_first_ticks_request_no_day_before_the_first_partition(monkeypatch):
    monkeypatch.setenv("ENABLE_WEARABLES_SYNC", "1")
    assert [r.partition_key for r in _tick(datetime(2025, 1, 3, 6, tzinfo=timezone.utc))] == ["2025-01-01",
                                                                                            "2025-01-02"]


def test_a_tick_with_the_flag_off_skips_naming_the_flag(monkeypatch):
    monkeypatch.delenv("ENABLE_WEARABLES_SYNC", raising=False)

    skipped = _tick(datetime(2026, 3, 5, 6, 0, tzinfo=timezone.utc))

    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message.startswith("ENABLE_WEARABLES_SYNC is not true, so the wearable sync is off")


def test_the_schedule_starts_running_only_when_the_flag_is_on_at_load():
    probe = ("from americano_pipeline.automation.schedules import wearable_sync_schedule as s\n"
             "print(s.default_status.value, s.cron_schedule, s.execution_timezone, sep='|')")
    states = {}
    for flag in ("true", "false"):
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                env={"ENABLE_WEARABLES_SYNC": flag, "AMERICANO_TIMEZONE": "Europe/Berlin",
                                     "AMERICANO_ENV_FILE": "/nonexistent", "PATH": ""})
        states[flag] = result.stdout.strip()
    assert states == {"true": "RUNNING|0 6 * * *|Europe/Berlin", "false": "STOPPED|0 6 * * *|Europe/Berlin"}
