"""The shape every wearable importer produces: what ``WearableDay`` refuses (naming the value), its key (user,
source, day, never the vendor's id), the order of its measurements, and the 0-100 score to 1-10 quality deciles."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from americano_pipeline.context.records import BOUNDS, WearableDay, quality_from_percent, whole

DAY = date(2024, 3, 5)
WOKE = datetime(2024, 3, 5, 6, 20, tzinfo=timezone.utc)


def _day(**fields) -> WearableDay:
    return WearableDay(**{"user_id": "participant-1", "source": "OURA", "external_id": "daily-sleep-1",
                          "local_date": DAY, "recorded_at": WOKE, **fields})


@pytest.mark.parametrize("fields, message", [
    ({"source": "FITBIT"}, r"^source 'FITBIT' is not one of APPLE_HEALTH, OURA, WHOOP$"),
    ({"external_id": ""}, r"^OURA day 2024-03-05 of user participant-1 has no external id$"),
    ({"recorded_at": datetime(2024, 3, 5, 6, 20)}, r"^OURA day 2024-03-05: recorded_at 2024-03-05 06:20:00 has no "
                                                   r"time zone$"),
])
def test_a_day_is_refused_naming_the_value_that_cannot_be(fields, message):
    with pytest.raises(ValueError, match=message):
        _day(**fields)


def test_the_key_is_user_source_and_day_whatever_the_vendor_document():
    first, resynced = _day(), _day(external_id="daily-sleep-2", sleep_hours=7.5)

    assert first.key == resynced.key == ("participant-1", "OURA", DAY)
    assert _day(source="WHOOP").key != first.key and _day(local_date=date(2024, 3, 6)).key != first.key


def test_the_measurements_come_in_field_order_and_match_the_bounds():
    day = _day(sleep_hours=7.25, sleep_quality=8, hrv_score=52, resting_heart_rate=54, steps=8200)

    assert day.measurements == {"sleep_hours": 7.25, "sleep_quality": 8, "hrv_score": 52, "resting_heart_rate": 54,
                                "activity_strain": None, "steps": 8200}
    assert list(day.measurements) == list(BOUNDS)


@pytest.mark.parametrize("percent, quality", [(0, 1), (9, 1), (9.99, 1), (10, 2), (89, 9), (90, 10), (99.5, 10),
                                              (100, 10), (None, None)])
def test_a_score_becomes_its_decile(percent, quality):
    assert quality_from_percent(percent) == quality


@pytest.mark.parametrize("percent, quality", [(-5, 0), (-0.1, 0), (100.5, 11), (130, 14)])
def test_a_score_outside_0_to_100_becomes_a_quality_outside_the_bounds_for_the_asset_check(percent, quality):
    low, high = BOUNDS["sleep_quality"]

    assert quality_from_percent(percent) == quality and not low <= quality <= high


def test_whole_rounds_a_vendor_number_and_keeps_a_missing_one_missing():
    assert (whole(52.4), whole(52.6), whole(None)) == (52, 53, None)
