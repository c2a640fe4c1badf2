"""The nightly schedule's time zone and the run config every automated run carries."""

import pytest

from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG
from americano_pipeline.automation.schedules import schedule_timezone
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow


def test_schedule_timezone_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("AMERICANO_TIMEZONE", raising=False)
    assert schedule_timezone() == "UTC"
    monkeypatch.setenv("AMERICANO_TIMEZONE", "Europe/Berlin")
    assert schedule_timezone() == "Europe/Berlin"
    monkeypatch.setenv("AMERICANO_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="AMERICANO_TIMEZONE must be an IANA time zone .*got 'Mars/Olympus'"):
        schedule_timezone()


def test_automated_runs_snapshot_all_history():
    assert ALL_HISTORY_CONFIG == {"ops": {"raw_snapshot": {"config": {"days": ALL_HISTORY}}}}
    assert ExtractWindow(days=ALL_HISTORY).where("behavioral_events") == ""
    assert "make_interval(days => 90)" in ExtractWindow().where("behavioral_events")
