"""Apple Health's export (``export.zip`` or a bare ``export.xml``) as one ``WearableDay`` per local day of the user.

Why streamed through expat's callbacks: a few years of an Apple Watch make a gigabyte of ``export.xml``, most of it
heart rate samples this importer ignores. Expat (the parser under ``xml.etree``'s ``iterparse``) hands over each
element's attributes without building a tree, so there is nothing to clear and memory depends on the number of days,
never on the file's size; it also knows the line it is on, which every error names. A zip is read through its
member's decompressing stream, never extracted to disk.

What is read (records that are children of ``HealthData``; Apple's DTD says the records inside a ``Correlation``
repeat top-level ones, so they are not counted twice):
- ``HeartRateVariabilitySDNN`` (ms) -> ``hrv_score``, the day's mean rounded to an integer; SDNN, as
  ``records.HRV_METHOD`` says, never averaged with another vendor's RMSSD;
- ``RestingHeartRate`` (count/min) -> ``resting_heart_rate``, the day's mean rounded to an integer;
- ``StepCount`` (count) -> ``steps``: per day and ``sourceName`` the sum, and the day takes the one source with the
  largest sum (a tie goes to the name that sorts first). Why not the sum of all sources: the iPhone and the Watch
  count the same walk, so the sum double counts. The Health app instead merges sources minute by minute in the
  order of the user's source priority, which the export does not contain; the largest single source never double
  counts and is what the Health app shows whenever one device carried the day, a little less when the Watch was
  off for part of a day the iPhone was not;
- ``SleepAnalysis`` asleep values (``Asleep``, ``AsleepUnspecified``, ``AsleepCore``, ``AsleepDeep``, ``AsleepREM``;
  not ``InBed``, not ``Awake``) -> ``sleep_hours``: the union of all sources' asleep intervals (the iPhone and the
  Watch record the same night, so summing them double counts), grouped into sleeps (asleep time separated by less
  than ``NIGHT_GAP`` of wakefulness); a day's night is the longest sleep ending on it (the wake-up day), in hours
  rounded to 0.01. Shorter sleeps ending on the same day are naps and are left out, as the Oura and WHOOP importers
  leave theirs out, so ``sleep_hours`` means the night's sleep whichever vendor measured it. ``sleep_quality`` stays
  None: Apple has no such score.
Every other record type, and ``InBed``/``Awake`` sleep records, are counted as ignored.

Calendar days: a sample's day is that of its start (a step sample running past midnight counts on the day it
started), a night's that of its end. With ``timezone`` (an IANA name) instants are converted to it; without, each
record's own offset is its local time, which is the time the device showed (so a trip abroad keeps local days).
Either way durations are taken between absolute instants, so a night across a DST change lasts what it lasted.

Values are kept as Apple wrote them, impossible ones included (an HRV of 0 reaches the import's asset check, which
names the row); a record the importer cannot read (a unit Apple does not write for its type, a value or date that
does not parse, an end before its start, an unknown sleep value) raises ValueError naming the file, line, record
number, type, start date and the value. Apple writes these four types in one unit each (ms, count/min, count), so
there is nothing to convert: any other unit is an error rather than a guess.
"""

from __future__ import annotations

import math
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from americano_pipeline.context.records import WearableDay

SOURCE = "APPLE_HEALTH"
HRV = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
RESTING_HEART_RATE = "HKQuantityTypeIdentifierRestingHeartRate"
STEPS = "HKQuantityTypeIdentifierStepCount"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
UNITS = {HRV: "ms", RESTING_HEART_RATE: "count/min", STEPS: "count"}
ASLEEP = frozenset(f"HKCategoryValueSleepAnalysis{value}"
                   for value in ("Asleep", "AsleepUnspecified", "AsleepCore", "AsleepDeep", "AsleepREM"))
NOT_ASLEEP = frozenset({"HKCategoryValueSleepAnalysisInBed", "HKCategoryValueSleepAnalysisAwake"})
# Wakefulness that ends a night: longer than a night's awakenings, shorter than the day between two nights.
NIGHT_GAP = timedelta(hours=4)
DATE_FORMAT = "2025-03-09 07:12:00 -0800"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExportSummary:
    """What an import read, for the asset's metadata: the file (and the member read inside a zip), the export's own
    ``ExportDate`` as written, how many records there were, how many of each type were used and ignored, and the
    first and last local day produced."""

    file: str
    exported_at: str | None
    records: int
    used: dict[str, int]
    ignored: dict[str, int]
    days: int
    first_date: date | None
    last_date: date | None

    def metadata(self) -> dict[str, object]:
        """The summary as JSON-friendly values (dates as ISO strings)."""
        return {"file": self.file, "exported_at": self.exported_at, "records": self.records, "used": self.used,
                "ignored": self.ignored, "days": self.days,
                "first_date": self.first_date.isoformat() if self.first_date else None,
                "last_date": self.last_date.isoformat() if self.last_date else None}


@dataclass(frozen=True)
class ExportRead:
    """``days``: one ``WearableDay`` per local day with at least one measurement, in date order (empty for an
    export without any); ``summary``: what was read."""

    days: list[WearableDay]
    summary: ExportSummary


def read_export(path: str | Path, *, user_id: str, timezone: str | None = None) -> ExportRead:
    """Read ``path`` (Apple's ``export.zip`` or its ``export.xml``) into ``user_id``'s days.

    ``timezone``: the IANA zone whose calendar days the user lives by; None takes each record's own UTC offset.
    """
    zone = _zone(timezone)
    path = Path(path)
    with _open(path) as (stream, where):
        reader = _Reader(where, zone)
        reader.parse(stream)
    days = reader.days(user_id)
    summary = ExportSummary(file=where, exported_at=reader.exported_at, records=reader.records,
                            used=dict(sorted(reader.used.items())), ignored=dict(sorted(reader.ignored.items())),
                            days=len(days), first_date=days[0].local_date if days else None,
                            last_date=days[-1].local_date if days else None)
    return ExportRead(days, summary)


def _zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone {name!r} is not an IANA time zone name (like 'Europe/Berlin')") from error


@contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, str]]:
    """The export's XML as a binary stream, and how errors name it (``<zip>:<member>`` inside a zip)."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as stream:
            yield stream, str(path)
        return
    with zipfile.ZipFile(path) as archive:
        member = _export_member(archive, path)
        with archive.open(member) as stream:
            yield stream, f"{path}:{member}"


def _export_member(archive: zipfile.ZipFile, path: Path) -> str:
    """The zip's one export XML: ``apple_health_export/export.xml``, or its localized name (a German iPhone writes
    ``Exportieren.xml``), so any ``.xml`` at most one folder deep that is not the clinical ``export_cda.xml``."""
    names = archive.namelist()
    candidates = [name for name in names if name.lower().endswith(".xml") and name.count("/") <= 1
                  and not name.lower().endswith("_cda.xml")]
    if len(candidates) != 1:
        raise ValueError(f"{path}: expected one export.xml in the zip, found {candidates or 'none'} "
                         f"among its {len(names)} members")
    return candidates[0]


def _without_dtd(head: bytes) -> bytes:
    """``head`` with the internal DTD subset blanked out, line breaks kept so line numbers stay true.

    Why: iOS 16 wrote a malformed subset (an ``ATTLIST`` missing its ``>``), which stops any conforming parser near
    line 156 before the first record. The subset only declares elements and attributes (no entities, no default
    values), so the records read the same without it.
    """
    start = head.find(b"<!DOCTYPE")
    end = head.find(b"]>", start)
    if start < 0 or end < 0 or head.find(b"<HealthData", start, end) >= 0:
        return head
    return head[:start] + b"\n" * head.count(b"\n", start, end) + head[end + 2:]


def _apple_date(text: str | None) -> datetime | None:
    """``2025-03-09 07:12:00 -0800`` as an aware datetime, None if ``text`` is not one."""
    if text is None or len(text) != len(DATE_FORMAT) or text[19] != " ":
        return None
    try:
        moment = datetime.fromisoformat(text[:19] + text[20:])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class _Tally:
    """A day's running sum, count and latest end of one quantity."""

    __slots__ = ("total", "count", "last")

    def __init__(self):
        self.total, self.count, self.last = 0.0, 0, None

    def add(self, value: float, end: datetime) -> None:
        self.total += value
        self.count += 1
        if self.last is None or end > self.last:
            self.last = end


class _Reader:
    """Expat callbacks that fold the export's records into per-day sums as they stream past."""

    def __init__(self, where: str, zone: tzinfo | None):
        self.where, self.zone = where, zone
        self.exported_at: str | None = None
        self.records = 0
        self.used: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.hrv: defaultdict[date, _Tally] = defaultdict(_Tally)
        self.resting: defaultdict[date, _Tally] = defaultdict(_Tally)
        self.steps: defaultdict[date, defaultdict[str, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
        self.asleep: list[tuple[datetime, datetime]] = []
        self._depth = 0
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._handlers = {HRV: self._hrv, RESTING_HEART_RATE: self._resting, STEPS: self._step, SLEEP: self._sleep}

    def parse(self, stream: BinaryIO) -> None:
        try:
            self._parser.Parse(_without_dtd(stream.read(_CHUNK)), False)
            while chunk := stream.read(_CHUNK):
                self._parser.Parse(chunk, False)
            self._parser.Parse(b"", True)
        except expat.ExpatError as error:
            raise ValueError(f"{self.where}, line {error.lineno}, column {error.offset}: not well-formed XML "
                             f"({expat.ErrorString(error.code)})") from None

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 2:
            if name == "Record":
                self._record(attrs)
            elif name == "ExportDate":
                self.exported_at = attrs.get("value")
        elif self._depth == 1 and name != "HealthData":
            raise ValueError(f"{self.where}: the root element is <{name}>, not an Apple Health export's <HealthData>")

    def _end(self, name: str) -> None:
        self._depth -= 1

    def _record(self, attrs: dict[str, str]) -> None:
        self.records += 1
        kind = attrs.get("type")
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(kind, attrs)
        elif kind is None:
            raise self._error(attrs, "the record has no type")
        else:
            self.ignored[kind] += 1

    def _error(self, attrs: dict[str, str], problem: str) -> ValueError:
        return ValueError(f"{self.where}, line {self._parser.CurrentLineNumber}: record {self.records} "
                          f"({attrs.get('type')} starting {attrs.get('startDate')!r}): {problem}")

    def _interval(self, attrs: dict[str, str]) -> tuple[datetime, datetime]:
        start, end = _apple_date(attrs.get("startDate")), _apple_date(attrs.get("endDate"))
        for name, moment in (("startDate", start), ("endDate", end)):
            if moment is None:
                raise self._error(attrs, f"{name} {attrs.get(name)!r} is not a date like {DATE_FORMAT!r}")
        if end < start:
            raise self._error(attrs, f"endDate {attrs['endDate']!r} is before startDate")
        return start, end

    def _value(self, kind: str, attrs: dict[str, str]) -> float:
        unit, text = attrs.get("unit"), attrs.get("value")
        if unit != UNITS[kind]:
            raise self._error(attrs, f"unit {unit!r} is not {UNITS[kind]!r}, the one Apple writes for this type")
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise self._error(attrs, f"value {text!r} is not a number")
        return value

    def _day(self, moment: datetime) -> date:
        return self._local(moment).date()

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone) if self.zone is not None else moment

    def _hrv(self, kind: str, attrs: dict[str, str]) -> None:
        self._mean(self.hrv, kind, attrs)

    def _resting(self, kind: str, attrs: dict[str, str]) -> None:
        self._mean(self.resting, kind, attrs)

    def _mean(self, days: defaultdict[date, _Tally], kind: str, attrs: dict[str, str]) -> None:
        start, end = self._interval(attrs)
        days[self._day(start)].add(self._value(kind, attrs), end)
        self.used[kind] += 1

    def _step(self, kind: str, attrs: dict[str, str]) -> None:
        start, end = self._interval(attrs)
        value = self._value(kind, attrs)
        self.steps[self._day(start)][attrs.get("sourceName", "")].add(value, end)
        self.used[kind] += 1

    def _sleep(self, kind: str, attrs: dict[str, str]) -> None:
        value = attrs.get("value")
        if value in ASLEEP:
            self.asleep.append(self._interval(attrs))
            self.used[kind] += 1
        elif value in NOT_ASLEEP:
            self.ignored[kind] += 1
        else:
            raise self._error(attrs, f"sleep value {value!r} is none of {', '.join(sorted(ASLEEP | NOT_ASLEEP))}")

    def _nights(self) -> dict[date, tuple[float, datetime]]:
        """Per wake-up day its night: the seconds asleep of the longest sleep ending on it (the union of its asleep
        intervals), and the sleep's end."""
        nights: dict[date, tuple[float, datetime]] = {}

        def close(asleep: float, end: datetime) -> None:
            day = self._day(end)
            if day not in nights or asleep > nights[day][0]:
                nights[day] = (asleep, end)

        asleep, end = 0.0, None
        for start, stop in sorted(self.asleep):
            if end is not None and start <= end:
                if stop > end:
                    asleep += (stop - end).total_seconds()
                    end = stop
                continue
            if end is not None and start - end >= NIGHT_GAP:
                close(asleep, end)
                asleep = 0.0
            asleep += (stop - start).total_seconds()
            end = stop
        if end is not None:
            close(asleep, end)
        return nights

    def days(self, user_id: str) -> list[WearableDay]:
        nights = self._nights()
        result = []
        for day in sorted(self.hrv.keys() | self.resting.keys() | self.steps.keys() | nights.keys()):
            measured, ends = {}, []
            if day in nights:
                asleep, end = nights[day]
                measured["sleep_hours"] = round(asleep / 3600, 2)
                ends.append(end)
            for field, means in (("hrv_score", self.hrv), ("resting_heart_rate", self.resting)):
                if day in means:
                    measured[field] = round(means[day].total / means[day].count)
                    ends.append(means[day].last)
            if day in self.steps:
                _, steps = min(self.steps[day].items(), key=lambda item: (-item[1].total, item[0]))
                measured["steps"] = round(steps.total)
                ends.append(steps.last)
            result.append(WearableDay(user_id=user_id, source=SOURCE, external_id=day.isoformat(), local_date=day,
                                      recorded_at=self._local(max(ends)), **measured))
        return result
