"""checks.freshness: a wearable source whose imports stopped is named with its user and last day; a fresh one, a
self-report and a source never imported are not."""

from datetime import date

import pandas as pd

from americano_pipeline.checks.freshness import snapshot_day, source_freshness

DAY = date(2026, 12, 1)


def _cut(rows):
    return pd.DataFrame(rows, columns=["userId", "source", "localDate"]).astype({"source": "category"})


def test_a_stale_source_is_named_and_a_fresh_one_is_not():
    cut = _cut([("u1", "OURA", date(2026, 11, 30)), ("u1", "OURA", date(2026, 11, 20)),
                ("u1", "WHOOP", date(2026, 11, 27)), ("u2", "APPLE_HEALTH", date(2026, 11, 29)),
                ("u2", "SELF_REPORT", None), ("u3", "SELF_REPORT", None)])
    found = source_freshness(cut, DAY)
    assert [(s.user_id, s.source, s.last_day, s.age_days, s.stale) for s in found] == [
        ("u1", "OURA", date(2026, 11, 30), 1, False),
        ("u1", "WHOOP", date(2026, 11, 27), 4, True),
        ("u2", "APPLE_HEALTH", date(2026, 11, 29), 2, False),  # 2 days old is still fresh (the sync's re-score window)
    ]
    assert found[1].describe() == "user u1, WHOOP: last day 2026-11-27 (4 days old)"


def test_the_threshold_is_configurable():
    cut = _cut([("u2", "APPLE_HEALTH", date(2026, 11, 29))])
    assert [s.stale for s in source_freshness(cut, DAY, max_age_days=1)] == [True]
    assert [s.stale for s in source_freshness(cut, DAY, max_age_days=2)] == [False]


def test_a_cut_without_imports_has_nothing_to_report():
    assert source_freshness(_cut([("u1", "SELF_REPORT", None)]), DAY) == []


def test_the_snapshot_day_is_the_local_day_of_its_instant():
    assert snapshot_day("20261201T223348141788Z", "UTC") == date(2026, 12, 1)
    assert snapshot_day("20261201T223348141788Z", "Asia/Tokyo") == date(2026, 12, 2)
    assert snapshot_day("20261201T023348141788Z", "America/Los_Angeles") == date(2026, 11, 30)
