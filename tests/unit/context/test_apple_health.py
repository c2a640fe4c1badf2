"""The Apple Health importer against exports whose truth is known: written from a table of daily values and read
back (a DST change, missing measurements, zip and bare XML), and small hand-built exports for the rules on their own
(the union of overlapping sleep, nights on their wake-up day without naps, the larger step source, time zones,
errors that name the record)."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from americano_pipeline.context.apple_health import HRV, SLEEP, STEPS, UNITS, read_export
from americano_pipeline.demo.apple_health_export import write_export

MEASURES = ["sleep_hours", "hrv_sdnn", "resting_heart_rate", "steps"]
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2025-06-10 09:00:00 +0200"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexNotSet"/>
"""
# iOS 16 (HealthKit Export Version 12) wrote an ATTLIST without its closing ">".
BROKEN_DTD_HEADER = HEADER.replace("  locale CDATA #REQUIRED\n>\n", """  locale CDATA #REQUIRED
>
<!ATTLIST VisionPrescription
  type             CDATA #REQUIRED
  dateIssued       CDATA #REQUIRED
<!ELEMENT RightEye EMPTY>
""")


def _truth(first: date, seed: int) -> pd.DataFrame:
    """60 days of values, with gaps: a measurement missing here and there, one day with none, a day of zero steps
    and an impossible HRV of 0 (kept: the asset check blocks it, not the importer)."""
    rng = np.random.default_rng(seed)
    n = 60
    frame = pd.DataFrame({"date": [first + timedelta(days=i) for i in range(n)],
                          "sleep_hours": np.round(rng.uniform(4.5, 10.5, n), 2),
                          "hrv_sdnn": rng.integers(15, 140, n).astype(float),
                          "resting_heart_rate": rng.integers(42, 80, n).astype(float),
                          "steps": rng.integers(0, 25_000, n).astype(float)})
    frame.loc[3, "sleep_hours"] = np.nan
    frame.loc[5, ["hrv_sdnn", "steps"]] = np.nan
    frame.loc[8, "resting_heart_rate"] = np.nan
    frame.loc[13, MEASURES] = np.nan
    frame.loc[21, "steps"] = 0
    frame.loc[34, "hrv_sdnn"] = 0
    return frame


def _expected(frame: pd.DataFrame) -> dict[date, tuple]:
    expected = {}
    for row in frame.itertuples(index=False):
        values = tuple(None if np.isnan(getattr(row, name)) else getattr(row, name) for name in MEASURES)
        if any(value is not None for value in values):
            sleep, *counts = values
            expected[row.date] = (sleep, *(None if value is None else int(value) for value in counts))
    return expected


def _measured(days) -> dict[date, tuple]:
    return {day.local_date: (day.sleep_hours, day.hrv_score, day.resting_heart_rate, day.steps) for day in days}


@pytest.mark.parametrize(("tz", "first", "clocks_change"), [
    ("America/New_York", date(2025, 2, 20), date(2025, 3, 9)),  # spring forward: a 23-hour day
    ("Europe/Berlin", date(2025, 9, 20), date(2025, 10, 26)),  # fall back: a 25-hour day
])
def test_an_export_round_trips_its_daily_values_across_a_dst_change(tmp_path, tz, first, clocks_change):
    truth = _truth(first, seed=7)
    path = write_export(tmp_path / "export.zip", truth, tz=tz, seed=11, heart_rate_samples_per_day=24)

    read = read_export(path, user_id="u1")

    expected = _expected(truth)
    assert len(expected) == 59 and clocks_change in expected and first + timedelta(days=13) not in expected
    assert _measured(read.days) == expected
    assert [day.external_id for day in read.days] == [day.isoformat() for day in sorted(expected)]
    assert {(day.user_id, day.source, day.sleep_quality) for day in read.days} == {("u1", "APPLE_HEALTH", None)}
    assert all(day.recorded_at.date() == day.local_date for day in read.days)
    by_date = {day.local_date: day for day in read.days}
    before, after = by_date[clocks_change - timedelta(days=1)], by_date[clocks_change + timedelta(days=1)]
    assert before.recorded_at.utcoffset() != after.recorded_at.utcoffset()
    assert read_export(path, user_id="u1", timezone=tz).days == read.days
    summary = read.summary
    assert (summary.days, summary.first_date, summary.last_date) == (59, first, first + timedelta(days=59))
    assert summary.ignored[HEART_RATE] == 60 * 24
    assert summary.records == sum(summary.used.values()) + sum(summary.ignored.values())
    assert summary.used[HRV] >= 3 * 58 and summary.exported_at.startswith((first + timedelta(days=60)).isoformat())


def test_zip_and_bare_xml_read_the_same_and_the_zip_is_not_extracted(tmp_path):
    truth = _truth(date(2025, 1, 1), seed=3)
    packed = write_export(tmp_path / "export.zip", truth, tz="Asia/Kolkata", seed=5, heart_rate_samples_per_day=10)
    bare = write_export(tmp_path / "export.xml", truth, tz="Asia/Kolkata", seed=5, heart_rate_samples_per_day=10,
                        zip=False)

    from_zip, from_xml = read_export(packed, user_id="u"), read_export(bare, user_id="u")

    assert from_zip.days == from_xml.days and len(from_zip.days) == 59
    assert from_zip.summary.file == f"{packed}:apple_health_export/export.xml"
    assert {**vars(from_zip.summary), "file": None} == {**vars(from_xml.summary), "file": None}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.xml", "export.zip"]
    assert zipfile.ZipFile(packed).read("apple_health_export/export.xml") == bare.read_bytes()


def _record(kind: str, start: str, end: str, value: str, source: str = "Apple Watch", unit: str | None = None) -> str:
    unit = UNITS.get(kind) if unit is None else unit
    unit_attribute = f' unit="{unit}"' if unit else ""
    return (f' <Record type="{kind}" sourceName="{source}" sourceVersion="10.3"{unit_attribute} '
            f'creationDate="{end}" startDate="{start}" endDate="{end}" value="{value}"/>\n')


def _sleep(start: str, end: str, stage: str, source: str = "Apple Watch") -> str:
    return _record(SLEEP, start, end, f"HKCategoryValueSleepAnalysis{stage}", source)


def _export(tmp_path, *records: str, header: str = HEADER, name: str = "export.xml"):
    path = tmp_path / name
    path.write_text(header + "".join(records) + "</HealthData>\n", encoding="utf-8")
    return path


def test_overlapping_watch_and_iphone_sleep_counts_the_union_once(tmp_path):
    path = _export(
        tmp_path,
        _sleep("2025-03-04 22:30:00 +0100", "2025-03-05 07:15:00 +0100", "InBed", "iPhone"),
        _sleep("2025-03-04 22:45:00 +0100", "2025-03-05 02:00:00 +0100", "AsleepUnspecified", "iPhone"),
        _sleep("2025-03-05 05:00:00 +0100", "2025-03-05 07:00:00 +0100", "Asleep", "iPhone"),
        _sleep("2025-03-04 23:00:00 +0100", "2025-03-05 01:00:00 +0100", "AsleepCore"),
        _sleep("2025-03-05 01:00:00 +0100", "2025-03-05 01:20:00 +0100", "Awake"),
        _sleep("2025-03-05 01:20:00 +0100", "2025-03-05 03:00:00 +0100", "AsleepDeep"),
        _sleep("2025-03-05 03:00:00 +0100", "2025-03-05 06:30:00 +0100", "AsleepREM"),
    )

    read = read_export(path, user_id="u")

    # The union is 22:45 to 07:00 (the iPhone covers the Watch's awakening); the sum would be 12.42 hours.
    assert _measured(read.days) == {date(2025, 3, 5): (8.25, None, None, None)}
    assert read.days[0].recorded_at == datetime.fromisoformat("2025-03-05 07:00:00+01:00")
    assert read.summary.used == {SLEEP: 5} and read.summary.ignored == {SLEEP: 2}


def test_a_night_counts_on_its_wake_up_day_and_a_nap_is_left_out(tmp_path):
    path = _export(
        tmp_path,
        _sleep("2025-01-10 22:30:00 +0100", "2025-01-10 23:45:00 +0100", "AsleepCore"),  # 1.5 h awake after it
        _sleep("2025-01-11 01:15:00 +0100", "2025-01-11 07:00:00 +0100", "AsleepCore"),
        _sleep("2025-01-11 15:00:00 +0100", "2025-01-11 15:45:00 +0100", "AsleepUnspecified", "iPhone"),
        _sleep("2025-01-11 23:50:00 +0100", "2025-01-12 06:50:00 +0100", "AsleepREM"),
        _sleep("2025-01-13 13:00:00 +0100", "2025-01-13 14:30:00 +0100", "AsleepCore"),  # a day's only sleep
    )

    days = read_export(path, user_id="u").days

    assert _measured(days) == {date(2025, 1, 11): (7.0, None, None, None), date(2025, 1, 12): (7.0, None, None, None),
                               date(2025, 1, 13): (1.5, None, None, None)}
    assert days[0].recorded_at == datetime.fromisoformat("2025-01-11 07:00:00+01:00")


def test_steps_take_the_source_with_the_larger_day_total_and_a_sample_counts_on_the_day_it_starts(tmp_path):
    path = _export(
        tmp_path,
        _record(STEPS, "2025-05-01 08:00:00 -0400", "2025-05-01 08:10:00 -0400", "1000"),
        _record(STEPS, "2025-05-01 12:00:00 -0400", "2025-05-01 12:10:00 -0400", "2000"),
        _record(STEPS, "2025-05-01 18:00:00 -0400", "2025-05-01 18:05:00 -0400", "500"),
        _record(STEPS, "2025-05-01 08:01:00 -0400", "2025-05-01 08:09:00 -0400", "3000", "iPhone"),
        _record(STEPS, "2025-05-01 20:00:00 -0400", "2025-05-01 20:10:00 -0400", "400", "iPhone"),
        _record(STEPS, "2025-05-02 09:00:00 -0400", "2025-05-02 09:10:00 -0400", "100"),  # the Watch charged
        _record(STEPS, "2025-05-02 10:00:00 -0400", "2025-05-02 10:30:00 -0400", "4700", "iPhone"),
        _record(STEPS, "2025-05-02 23:55:00 -0400", "2025-05-03 00:10:00 -0400", "300", "iPhone"),
    )

    read = read_export(path, user_id="u")

    assert _measured(read.days) == {date(2025, 5, 1): (None, None, None, 3500),
                                    date(2025, 5, 2): (None, None, None, 5000)}
    # recorded_at is the chosen source's latest end: the Watch's 18:05, not the iPhone's 20:10.
    assert [day.recorded_at.isoformat() for day in read.days] == ["2025-05-01T18:05:00-04:00",
                                                                  "2025-05-03T00:10:00-04:00"]


@pytest.mark.parametrize(("start", "timezone", "day", "recorded_at"), [
    ("2025-06-01 22:30:00 -0700", None, date(2025, 6, 1), "2025-06-01T22:31:00-07:00"),
    ("2025-06-01 22:30:00 -0700", "America/Los_Angeles", date(2025, 6, 1), "2025-06-01T22:31:00-07:00"),
    ("2025-06-01 22:30:00 -0700", "America/New_York", date(2025, 6, 2), "2025-06-02T01:31:00-04:00"),
    ("2025-06-02 00:30:00 +0200", None, date(2025, 6, 2), "2025-06-02T00:31:00+02:00"),
    ("2025-06-02 00:30:00 +0200", "Europe/London", date(2025, 6, 1), "2025-06-01T23:31:00+01:00"),
])
def test_a_timezone_moves_a_record_near_midnight_to_the_next_or_previous_day(tmp_path, start, timezone, day,
                                                                              recorded_at):
    end = start.replace(":30:00", ":31:00")
    path = _export(tmp_path, _record(HRV, start, end, "40.0"))

    [measured] = read_export(path, user_id="u", timezone=timezone).days

    assert (measured.local_date, measured.external_id, measured.hrv_score) == (day, day.isoformat(), 40)
    assert measured.recorded_at.isoformat() == recorded_at


def test_records_inside_a_correlation_repeat_top_level_ones_and_are_not_counted_twice(tmp_path):
    step = _record(STEPS, "2025-05-01 08:00:00 -0400", "2025-05-01 08:10:00 -0400", "1000")
    path = _export(tmp_path, step, ' <Correlation type="HKCorrelationTypeIdentifierFood" sourceName="App" '
                                   'startDate="2025-05-01 08:00:00 -0400" endDate="2025-05-01 08:10:00 -0400">\n'
                   f' {step} </Correlation>\n')

    read = read_export(path, user_id="u")

    assert _measured(read.days) == {date(2025, 5, 1): (None, None, None, 1000)}
    assert read.summary.records == 1


def test_the_malformed_dtd_of_ios_16_exports_is_read_and_line_numbers_stay_true(tmp_path):
    bad = _record(HRV, "2025-06-01 08:00:00 +0200", "2025-06-01 08:01:00 +0200", "forty")
    good = _record(HRV, "2025-06-01 07:00:00 +0200", "2025-06-01 07:01:00 +0200", "40")
    assert _measured(read_export(_export(tmp_path, good, header=BROKEN_DTD_HEADER), user_id="u").days) == {
        date(2025, 6, 1): (None, 40, None, None)}
    path = _export(tmp_path, good, bad, header=BROKEN_DTD_HEADER)
    line = BROKEN_DTD_HEADER.count("\n") + 2

    with pytest.raises(ValueError, match=f"export.xml, line {line}: record 2 "):
        read_export(path, user_id="u")


GOOD_START, GOOD_END = "2025-06-01 08:00:00 +0200", "2025-06-01 08:01:00 +0200"


@pytest.mark.parametrize(("record", "problem"), [
    (_record(HRV, GOOD_START, GOOD_END, "n/a"), "value 'n/a' is not a number"),
    (_record(HRV, GOOD_START, GOOD_END, "nan"), "value 'nan' is not a number"),
    (_record(HRV, GOOD_START, GOOD_END, "40", unit="s"), "unit 's' is not 'ms'"),
    (_record(STEPS, GOOD_START, GOOD_END, "12", unit="steps"), "unit 'steps' is not 'count'"),
    (_record(HRV, "2025-06-01T08:00:00Z", GOOD_END, "40"),
     "startDate '2025-06-01T08:00:00Z' is not a date like '2025-03-09 07:12:00 -0800'"),
    (_record(STEPS, GOOD_START, "2025-06-01 07:00:00 +0200", "12"),
     "endDate '2025-06-01 07:00:00 +0200' is before startDate"),
    (_sleep(GOOD_START, GOOD_END, "Dozing"), "sleep value 'HKCategoryValueSleepAnalysisDozing' is none of"),
])
def test_a_malformed_record_raises_naming_file_line_record_and_value(tmp_path, record, problem):
    ignored = _record(HEART_RATE, "2025-06-01 07:00:00 +0200", "2025-06-01 07:00:00 +0200", "70", unit="count/min")
    path = _export(tmp_path, ignored, record)
    kind = re.search(r'type="(\w+)"', record).group(1)
    start = re.search(r'startDate="([^"]+)"', record).group(1)

    with pytest.raises(ValueError) as raised:
        read_export(path, user_id="u")

    line = HEADER.count("\n") + 2
    assert str(raised.value).startswith(f"{path}, line {line}: record 2 ({kind} starting {start!r}): {problem}")


def test_xml_that_is_not_well_formed_or_not_an_export_names_the_file_and_place(tmp_path):
    truncated = _export(tmp_path, _record(HRV, GOOD_START, GOOD_END, "40")[:60], name="truncated.xml")
    with pytest.raises(ValueError, match=re.escape(f"{truncated}, line {HEADER.count(chr(10)) + 1}, column ")
                       + ".*not well-formed XML"):
        read_export(truncated, user_id="u")
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<ClinicalDocument/>\n')
    with pytest.raises(ValueError, match="root element is <ClinicalDocument>, not an Apple Health export"):
        read_export(other, user_id="u")


def test_a_zip_is_read_through_its_one_export_xml_whatever_its_localized_name(tmp_path):
    xml = _export(tmp_path, _record(HRV, GOOD_START, GOOD_END, "40")).read_bytes()
    german = tmp_path / "export.zip"
    with zipfile.ZipFile(german, "w") as archive:
        archive.writestr("apple_health_export/Exportieren.xml", xml)
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
        archive.writestr("apple_health_export/workout-routes/route_2025-06-01.gpx", "<gpx/>")
    assert read_export(german, user_id="u").summary.file == f"{german}:apple_health_export/Exportieren.xml"
    ambiguous = tmp_path / "two.zip"
    with zipfile.ZipFile(ambiguous, "w") as archive:
        archive.writestr("a/export.xml", xml)
        archive.writestr("b/export.xml", xml)
    with pytest.raises(ValueError, match=re.escape("expected one export.xml in the zip, found ['a/export.xml', "
                                                   "'b/export.xml'] among its 2 members")):
        read_export(ambiguous, user_id="u")


def test_an_empty_export_gives_no_days(tmp_path):
    empty = pd.DataFrame(columns=["date", *MEASURES])
    for path in (write_export(tmp_path / "export.zip", empty, tz="UTC", seed=1), _export(tmp_path)):
        read = read_export(path, user_id="u")
        assert read.days == []
        assert (read.summary.records, read.summary.days, read.summary.first_date) == (0, 0, None)


def test_an_unknown_timezone_and_a_value_the_writer_cannot_carry_are_named(tmp_path):
    with pytest.raises(ValueError, match="timezone 'Mars/Olympus' is not an IANA time zone name"):
        read_export(_export(tmp_path), user_id="u", timezone="Mars/Olympus")
    too_long = pd.DataFrame({"date": [date(2025, 1, 1)], "sleep_hours": [15.0], "hrv_sdnn": [np.nan],
                             "resting_heart_rate": [np.nan], "steps": [np.nan]})
    with pytest.raises(ValueError, match=r"days row 1 \(2025-01-01\): sleep_hours 15.0 is outside \(0, 14.0\]"):
        write_export(tmp_path / "x.zip", too_long, tz="UTC", seed=1)
