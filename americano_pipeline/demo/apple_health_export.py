"""Realistic Apple Health exports (``export.zip`` or a bare ``export.xml``) written from known daily values.

Why: the importer (``americano_pipeline.context.apple_health``) has to be checked against what the Health app really
writes, and its memory bound against a gigabyte of it; nobody's real export can sit in a repository. The tests, the
synthetic study and ``bench/apple_health_import.py`` write one from a table of daily truth and read it back.

What it copies from real exports (HealthKit Export Version 14): the XML declaration and internal DTD subset, a
``HealthData`` root with ``locale``, ``ExportDate`` and ``Me``; ``Record`` elements grouped by type and, within a
type, by source, each with ``sourceName``, ``sourceVersion``, ``device``, ``unit``, ``creationDate``, ``startDate``,
``endDate`` and ``value``, dates as ``2025-03-09 07:12:00 -0800`` in the time zone of the day; heart rate samples
(the bulk of a real export) with a motion-context ``MetadataEntry``; HRV (SDNN) samples a few times a day with their
``InstantaneousBeatsPerMinute`` lists; one resting heart rate a day; steps as many small samples from both the Watch
and the iPhone over the same minutes; each night as Watch sleep stages (Core, Deep, REM, Awake between cycles) and
overlapping iPhone ``AsleepUnspecified`` and ``InBed`` intervals; an ``ActivitySummary`` per day; in the zip,
``export_cda.xml`` beside ``export.xml``.

How the truth survives the round trip: a night is whole seconds of Watch stages adding up to ``sleep_hours``, and
the iPhone's asleep intervals lie inside the Watch's asleep blocks, so their union is the truth while their sum is
not; the night ends on the row's date (the wake-up day). One source's step samples add up to ``steps`` and the other
source counts fewer (the Watch is the larger one on most days, the iPhone on days the Watch sat on its charger). HRV
samples come in pairs symmetric around ``hrv_sdnn``, so their mean is it. A NaN writes nothing for that measurement.
Everything is streamed to the file a day at a time, so a gigabyte export needs no more memory than a small one.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache, partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

MEMBER = "apple_health_export/export.xml"
CDA_MEMBER = "apple_health_export/export_cda.xml"
COLUMNS = ("date", "sleep_hours", "hrv_sdnn", "resting_heart_rate", "steps")
# The longest night the writer can place between the previous evening and the next bedtime of the wake-up day.
MAX_SLEEP_HOURS = 14.0

_WATCH = ('sourceName="Apple Watch" sourceVersion="10.3" device="&lt;&lt;HKDevice: 0x2834f1a40&gt;, '
          'name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.3&gt;"')
_PHONE = ('sourceName="iPhone" sourceVersion="17.3" device="&lt;&lt;HKDevice: 0x2834f1b80&gt;, '
          'name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,2, software:17.3&gt;"')
_HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
_STEPS = "HKQuantityTypeIdentifierStepCount"
_RESTING = "HKQuantityTypeIdentifierRestingHeartRate"
_HRV = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
_SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
_STAGES = ("AsleepCore", "AsleepDeep", "AsleepCore", "AsleepREM")
_STAGE_WEIGHTS = (0.35, 0.15, 0.25, 0.25)

_DTD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|\
VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth                   CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex                 CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType                     CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType           CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse   CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ATTLIST Correlation
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ATTLIST Workout
  workoutActivityType   CDATA #REQUIRED
  duration              CDATA #IMPLIED
  durationUnit          CDATA #IMPLIED
  totalDistance         CDATA #IMPLIED
  totalDistanceUnit     CDATA #IMPLIED
  totalEnergyBurned     CDATA #IMPLIED
  totalEnergyBurnedUnit CDATA #IMPLIED
  sourceName            CDATA #REQUIRED
  sourceVersion         CDATA #IMPLIED
  device                CDATA #IMPLIED
  creationDate          CDATA #IMPLIED
  startDate             CDATA #REQUIRED
  endDate               CDATA #REQUIRED
>
<!ELEMENT ActivitySummary EMPTY>
<!ATTLIST ActivitySummary
  dateComponents           CDATA #IMPLIED
  activeEnergyBurned       CDATA #IMPLIED
  activeEnergyBurnedGoal   CDATA #IMPLIED
  activeEnergyBurnedUnit   CDATA #IMPLIED
  appleMoveTime            CDATA #IMPLIED
  appleMoveTimeGoal        CDATA #IMPLIED
  appleExerciseTime        CDATA #IMPLIED
  appleExerciseTimeGoal    CDATA #IMPLIED
  appleStandHours          CDATA #IMPLIED
  appleStandHoursGoal      CDATA #IMPLIED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
<!-- Note: Heart Rate Variability records captured by Apple Watch may include an associated list of instantaneous \
beats-per-minute readings. -->
<!ELEMENT HeartRateVariabilityMetadataList (InstantaneousBeatsPerMinute*)>
<!ELEMENT InstantaneousBeatsPerMinute EMPTY>
<!ATTLIST InstantaneousBeatsPerMinute
  bpm  CDATA #REQUIRED
  time CDATA #REQUIRED
>
]>
"""
_ME = (' <Me HKCharacteristicTypeIdentifierDateOfBirth="1996-04-12" '
       'HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" '
       'HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" '
       'HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" '
       'HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n')
_CDA = ('<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="CDA.xsl"?>\n'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Health Data</title></ClinicalDocument>\n')


@dataclass(frozen=True)
class _Day:
    """One row of ``days``: the local date and what was measured on it (None = nothing recorded)."""

    date: date
    sleep_seconds: int | None
    hrv: float | None
    resting: float | None
    steps: int | None


class _Clock:
    """Instants as integer UTC seconds, written the way Apple writes them: local time of ``tz`` and its offset.

    Formatting is cached per minute (an offset only changes on a minute boundary), which keeps a gigabyte of
    heart rate samples cheap to stamp.
    """

    def __init__(self, tz: str):
        self.zone = ZoneInfo(tz)
        self._minute = lru_cache(maxsize=4096)(self._format_minute)

    def _format_minute(self, minute: int) -> tuple[str, str]:
        iso = datetime.fromtimestamp(minute * 60, self.zone).isoformat(sep=" ")  # 2025-03-09 07:12:00-08:00
        return iso[:17], f" {iso[19:22]}{iso[23:25]}"

    def stamp(self, instant: int) -> str:
        head, tail = self._minute(instant // 60)
        return f"{head}{instant % 60:02d}{tail}"

    def at(self, day: date, hour: int, minute: int = 0) -> int:
        """The instant of a local wall-clock time (one the clocks skip maps to as much later: 02:30 -> 03:30)."""
        return int(datetime.combine(day, time(hour, minute), self.zone).timestamp())

    def day_bounds(self, day: date) -> tuple[int, int]:
        """Local midnight to the next local midnight: 23 or 25 hours on the days the clocks change."""
        return self.at(day, 0), self.at(day + timedelta(days=1), 0)


def write_export(path: str | Path, days: pd.DataFrame, *, tz: str, seed: int, heart_rate_samples_per_day: int = 0,
                 zip: bool = True) -> Path:
    """Write an export of ``days`` (columns ``COLUMNS``, one row per local day of ``tz``, NaN = not recorded).

    ``zip`` writes Apple's ``export.zip`` (``export.xml`` under ``apple_health_export/``, beside ``export_cda.xml``),
    otherwise the bare ``export.xml``. ``heart_rate_samples_per_day`` adds the heart rate samples that make up most
    of a real export (the importer ignores them): it sets the file's size. The same ``seed`` writes the same file.
    Returns ``path``.
    """
    path = Path(path)
    rows = _days(days)
    clock = _Clock(tz)
    chunks = _document(rows, clock, tz, seed, heart_rate_samples_per_day)
    if not zip:
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            out.writelines(chunks)
        return path
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(MEMBER, "w", force_zip64=True) as member, \
                io.TextIOWrapper(member, encoding="utf-8", newline="\n") as out:
            out.writelines(chunks)
        archive.writestr(CDA_MEMBER, _CDA)
    return path


def _days(frame: pd.DataFrame) -> list[_Day]:
    """``frame``'s rows as ``_Day`` values in date order; a value the export cannot carry raises naming its row."""
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"days lacks column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    rows, seen = [], set()
    for number, row in enumerate(frame[list(COLUMNS)].itertuples(index=False), start=1):
        day = pd.Timestamp(row.date).date()
        if day in seen:
            raise ValueError(f"days row {number}: date {day} appears twice")
        seen.add(day)
        sleep = _measured(row.sleep_hours)
        if sleep is not None and not 0 < sleep <= MAX_SLEEP_HOURS:
            raise ValueError(f"days row {number} ({day}): sleep_hours {sleep} is outside (0, {MAX_SLEEP_HOURS}], "
                             f"which a night ending on that day cannot hold")
        steps = _measured(row.steps)
        if steps is not None and (steps < 0 or steps != int(steps)):
            raise ValueError(f"days row {number} ({day}): steps {steps} is not a non-negative whole number")
        rows.append(_Day(day, None if sleep is None else round(sleep * 3600), _measured(row.hrv_sdnn),
                         _measured(row.resting_heart_rate), None if steps is None else int(steps)))
    return sorted(rows, key=lambda row: row.date)


def _measured(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _document(days: list[_Day], clock: _Clock, tz: str, seed: int, heart_rate_per_day: int) -> Iterator[str]:
    """The export as text chunks of about a day each, in Apple's order: by type, then by source."""
    exported = clock.at(days[-1].date + timedelta(days=1), 9) if days else clock.at(date(2025, 1, 1), 9)
    yield _DTD
    yield f'<HealthData locale="en_US">\n <ExportDate value="{clock.stamp(exported)}"/>\n{_ME}'
    if heart_rate_per_day:
        yield from _per_day(days, seed, "heart rate", partial(_heart_rate, clock=clock, per_day=heart_rate_per_day))
    for source in (_PHONE, _WATCH):
        yield from _per_day(days, seed, "steps", partial(_steps, clock=clock, source=source))
    yield from _per_day(days, seed, "resting", partial(_resting, clock=clock))
    yield from _per_day(days, seed, "hrv", partial(_hrv, clock=clock))
    for source in (_PHONE, _WATCH):
        yield from _per_day(days, seed, "sleep", partial(_sleep, clock=clock, tz=tz, source=source))
    yield from _per_day(days, seed, "summary", _activity_summary)
    yield "</HealthData>\n"


def _per_day(days: list[_Day], seed: int, part: str, records) -> Iterator[str]:
    """``records(day, rng)`` for every day, each day with its own generator seeded by (seed, part, date): a source's
    pass and the other source's pass over the same day draw the same night and the same step plan, and the heart
    rate samples never shift the other parts."""
    for day in days:
        text = "".join(records(day, random.Random(f"{seed}:{part}:{day.date.isoformat()}")))
        if text:
            yield text


def _record(kind: str, source: str, unit: str | None, created: str, start: str, end: str, value: str,
            children: str = "") -> str:
    unit_attribute = f' unit="{unit}"' if unit else ""
    head = (f' <Record type="{kind}" {source}{unit_attribute} creationDate="{created}" startDate="{start}" '
            f'endDate="{end}" value="{value}"')
    return f"{head}>\n{children} </Record>\n" if children else f"{head}/>\n"


def _heart_rate(day: _Day, rng: random.Random, clock: _Clock, per_day: int) -> Iterable[str]:
    first, last = clock.day_bounds(day.date)
    step = (last - first) / per_day
    stamp = clock.stamp
    for index in range(per_day):
        instant = first + int((index + rng.random()) * step)
        at = stamp(instant)
        motion = f'  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="{rng.randint(0, 1)}"/>\n'
        yield _record(_HEART_RATE, _WATCH, "count/min", stamp(instant + rng.randint(5, 300)), at, at,
                      str(min(190, max(40, round(rng.gauss(72, 9))))), motion)


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split in whole parts proportional to ``weights`` that add up to exactly ``total``."""
    scale = sum(weights)
    parts = [int(total * weight / scale) for weight in weights]
    for index in range(total - sum(parts)):
        parts[index % len(parts)] += 1
    return parts


def _slots(first: int, last: int, count: int, rng: random.Random, longest: int) -> list[tuple[int, int]]:
    """``count`` non-overlapping (start, end) intervals in [first, last), one in each equal slot, at most
    ``longest`` seconds and at least one second long."""
    width = (last - first) // count
    intervals = []
    for index in range(count):
        start = first + index * width + rng.randint(0, width // 2)
        intervals.append((start, start + max(1, min(longest, rng.randint(width // 8, width // 2)))))
    return intervals


def _steps(day: _Day, rng: random.Random, clock: _Clock, source: str) -> Iterable[str]:
    """The day's step samples of ``source`` between 07:00 and 22:00 local (none crosses midnight): the larger
    source's samples add up to the day's steps, the other's to 50-95% of them over the same minutes."""
    if day.steps is None:
        return
    watch_leads = rng.random() >= 0.15
    intervals = _slots(clock.at(day.date, 7), clock.at(day.date, 22), max(1, min(120, day.steps // 150)), rng, 600)
    shares = [rng.random() + 0.2 for _ in intervals]
    fewer = int(day.steps * rng.uniform(0.5, 0.95))
    leads = watch_leads == (source == _WATCH)
    counts = _split(day.steps if leads else fewer, shares)
    lag = 0 if leads else rng.randint(5, 30)
    for (start, end), count in zip(intervals, counts):
        if count or (leads and day.steps == 0):
            yield _record(_STEPS, source, "count", clock.stamp(end + 60), clock.stamp(start + lag),
                          clock.stamp(end + lag), str(count))


def _resting(day: _Day, rng: random.Random, clock: _Clock) -> Iterable[str]:
    if day.resting is None:
        return
    start = clock.at(day.date, 0) + rng.randint(60, 600)
    end = clock.at(day.date, 20) + rng.randint(0, 3 * 3600)
    yield _record(_RESTING, _WATCH, "count/min", clock.stamp(end + 120), clock.stamp(start), clock.stamp(end),
                  f"{day.resting:g}")


def _hrv(day: _Day, rng: random.Random, clock: _Clock) -> Iterable[str]:
    """Three to six SDNN samples, in pairs symmetric around the day's value (and the value itself when odd)."""
    if day.hrv is None:
        return
    count = rng.randint(3, 6)
    values = [day.hrv] if count % 2 else []
    for _ in range(count // 2):
        spread = rng.uniform(0.05, 0.25) * abs(day.hrv)
        values += [day.hrv + spread, day.hrv - spread]
    rng.shuffle(values)
    for (start, end), value in zip(_slots(clock.at(day.date, 0, 30), clock.at(day.date, 23, 30), count, rng, 60),
                                   values):
        local = datetime.fromtimestamp(start, clock.zone)
        beats = "".join(_beat(local + timedelta(seconds=second), rng) for second in range(end - start))
        children = f"  <HeartRateVariabilityMetadataList>\n{beats}  </HeartRateVariabilityMetadataList>\n"
        yield _record(_HRV, _WATCH, "ms", clock.stamp(end + 10), clock.stamp(start), clock.stamp(end),
                      f"{value:.6f}", children)


def _beat(local: datetime, rng: random.Random) -> str:
    """One beat of an HRV record's list, its time written as Apple does: 12-hour clock with hundredths."""
    noon = "PM" if local.hour >= 12 else "AM"
    moment = f"{local.hour % 12 or 12}:{local.minute:02d}:{local.second:02d}.{rng.randint(0, 99):02d} {noon}"
    return f'   <InstantaneousBeatsPerMinute bpm="{rng.randint(55, 90)}" time="{moment}"/>\n'


def _sleep(day: _Day, rng: random.Random, clock: _Clock, tz: str, source: str) -> Iterable[str]:
    """The night ending on ``day``: the Watch writes its stages and the awake gaps between cycles; the iPhone writes
    the time in bed and one asleep interval inside each of the Watch's asleep blocks."""
    if day.sleep_seconds is None:
        return
    in_bed = clock.at(day.date - timedelta(days=1), 22, 30) + rng.randint(0, 90 * 60)
    onset = in_bed + rng.randint(5 * 60, 25 * 60)
    cycles = max(1, round(day.sleep_seconds / 5400))
    blocks, segments, moment = [], [], onset
    for cycle in _split(day.sleep_seconds, [rng.uniform(0.7, 1.3) for _ in range(cycles)]):
        block_start = moment
        for stage, seconds in zip(_STAGES, _split(cycle, [w * rng.uniform(0.6, 1.4) for w in _STAGE_WEIGHTS])):
            if seconds:
                segments.append((stage, moment, moment + seconds))
                moment += seconds
        if block_start < moment:
            blocks.append((block_start, moment))
        if rng.random() < 0.6:
            awake = rng.randint(60, 900)
            segments.append(("Awake", moment, moment + awake))
            moment += awake
    zone = f'  <MetadataEntry key="HKTimeZone" value="{tz}"/>\n'
    if source == _WATCH:
        for stage, start, end in segments:
            yield _record(_SLEEP, _WATCH, None, clock.stamp(end + 30), clock.stamp(start), clock.stamp(end),
                          f"HKCategoryValueSleepAnalysis{stage}", zone)
        return
    out_of_bed = moment + rng.randint(2 * 60, 10 * 60)
    yield _record(_SLEEP, _PHONE, None, clock.stamp(out_of_bed + 60), clock.stamp(in_bed), clock.stamp(out_of_bed),
                  "HKCategoryValueSleepAnalysisInBed", zone)
    for start, end in blocks:
        trim = min(900, (end - start) // 4)
        inner_start, inner_end = start + rng.randint(0, trim), end - rng.randint(0, trim)
        if inner_start < inner_end:
            yield _record(_SLEEP, _PHONE, None, clock.stamp(out_of_bed + 60), clock.stamp(inner_start),
                          clock.stamp(inner_end), "HKCategoryValueSleepAnalysisAsleepUnspecified", zone)


def _activity_summary(day: _Day, rng: random.Random) -> Iterable[str]:
    energy = round(rng.uniform(250, 700), 3)
    yield (f' <ActivitySummary dateComponents="{day.date.isoformat()}" activeEnergyBurned="{energy}" '
           f'activeEnergyBurnedGoal="500" activeEnergyBurnedUnit="Cal" appleMoveTime="0" appleMoveTimeGoal="0" '
           f'appleExerciseTime="{rng.randint(0, 60)}" appleExerciseTimeGoal="30" '
           f'appleStandHours="{rng.randint(6, 14)}" appleStandHoursGoal="12"/>\n')
