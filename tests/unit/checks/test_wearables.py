"""The checks of imported wearable days: every measurement bound (its edges allowed, one step beyond refused, NaN
refused, missing allowed), the source, the ids, one row per user, source and day, the partition's day, the frame's
columns; each problem naming its row. And the landing file they read: days round-trip through it, and a write
replaces it whole or not at all."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from americano_pipeline.checks.wearables import find_problems, problems_markdown, wearable_problems
from americano_pipeline.context import landing
from americano_pipeline.context.records import BOUNDS, WearableDay

USER = "cabcdefghijklmnopqrstuvwx"
DAY = date(2026, 3, 1)
GOOD = WearableDay(USER, "OURA", "oura-123", DAY, datetime(2026, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=1))),
                   sleep_hours=7.5, sleep_quality=8, hrv_score=45, resting_heart_rate=55, steps=8000)
NAME = f"OURA day 2026-03-01 of user {USER} (external id oura-123)"
# One step beyond each bound: the smallest change a vendor's number can make in that measurement's type.
STEP = {name: 0.01 if isinstance(low, float) else 1 for name, (low, _) in BOUNDS.items()}


def problems(*days: WearableDay, day: date | None = DAY) -> list[str]:
    return wearable_problems(landing.frame_of(days), day)


def test_possible_days_of_every_source_pass():
    whoop = replace(GOOD, source="WHOOP", external_id="12345", activity_strain=14.2, steps=None)
    apple = replace(GOOD, source="APPLE_HEALTH", external_id="2026-03-01", sleep_quality=None)
    assert problems(GOOD, whoop, apple) == []
    assert problems() == []  # a day nobody synced lands an empty file, which is fine


@pytest.mark.parametrize("name", list(BOUNDS))
def test_each_bound_allows_its_edges_and_refuses_one_step_beyond_naming_row_value_and_range(name):
    low, high = BOUNDS[name]
    edges = [replace(GOOD, user_id=f"user-{i}", **{name: value}) for i, value in enumerate((low, high))]
    assert problems(*edges) == []

    below = replace(GOOD, **{name: low - STEP[name]})
    above = replace(GOOD, user_id="cother", **{name: high + STEP[name]})
    shown = f"[{low:g}, {high:g}]"
    assert problems(below, above) == [
        f"{NAME}: {name} = {low - STEP[name]!r} is outside {shown}",
        f"OURA day 2026-03-01 of user cother (external id oura-123): {name} = {high + STEP[name]!r} is outside {shown}",
    ]


def test_impossible_sleep_and_hrv_are_named_as_the_issue_states_them():
    assert problems(replace(GOOD, sleep_hours=25.0, hrv_score=0)) == [
        f"{NAME}: sleep_hours = 25.0 is outside [0, 24]",
        f"{NAME}: hrv_score = 0 is outside [1, 300]",
    ]
    assert problems(replace(GOOD, hrv_score=-3)) == [f"{NAME}: hrv_score = -3 is outside [1, 300]"]


def test_a_vendors_nan_is_refused_and_a_missing_value_is_not():
    assert problems(replace(GOOD, sleep_hours=float("nan"), activity_strain=float("inf"))) == [
        f"{NAME}: sleep_hours = nan is outside [0, 24]",
        f"{NAME}: activity_strain = inf is outside [0, 21]",
    ]
    assert problems(replace(GOOD, sleep_hours=None, hrv_score=None, steps=None)) == []


def test_two_rows_of_one_user_source_and_day_are_both_named_with_their_external_ids():
    again = replace(GOOD, external_id="oura-456", sleep_hours=6.0)
    other_source = replace(GOOD, source="WHOOP", external_id="999")

    assert problems(GOOD, again, other_source) == [
        f"{NAME}: 2 rows for this user, source and day (external ids oura-123, oura-456): one row per user, source "
        "and day",
        f"OURA day 2026-03-01 of user {USER} (external id oura-456): 2 rows for this user, source and day (external "
        "ids oura-123, oura-456): one row per user, source and day",
    ]


def test_a_synced_row_of_another_day_is_refused_for_the_partition_but_not_for_an_export():
    late = replace(GOOD, local_date=date(2026, 2, 27))

    assert problems(GOOD, late) == [f"OURA day 2026-02-27 of user {USER} (external id oura-123): local_date "
                                    "2026-02-27 is not the partition's day 2026-03-01"]
    assert problems(GOOD, late, day=None) == []


def test_an_unknown_source_an_empty_id_and_a_missing_user_are_named():
    frame = landing.frame_of([GOOD, replace(GOOD, user_id="u2"), replace(GOOD, user_id="u3")])
    frame.loc[0, "source"] = "FITBIT"
    frame.loc[1, "external_id"] = ""
    frame.loc[2, "user_id"] = None

    assert wearable_problems(frame, DAY) == [
        f"FITBIT day 2026-03-01 of user {USER} (external id oura-123): source 'FITBIT' is not one of APPLE_HEALTH, "
        "OURA, WHOOP",
        "OURA day 2026-03-01 of user u2 (external id ): external_id is empty",
        "OURA day 2026-03-01 of user NULL (external id oura-123): no user_id",
    ]


def test_a_frame_of_another_shape_is_named_by_its_columns():
    frame = landing.frame_of([GOOD]).drop(columns=["steps"]).assign(calories=2100)
    frame["hrv_score"] = frame["hrv_score"].astype("float64")

    assert wearable_problems(frame, DAY) == [
        "the frame has the unexpected column calories",
        "the frame lacks the column steps",
        "column hrv_score is float64, it should be Int64",
    ]


def test_the_report_is_a_markdown_table_of_row_and_problem():
    found = find_problems(landing.frame_of([replace(GOOD, external_id="a|b", sleep_hours=30.5)]), DAY)

    assert problems_markdown(found) == (
        "| row | problem |\n|---|---|\n"
        f"| OURA day 2026-03-01 of user {USER} (external id a\\|b) | sleep_hours = 30.5 is outside [0, 24] |")


# --- The landing file ---------------------------------------------------------------------------------------------

def test_days_come_back_from_the_landing_file_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("AMERICANO_DATA_DIR", str(tmp_path))
    days = [GOOD, replace(GOOD, source="WHOOP", external_id="77", activity_strain=12.5, hrv_score=None)]

    path = landing.write_days(days, landing.day_path(DAY))

    assert path == tmp_path / "wearables" / "days" / "2026-03-01.parquet"
    table = landing.read_table(path)
    assert table.schema == landing.SCHEMA and landing.days_of(table) == days
    # The instant, in UTC, although this process imported pandera (which sets PYARROW_IGNORE_TIMEZONE=1).
    assert landing.days_of(table)[0].recorded_at == datetime(2026, 3, 1, 6, 30, tzinfo=timezone.utc)
    assert landing.days_of(table)[0].recorded_at.utcoffset() == timedelta(0)
    assert list(landing.to_frame(table).columns) == list(landing.COLUMNS)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_failed_write_leaves_the_previous_landing_file_whole(tmp_path, monkeypatch):
    path = landing.write_days([GOOD], tmp_path / "days" / "2026-03-01.parquet")

    def broken(table, where, **options):
        with open(where, "wb") as half:
            half.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="No space left on device"):
        landing.write_days([replace(GOOD, sleep_hours=1.0)], path)

    assert landing.days_of(landing.read_table(path)) == [GOOD]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_day_never_landed_names_the_asset_that_lands_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no landing file .*2026-03-01\.parquet: materialize "
                                                r"context/wearable_days for 2026-03-01 first"):
        landing.read_table(tmp_path / "2026-03-01.parquet")
