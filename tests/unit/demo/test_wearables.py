"""The synthetic study's wearables: adding them changed nothing the study generated before; the device-measured days
carry the planted sleep -> outcome relation and the steps null; and the fixtures written from them (an Apple Health
export, Oura and WHOOP documents served by the stand-in) read back, through the real importer and API clients, to
the same days."""

import hashlib
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.context import oura, whoop
from americano_pipeline.context.apple_health import read_export
from americano_pipeline.context.oauth import TokenStore
from americano_pipeline.context.records import quality_from_percent
from americano_pipeline.context.sync import sync_day
from americano_pipeline.demo.seeding import write_json_atomic
from americano_pipeline.demo.synthetic import (SLEEP_EFFECTS, WEARABLE_COLUMNS, SeedConfig, ground_truth,
                                               simulate_user, wearable_truth)
from americano_pipeline.demo.wearables import demo_fixtures, write_fixtures
from tests.stand_in.wearables import CLIENT_ID, CLIENT_SECRET, SignedIn, WearableStandIn, running

CONFIG = SeedConfig(users=2, days=280, events_per_day=8, seed=5, end_date=date(2026, 6, 30))
# sha256 of every table simulate_user returned for CONFIG before the wearables existed (computed with the code of
# commit d96fdd0): the wearables draw from a stream of their own, so not one value of the study may change.
BEFORE_WEARABLES = "bd4c1336f62dec429144936a6a25075842a3dedcb07c5f9c288587d623042d0d"
# The writers place whole seconds of sleep and the Apple importer keeps hours to 0.01: both roundings at most.
SLEEP_ROUNDING = 0.005 + 0.5 / 3600 + 1e-9


def _study_digest(config: SeedConfig) -> str:
    digest = hashlib.sha256()
    for index in range(config.users):
        user = simulate_user(config, index)
        digest.update(json.dumps([user.user_id, user.context.to_pydict(), user.events.to_pydict(), user.protocols,
                                  user.phases], default=str, sort_keys=True).encode())
    return digest.hexdigest()


def test_the_wearables_left_every_value_the_study_generated_before_as_it_was():
    assert _study_digest(CONFIG) == BEFORE_WEARABLES


@pytest.fixture(scope="module")
def truth():
    return wearable_truth(CONFIG, 0)


def test_the_devices_measure_the_sleep_that_drives_the_outcomes(truth):
    user = simulate_user(CONFIG, 0)
    assert truth.user_id == user.user_id
    assert list(truth.days.columns) == list(WEARABLE_COLUMNS)
    assert list(truth.days["date"].dt.date) == [CONFIG.first_day + timedelta(days=i) for i in range(CONFIG.days)]
    reported = np.asarray(user.context["sleepHours"])  # the self-report: the same sleep_d, to 0.01 h
    np.testing.assert_allclose(truth.days["sleep_hours"], reported, atol=SLEEP_ROUNDING)
    pd.testing.assert_frame_equal(wearable_truth(CONFIG, 0).days, truth.days)  # deterministic


def test_sleep_goes_with_the_outcomes_and_steps_with_none():
    """The planted relation and the null, on the truth tables of twelve users: sleep correlates clearly with
    performance and engagement in every one; steps, an AR(1) of its own, with neither, on average nor by much."""
    planted, null = [], []
    for seed in range(4):
        config = SeedConfig(users=3, days=300, seed=seed, end_date=date(2026, 10, 31))
        for index in range(3):
            days = wearable_truth(config, index).days
            corr = days[["sleep_hours", "steps", "engagement", "performance"]].corr()
            planted += [corr.loc["sleep_hours", "performance"], corr.loc["sleep_hours", "engagement"]]
            null += [corr.loc["steps", other] for other in ("performance", "engagement", "sleep_hours")]
            steps = days["steps"].to_numpy()
            assert 0.3 < np.corrcoef(steps[1:], steps[:-1])[0, 1] < 0.7  # persistent, as days are
            assert 7000 < steps.mean() < 9000
    assert min(planted) > 0.15 and np.mean(planted) > 0.35
    assert max(map(abs, null)) < 0.25 and abs(np.mean(null)) < 0.05
    assert SLEEP_EFFECTS == {"engagement_score": 2.0, "mean_performance": 3.0}


def test_the_ground_truth_states_the_relations_and_the_wearing_users():
    config = SeedConfig(users=5, days=300, seed=1, end_date=date(2026, 10, 31))
    ids = [f"user{i}" for i in range(5)]
    context = ground_truth(config, [(user, [], []) for user in ids])["context"]
    assert context["wearableUsers"] == ids[:3]
    assert context["plantedRelations"] == [
        {"covariate": "sleep_hours", "outcome": "engagement_score", "lagDays": 0, "perHour": 2.0},
        {"covariate": "sleep_hours", "outcome": "mean_performance", "lagDays": 0, "perHour": 3.0}]
    assert context["nullCovariates"] == ["steps", "activity_strain"]


@pytest.fixture(scope="module")
def fixtures(truth, tmp_path_factory):
    return write_fixtures(truth, tmp_path_factory.mktemp("wearables") / truth.user_id, timezone="Europe/Berlin",
                          seed=CONFIG.seed)


def test_the_export_imports_to_the_truth(truth, fixtures):
    days = read_export(fixtures.export, user_id=truth.user_id, timezone="Europe/Berlin").days
    expected = truth.days
    assert [day.local_date for day in days] == list(expected["date"].dt.date)
    assert max(abs(day.sleep_hours - hours) for day, hours in zip(days, expected["sleep_hours"])) <= SLEEP_ROUNDING
    assert [day.steps for day in days] == expected["steps"].astype(int).tolist()
    assert [day.hrv_score for day in days] == expected["hrv_sdnn"].astype(int).tolist()
    assert [day.resting_heart_rate for day in days] == expected["resting_heart_rate"].astype(int).tolist()
    table = pd.read_csv(fixtures.truth, parse_dates=["date"])
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


@pytest.fixture(scope="module")
def vendors(fixtures, tmp_path_factory):
    """The fixtures' Oura and WHOOP documents served by the stand-in (pages of 25: WHOOP's largest)."""
    stand_in = WearableStandIn(oura=json.loads(fixtures.oura.read_text()), whoop=json.loads(fixtures.whoop.read_text()),
                               page_size=25)
    with running(stand_in) as base_url:
        yield stand_in, base_url, tmp_path_factory.mktemp("tokens")


@pytest.mark.parametrize("vendor", [oura, whoop])
def test_the_vendor_documents_sync_through_the_real_clients_to_the_truth(vendor, vendors, truth):
    stand_in, base_url, tokens = vendors
    expected = truth.days
    first, last = expected["date"].iloc[0].date(), expected["date"].iloc[-1].date()
    days = SignedIn(vendor, stand_in, base_url, TokenStore(tokens / vendor.VENDOR), truth.user_id).fetch(
        first, last).days
    assert [day.local_date for day in days] == list(expected["date"].dt.date)
    assert max(abs(day.sleep_hours - hours) for day, hours in zip(days, expected["sleep_hours"])) <= SLEEP_ROUNDING
    assert [day.hrv_score for day in days] == expected["hrv_rmssd"].astype(int).tolist()
    assert [day.resting_heart_rate for day in days] == expected["resting_heart_rate"].astype(int).tolist()
    assert [day.sleep_quality for day in days] == [quality_from_percent(score) for score in expected["sleep_score"]]
    if vendor is oura:
        assert [day.steps for day in days] == expected["steps"].astype(int).tolist()
    else:
        assert [day.activity_strain for day in days] == expected["strain"].tolist()


def test_a_days_sync_of_every_vendor_gives_that_day_of_the_truth(vendors, truth):
    stand_in, base_url, tokens = vendors
    store = TokenStore(tokens / "sync")
    for vendor in (oura, whoop):
        SignedIn(vendor, stand_in, base_url, store, truth.user_id)
    day = truth.days.iloc[100]
    environ = {"ENABLE_WEARABLES_SYNC": "true", "AMERICANO_OURA_BASE_URL": base_url,
               "AMERICANO_WHOOP_BASE_URL": base_url, **{f"{source}_{name}": value for source in ("OURA", "WHOOP")
                                                        for name, value in (("CLIENT_ID", CLIENT_ID),
                                                                            ("CLIENT_SECRET", CLIENT_SECRET))}}
    synced = sync_day(day["date"].date(), token_store=store, environ=environ)
    assert synced.complete and [d.source for d in synced.days] == ["OURA", "WHOOP"]
    for measured in synced.days:
        assert abs(measured.sleep_hours - day["sleep_hours"]) <= SLEEP_ROUNDING
        assert measured.hrv_score == day["hrv_rmssd"] and measured.resting_heart_rate == day["resting_heart_rate"]


def test_a_ground_truth_from_before_the_wearables_gains_them_and_one_of_another_study_is_refused(tmp_path):
    config = SeedConfig(users=1, days=280, seed=9, end_date=date(2026, 6, 30))
    user = simulate_user(config, 0)
    recorded = ground_truth(config, [(user.user_id, user.schedules, user.protocols)])
    path = tmp_path / "ground_truth.json"
    write_json_atomic(path, {key: value for key, value in recorded.items() if key != "context"})

    [written] = demo_fixtures(path, timezone="UTC")

    assert json.loads(path.read_text())["context"] == recorded["context"]
    assert written.directory == tmp_path / "wearables" / user.user_id
    assert all(p.exists() for p in (written.export, written.oura, written.whoop, written.truth))
    write_json_atomic(path, {**recorded, "seed": 10})
    with pytest.raises(ValueError, match="are not the ones its configuration"):
        demo_fixtures(path, timezone="UTC")
    assert demo_fixtures(tmp_path / "none.json", timezone="UTC") == []
