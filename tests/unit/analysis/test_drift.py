"""analysis.drift on small synthetic cuts: a planted shift is found and named, the same distribution is not, a window
too small says so, and the files are where the summary says."""

import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.drift import CHECKED, NOT_ENOUGH_DATA, drift_report

LAST_DAY = date(2026, 10, 31)
EVENT_TYPES = ["CARD_REVIEWED", "MISSION_STARTED", "MISSION_COMPLETED", "SESSION_STARTED"]


def _days(n_days: int) -> list[date]:
    return [LAST_DAY - timedelta(days=back) for back in range(n_days - 1, -1, -1)]


def _context(rng, days: list[date], *, sleep_shift_sd: float = 0.0) -> pd.DataFrame:
    """One self-report a day; sleepHours (sd 0.9) moved by ``sleep_shift_sd`` sd in the last 14 days."""
    n = len(days)
    latest = np.array([day > LAST_DAY - timedelta(days=14) for day in days])
    return pd.DataFrame({
        "timestamp": pd.to_datetime([datetime(d.year, d.month, d.day, 8, tzinfo=timezone.utc) for d in days]),
        "localDate": [None] * n,
        "sleepHours": 7 + rng.normal(0, 0.9, n) + latest * sleep_shift_sd * 0.9,
        "sleepQuality": rng.integers(3, 9, n), "hrvScore": rng.normal(55, 9, n).round(),
        "restingHeartRate": rng.normal(60, 3, n).round(), "activityStrain": rng.normal(10, 3, n).clip(0, 21),
        "steps": [None] * n, "energyLevel": rng.integers(2, 9, n),
        "mood": rng.choice(["LOW", "MEDIUM", "HIGH"], n), "location": rng.choice(["HOME", "LIBRARY", "CAFE"], n),
        "source": ["SELF_REPORT"] * n,
    })


def _events(rng, days: list[date], per_day: int = 100, *, score_shift: float = 0.0) -> pd.DataFrame:
    """``per_day`` events a day; sessionPerformanceScore (sd 12) moved by ``score_shift`` in the last 14 days."""
    rows = []
    for day in days:
        shift = score_shift if day > LAST_DAY - timedelta(days=14) else 0.0
        for _ in range(per_day):
            hour = int(rng.integers(8, 22))
            rows.append({
                "timestamp": datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc),
                "eventData": json.dumps({"sessionId": "s", "durationMinutes": float(rng.normal(20, 5)),
                                         "engagementScore": float(rng.normal(60, 10))}),
                "timeOfDay": hour, "sessionPerformanceScore": float(np.clip(rng.normal(60 + shift, 12), 0, 100)),
                "eventType": str(rng.choice(EVENT_TYPES)), "completionQuality": str(rng.choice(["RUSHED", "NORMAL"])),
                "engagementLevel": str(rng.choice(["LOW", "MEDIUM", "HIGH"])),
                "difficultyLevel": str(rng.choice(["easy", "medium"])),
                "contentType": str(rng.choice(["card", "quiz"])),
            })
    return pd.DataFrame(rows)


def _cut(tmp_path, events: pd.DataFrame, context: pd.DataFrame):
    cut = tmp_path / "current"
    cut.mkdir()
    events.to_parquet(cut / "behavioral_events.parquet")
    context.to_parquet(cut / "context_metadata.parquet")
    return cut


def _report(tmp_path, cut, **windows):
    return drift_report(cut, "20261101T020000000000Z", timezone="UTC", directory=tmp_path / "drift", **windows)


def test_a_context_column_shifted_by_one_and_a_half_sd_is_found_and_named(tmp_path):
    rng = np.random.default_rng(3)
    days = _days(70)
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days), _context(rng, days, sleep_shift_sd=1.5)))
    context = {dataset.name: dataset for dataset in summary.datasets}["context"]
    assert context.status == CHECKED
    assert [column.column for column in context.drifted_columns] == ["sleepHours"]
    [sleep] = context.drifted_columns
    assert sleep.method == "K-S p_value" and sleep.statistic < 0.001 and sleep.threshold == 0.05
    assert ("context", sleep) in summary.drifted_columns
    assert "sleepHours (K-S p_value" in sleep.describe() and "< 0.05)" in sleep.describe()
    # the windows: the latest 14 days end on the last day with data, the 56 before them are the reference
    assert (context.latest.start, context.latest.end) == (date(2026, 10, 18), LAST_DAY)
    assert (context.reference.start, context.reference.end) == (date(2026, 8, 23), date(2026, 10, 17))
    assert (context.reference.rows, context.latest.rows) == (56, 14)
    assert dict(context.skipped_columns) == {"steps": "no values in the reference and latest windows"}
    assert context.share_drifted == pytest.approx(1 / 9) and not context.dataset_drift


def test_the_same_distribution_drifts_nowhere(tmp_path):
    # nine context columns are tested at 0.05 each, so about a third of seeds show one crossing by chance (the
    # multiplicity the module doc warns about); this seed shows none, as most do
    rng = np.random.default_rng(1)
    days = _days(70)
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days), _context(rng, days)))
    assert all(dataset.status == CHECKED for dataset in summary.datasets)
    categorical = [column for column in summary.datasets[1].columns if column.kind == "categorical"]
    assert {column.method for column in categorical} == {"chi-square homogeneity p_value"}
    assert summary.drifted_columns == ()
    assert summary.to_dict()["driftFound"] is False


def test_a_shift_in_many_events_is_judged_by_a_distance_not_a_p_value(tmp_path):
    rng = np.random.default_rng(5)
    days = _days(70)
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days, score_shift=12.0), _context(rng, days)))
    events = {dataset.name: dataset for dataset in summary.datasets}["events"]
    assert [column.column for column in events.drifted_columns] == ["sessionPerformanceScore"]
    [score] = events.drifted_columns
    # 56 x 100 reference events: Wasserstein distance in reference sd units, about the planted 1 sd
    assert score.method == "Wasserstein distance (normed)" and 0.6 < score.statistic < 1.2
    assert score.threshold == 0.1
    assert (events.reference.rows, events.latest.rows) == (56 * 100, 14 * 100)


def test_the_files_are_written_and_the_summary_is_the_result_json(tmp_path):
    rng = np.random.default_rng(3)
    days = _days(70)
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days), _context(rng, days, sleep_shift_sd=1.5)))
    assert summary.directory == tmp_path / "drift"
    assert sorted(path.name for path in summary.directory.iterdir()) == [
        "context.html", "context.json", "events.html", "events.json", "result.json"]
    assert [path.name for path in summary.files()] == [
        "events.html", "events.json", "context.html", "context.json", "result.json"]
    saved = json.loads(summary.result_path.read_text())
    assert saved == json.loads(json.dumps(summary.to_dict()))
    assert saved["driftedColumns"] == ["context.sleepHours"] and saved["driftFound"] is True
    assert saved["datasets"]["context"]["latest"] == {"from": "2026-10-18", "to": "2026-10-31", "rows": 14,
                                                      "daysWithData": 14}
    assert "sleepHours" in (summary.directory / "context.html").read_text()
    assert not any(path.name.startswith(".") for path in tmp_path.iterdir())  # no staging directory left


def test_too_few_days_give_not_enough_data_and_no_report(tmp_path):
    rng = np.random.default_rng(3)
    days = _days(20)  # 14 latest days and only 6 reference days
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days), _context(rng, days)))
    for dataset in summary.datasets:
        assert dataset.status == NOT_ENOUGH_DATA and dataset.columns == () and dataset.report_files == ()
        assert dataset.reason == ("the reference window 2026-08-23..2026-10-17 has 6 day(s) with data "
                                  "(at least 7 needed)")
    assert summary.drifted_columns == () and summary.unchecked == summary.datasets
    assert sorted(path.name for path in summary.directory.iterdir()) == ["result.json"]


def test_an_empty_table_and_gaps_in_the_latest_window_are_named(tmp_path):
    rng = np.random.default_rng(3)
    days = _days(70)
    context = _context(rng, days)
    context = context[[day <= LAST_DAY - timedelta(days=9) or day == LAST_DAY for day in days]]  # 6 latest days
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days).iloc[0:0], context))
    events, context_result = summary.datasets
    assert (events.status, events.reason) == (NOT_ENOUGH_DATA, "behavioral_events has no rows")
    assert context_result.status == NOT_ENOUGH_DATA
    assert context_result.reason == ("the latest window 2026-10-18..2026-10-31 has 6 day(s) with data "
                                     "(at least 7 needed)")


def test_an_imported_row_counts_on_its_local_date_and_windows_are_configurable(tmp_path):
    rng = np.random.default_rng(3)
    days = _days(70)
    context = _context(rng, days)
    imported = context.iloc[[0]].assign(timestamp=pd.Timestamp("2026-08-01T09:00Z"), localDate=LAST_DAY,
                                        source="OURA", mood=None, location=None, energyLevel=None)
    summary = _report(tmp_path, _cut(tmp_path, _events(rng, days), pd.concat([context, imported])),
                      latest_days=7, reference_days=28, min_days=5)
    context_result = summary.datasets[1]
    assert (context_result.latest.start, context_result.latest.rows) == (date(2026, 10, 25), 8)
    assert context_result.reference.start == date(2026, 9, 27)
    assert summary.to_dict()["windows"] == {"latestDays": 7, "referenceDays": 28, "minDays": 5}


def test_impossible_windows_are_refused(tmp_path):
    with pytest.raises(ValueError, match="min_days <= latest_days"):
        drift_report(tmp_path, "x", latest_days=5, min_days=7, timezone="UTC", directory=tmp_path / "drift")
