"""Synthetic study behaviour with known ground truth, generated as Arrow tables one user at a time.

Why this shape: the analyses must be checked against effects we planted, on data that looks like a real
self-experimenter's (daily rhythm, weekday effects, autocorrelated day-to-day variation, context that drives
outcomes). Everything is vectorized numpy per user, so 10 million events stream into COPY with bounded memory.

Generative model, per user and calendar day d (UTC days):
  sleep_d        = 7.2 + AR(1)(rho 0.4, sd 0.9) - 0.4 on Fridays/Saturdays
  engagement_d   = 65 - 4·weekend + AR(1)(0.3, 4) + 2·(sleep_d - 7.2) + effect of an engagement protocol in B
  performance_d  = 72 + 3·(sleep_d - 7.2) + AR(1)(0.3, 4) + effect of a performance protocol in B
  minutes_d      = max(10, 45 - 6·weekend + AR(1)(0.3, 6) + effect of a study-minutes protocol in B)
  sessions_d     = 1 + Poisson(1.6)   (at least one session every day, so daily metrics are never missing)
Each session s gets engagement_d + N(0, 4), performance_d + N(0, 5), a Dirichlet share of minutes_d (so a
day's session minutes add up to minutes_d), a start hour around 9, 14 or 20 h, and a mission that completes
with probability 0.75 + 0.005·(engagement_d - 65). Sessions are event sequences SESSION_STARTED,
MISSION_STARTED, study events, MISSION_COMPLETED (or VALIDATION_COMPLETED), SESSION_ENDED; SESSION_ENDED's
eventData carries durationMinutes and engagementScore, from which the warehouse computes the daily metrics.

Context the outcomes depend on, and context they do not (``wearable_truth``, ``context_truth``): the first
``WEARABLE_USERS`` users also wear a device, whose days are a table drawn from a random stream of its own (seeded by
(seed, user, ``_WEARABLE_STREAM``)), so adding it left every value above as it was:
  sleep_hours    = sleep_d, the very value that drives engagement and performance above
  hrv_sdnn       = 45 + 5·(sleep_d - 7.2) + N(0, 6)      (Apple's SDNN; ms, whole)
  hrv_rmssd      = 55 + 6·(sleep_d - 7.2) + N(0, 8)      (Oura's and WHOOP's RMSSD, as the self-reported hrvScore)
  resting_heart_rate = 60 - 1.5·(sleep_d - 7.2) + N(0, 3)
  sleep_score    = 75 + 8·(sleep_d - 7.2) + N(0, 6), 0-100
  steps_d        = 8000 + AR(1)(rho 0.5, sd 2500), at least 500: THE NULL, independent of sleep and every outcome
  strain         = 4 + steps_d / 1000 + N(0, 1.5), 0-21 (WHOOP's, from steps: null as well)
So a correlation analysis of context and outcomes must find sleep -> performance (+3 per hour of sleep) and
sleep -> engagement (+2 per hour), the same day; HRV, resting heart rate and sleep score go with the outcomes only
through sleep; steps and strain (the self-reported activityStrain too: independent noise) must come out unrelated
to every outcome. The ground truth's ``context`` section states this for a test or the demo to compare with;
``demo.wearables`` writes each wearing user's Apple Health export and Oura/WHOOP documents from the table, and
``americano prepare`` imports the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from americano_pipeline.demo.protocols import REQUIRED_DAYS, Schedule, study_schedules
from americano_pipeline.source.analysis_plan import AnalysisPlan

_ALPHABET = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_MIDDLE_EVENTS = np.array(["CARD_REVIEWED", "VALIDATION_COMPLETED", "SEARCH_PERFORMED", "GRAPH_VIEWED",
                           "LECTURE_UPLOADED", "RECOMMENDATION_VIEWED", "RECOMMENDATION_CLICKED",
                           "RECOMMENDATION_DISMISSED", "RECOMMENDATION_RATED"])
_MIDDLE_PROBS = np.array([0.6, 0.1, 0.08, 0.06, 0.02, 0.06, 0.04, 0.02, 0.02])
_CONTENT = {"CARD_REVIEWED": "flashcard", "VALIDATION_COMPLETED": "validation", "LECTURE_UPLOADED": "lecture",
            "MISSION_STARTED": "mission", "MISSION_COMPLETED": "mission"}
_SCORED = ("CARD_REVIEWED", "VALIDATION_COMPLETED", "MISSION_COMPLETED", "SESSION_ENDED")
_SESSION_OVERHEAD = 4  # started, mission started, mission/validation completed, ended
_MEAN_SESSIONS = 2.6
_EFFECT_TARGETS = ("engagement_score", "mean_performance", "study_minutes")
SLEEP_MEAN = 7.2
# The planted context -> outcome relations: per hour of sleep above SLEEP_MEAN, the same day (``context_truth``).
SLEEP_EFFECTS = {"engagement_score": 2.0, "mean_performance": 3.0}
STEPS_MEAN, STEPS_SD, STEPS_RHO = 8000, 2500, 0.5
# Users (the first ones) who wear a device: the demo's context analysis needs one, and writing an export costs about a
# second per 300 days, which a benchmark-sized study of 1000 users must not pay.
WEARABLE_USERS = 3
_WEARABLE_STREAM = 0x57454152  # "WEAR": the wearables' own random stream, apart from everything drawn before it


# Bounds of the study's size (the CLI's --help states the same ones; tests/unit/test_cli.py keeps them equal): at
# least the days the demo protocols need and two minimal sessions a day; at most ten years, and sizes whose
# product stays seedable (1000 users x 365 days x 100 events is already 36.5 million events).
USERS = (1, 1000)
DAYS = (REQUIRED_DAYS, 3650)
EVENTS_PER_DAY = (8, 1000)
EARLIEST_END_DATE = date(2000, 1, 1)


def latest_end_date() -> date:
    """Yesterday (UTC): a later day's events would lie in the future, which the snapshot checks reject."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def _check_count(name: str, value, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"SeedConfig.{name} must be an integer from {low} to {high}, got {value!r}")


def _check_end_date(value) -> None:
    latest = latest_end_date()
    if type(value) is not date or not EARLIEST_END_DATE <= value <= latest:
        raise ValueError(f"SeedConfig.end_date must be a date from {EARLIEST_END_DATE} to {latest} (yesterday, UTC: "
                         f"later events would be in the future), got {value}")


@dataclass(frozen=True)
class SeedConfig:
    """The size and calendar of the synthetic study; values outside the bounds above raise ValueError naming the
    field, as they would otherwise overflow the calendar or fail the snapshot checks only after seeding."""

    users: int = 1
    days: int = 300
    events_per_day: int = 30
    seed: int = 42
    end_date: date = field(default_factory=latest_end_date)

    def __post_init__(self):
        for name, bounds in (("users", USERS), ("days", DAYS), ("events_per_day", EVENTS_PER_DAY)):
            _check_count(name, getattr(self, name), bounds)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"SeedConfig.seed must be a non-negative integer, got {self.seed!r}")
        _check_end_date(self.end_date)

    @property
    def first_day(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)


def cuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` CUID-shaped ids ('c' + 24 lowercase alphanumerics) from ``rng``; collisions are ~36^-24."""
    body = _ALPHABET[rng.integers(0, 36, size=(n, 24))]
    raw = np.concatenate([np.full((n, 1), ord("c"), dtype=np.uint8), body], axis=1)
    return raw.view("S25").ravel().astype(str)


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal sd ``sd``: the day-to-day persistence of real behaviour."""
    shocks = rng.normal(0.0, sd * np.sqrt(1 - rho**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    for t in range(1, n):
        out[t] = rho * out[t - 1] + shocks[t]
    return out


@dataclass(frozen=True)
class UserData:
    user_id: str
    schedules: list[Schedule]
    protocols: list[dict]
    phases: list[dict]
    context: pa.Table
    events: pa.Table


def _phase_of_day(schedules: list[Schedule], days: list[date]):
    """Per day: (phase label, protocol index) of the primary outcome's phase, or None outside every protocol (the
    label the app records on that day's events; for a multiple baseline, the primary tier's phase)."""
    lookup = {}
    for index, planned in enumerate(schedules):
        for phase in planned.primary_phases:
            for offset in range(phase.days):
                lookup[phase.start + timedelta(days=offset)] = (phase.label, index)
    return [lookup.get(day) for day in days]


def _timestamps(days: np.ndarray, hours: np.ndarray) -> pa.Array:
    """UTC millisecond timestamps from day offsets since the epoch and fractional hours."""
    millis = days.astype(np.int64) * 86_400_000 + np.round(hours * 3_600_000).astype(np.int64)
    return pa.array(millis, type=pa.timestamp("ms", tz="UTC"))


def _context(rng, user_id, epoch_days, sleep, energy) -> pa.Table:
    n = len(epoch_days)
    rested = sleep - SLEEP_MEAN
    mood_score = energy + rng.normal(0, 1.5, n)
    mood = np.where(mood_score < 4.5, "LOW", np.where(mood_score > 7, "HIGH", "MEDIUM"))
    location = rng.choice(["HOME", "LIBRARY", "CAFE", "CAMPUS", "OTHER"], size=n, p=[0.5, 0.2, 0.1, 0.15, 0.05])
    notes = np.where(rng.random(n) < 0.08, rng.choice(["slept badly", "exam week", "felt focused",
                                                        "long commute", "good workout"], size=n), None)
    return pa.table({
        "id": cuids(rng, n),
        "userId": np.full(n, user_id),
        "timestamp": _timestamps(epoch_days, rng.normal(7.5, 0.5, n).clip(5, 11)),
        "mood": mood,
        "energyLevel": energy.astype(np.int32),
        "location": location,
        "notes": pa.array(notes, type=pa.string()),
        "sleepHours": np.round(sleep, 2),
        "sleepQuality": np.clip(np.round(5.5 + 1.5 * rested + rng.normal(0, 1, n)), 1, 10).astype(np.int32),
        "hrvScore": np.clip(np.round(55 + 6 * rested + rng.normal(0, 8, n)), 15, 150).astype(np.int32),
        "restingHeartRate": np.clip(np.round(60 - 1.5 * rested + rng.normal(0, 3, n)), 40, 100).astype(np.int32),
        "activityStrain": np.round(np.clip(10 + rng.normal(0, 3, n), 0, 21), 1),
        "source": np.full(n, "SELF_REPORT"),
        "externalId": pa.nulls(n, pa.string()),
        "localDate": pa.nulls(n, pa.date32()),
        "steps": pa.nulls(n, pa.int32()),
    })


def _json_objects(pairs: list[tuple[str, pa.Array]]) -> pa.Array:
    """Vectorized '{"k": v, ...}' strings; a null value drops nothing but renders as JSON null."""
    parts = [pa.scalar("{")]
    for i, (key, values) in enumerate(pairs):
        text = pc.fill_null(pc.cast(values, pa.string()), "null")
        parts += [pa.scalar(("" if i == 0 else ", ") + f'"{key}": '), text]
    parts.append(pa.scalar("}"))
    return pc.binary_join_element_wise(*parts, "")


@dataclass(frozen=True)
class _Daily:
    """A user's days before any session is drawn: the calendar, the protocols and the daily latent values. ``rng`` is
    the user's generator where the sessions continue from it."""

    rng: np.random.Generator
    user_id: str
    days: list[date]
    epoch_days: np.ndarray
    schedules: list[Schedule]
    sleep: np.ndarray
    energy: np.ndarray
    engagement: np.ndarray
    performance: np.ndarray
    minutes: np.ndarray


def _daily(config: SeedConfig, user_index: int) -> _Daily:
    rng = np.random.default_rng([config.seed, user_index])
    user_id = str(cuids(rng, 1)[0])
    n_days = config.days
    days = [config.first_day + timedelta(days=i) for i in range(n_days)]
    epoch_days = np.array([(d - date(1970, 1, 1)).days for d in days])
    weekday = np.array([d.weekday() for d in days])  # Monday = 0
    weekend = (weekday >= 5).astype(float)

    schedules = study_schedules(config.first_day, rng)
    effects = {metric: np.zeros(n_days) for metric in _EFFECT_TARGETS}
    for i, day in enumerate(days):
        for planned in schedules:
            for metric, effect in planned.effects(day).items():
                effects[metric][i] += effect

    sleep = np.clip(SLEEP_MEAN + ar1(rng, n_days, 0.4, 0.9) - 0.4 * np.isin(weekday, (4, 5)), 3, 11)
    rested = sleep - SLEEP_MEAN
    energy = np.clip(np.round(5 + 1.2 * rested + rng.normal(0, 1.2, n_days)), 1, 10)
    engagement = (65 - 4 * weekend + ar1(rng, n_days, 0.3, 4) + SLEEP_EFFECTS["engagement_score"] * rested
                  + effects["engagement_score"])
    performance = (72 + SLEEP_EFFECTS["mean_performance"] * rested + ar1(rng, n_days, 0.3, 4)
                   + effects["mean_performance"])
    minutes = np.maximum(10, 45 - 6 * weekend + ar1(rng, n_days, 0.3, 6) + effects["study_minutes"])
    return _Daily(rng, user_id, days, epoch_days, schedules, sleep, energy, engagement, performance, minutes)


@dataclass(frozen=True)
class WearableTruth:
    """A wearing user's days as their devices measured them (``days``: one row per UTC day, the columns
    ``WEARABLE_COLUMNS``): what the demo's Apple Health export and Oura/WHOOP documents are written from, and what an
    import of them must give back. ``engagement`` and ``performance`` are the day's latent outcomes the sessions are
    drawn around, so the planted relations can be checked on the table itself."""

    user_id: str
    days: pd.DataFrame


WEARABLE_COLUMNS = ("date", "sleep_hours", "hrv_sdnn", "hrv_rmssd", "resting_heart_rate", "sleep_score", "steps",
                    "strain", "engagement", "performance")


def wearable_truth(config: SeedConfig, user_index: int) -> WearableTruth:
    """The device-measured days of user ``user_index`` (module doc): deterministic in (seed, user_index, end_date),
    from the wearables' own random stream, on the same ``sleep_d`` that drives the user's outcomes."""
    daily = _daily(config, user_index)
    rng = np.random.default_rng([config.seed, user_index, _WEARABLE_STREAM])
    n = config.days
    rested = daily.sleep - SLEEP_MEAN
    steps = np.maximum(500, np.round(STEPS_MEAN + ar1(rng, n, STEPS_RHO, STEPS_SD)))
    days = pd.DataFrame({
        "date": pd.to_datetime(daily.days),
        "sleep_hours": daily.sleep,
        "hrv_sdnn": np.clip(np.round(45 + 5 * rested + rng.normal(0, 6, n)), 10, 150),
        "hrv_rmssd": np.clip(np.round(55 + 6 * rested + rng.normal(0, 8, n)), 15, 150),
        "resting_heart_rate": np.clip(np.round(60 - 1.5 * rested + rng.normal(0, 3, n)), 40, 100),
        "sleep_score": np.clip(np.round(75 + 8 * rested + rng.normal(0, 6, n)), 0, 100),
        "steps": steps,
        "strain": np.round(np.clip(4 + steps / 1000 + rng.normal(0, 1.5, n), 0, 21), 1),
        "engagement": daily.engagement,
        "performance": daily.performance,
    })
    return WearableTruth(daily.user_id, days)


def simulate_user(config: SeedConfig, user_index: int) -> UserData:
    """All tables' rows for one user: deterministic in (seed, user_index, end_date)."""
    daily = _daily(config, user_index)
    rng, user_id, days, epoch_days = daily.rng, daily.user_id, daily.days, daily.epoch_days
    schedules, engagement, performance, minutes = daily.schedules, daily.engagement, daily.performance, daily.minutes
    n_days = config.days
    in_phase = _phase_of_day(schedules, days)
    context = _context(rng, user_id, epoch_days, daily.sleep, daily.energy)

    # Sessions
    n_sessions = 1 + rng.poisson(_MEAN_SESSIONS - 1, n_days)
    day_of_session = np.repeat(np.arange(n_days), n_sessions)
    n_s = len(day_of_session)
    share = rng.gamma(3.0, size=n_s)
    share /= np.bincount(day_of_session, weights=share)[day_of_session]
    duration = np.round(minutes[day_of_session] * share, 1)
    s_engagement = np.clip(engagement[day_of_session] + rng.normal(0, 4, n_s), 0, 100)
    s_performance = np.clip(performance[day_of_session] + rng.normal(0, 5, n_s), 0, 100)
    start_hour = np.clip(rng.choice([9.0, 14.0, 20.0], size=n_s) + rng.normal(0, 1.2, n_s), 6, 23.0 - duration / 60)
    p_complete = np.clip(0.75 + 0.005 * (engagement - 65), 0.3, 0.98)
    completed = rng.random(n_s) < p_complete[day_of_session]
    session_ids = cuids(rng, n_s)
    middle = np.maximum(0, rng.poisson(max(config.events_per_day / _MEAN_SESSIONS - _SESSION_OVERHEAD, 0.1), n_s))
    n_events = middle + _SESSION_OVERHEAD

    # Events
    session_of_event = np.repeat(np.arange(n_s), n_events)
    n_e = len(session_of_event)
    first_of_session = np.repeat(np.cumsum(n_events) - n_events, n_events)
    position = np.arange(n_e) - first_of_session
    last = n_events[session_of_event] - 1
    event_type = _MIDDLE_EVENTS[rng.choice(len(_MIDDLE_EVENTS), size=n_e, p=_MIDDLE_PROBS)]
    event_type[position == 0] = "SESSION_STARTED"
    event_type[position == 1] = "MISSION_STARTED"
    event_type[position == last] = "SESSION_ENDED"
    closing = position == last - 1
    event_type[closing] = np.where(completed[session_of_event[closing]], "MISSION_COMPLETED", "VALIDATION_COMPLETED")

    day_of_event = day_of_session[session_of_event]
    hours = start_hour[session_of_event] + duration[session_of_event] / 60 * position / last
    timestamp = _timestamps(epoch_days[day_of_event], hours)
    scored = np.isin(event_type, _SCORED)
    noise = rng.normal(0, 6, n_e) * (event_type != "SESSION_ENDED")
    score = np.clip(np.round(s_performance[session_of_event] + noise), 0, 100)
    ev_engagement = s_engagement[session_of_event]
    engagement_level = np.where(ev_engagement < 60, "LOW", np.where(ev_engagement > 80, "HIGH", "MEDIUM"))
    quality = np.where(score < 55, "RUSHED", np.where(score > 85, "THOROUGH", "NORMAL"))
    has_quality = np.isin(event_type, ("CARD_REVIEWED", "VALIDATION_COMPLETED", "MISSION_COMPLETED"))
    kinds, kind_of_event = np.unique(event_type, return_inverse=True)
    content = np.array([_CONTENT.get(kind) for kind in kinds], dtype=object)[kind_of_event]
    difficulty = np.where(np.isin(event_type, ("CARD_REVIEWED", "VALIDATION_COMPLETED")),
                          rng.choice(["easy", "medium", "hard"], size=n_e, p=[0.3, 0.5, 0.2]), None)
    phase_label = np.array([hit[0] if hit else None for hit in in_phase], dtype=object)[day_of_event]
    phase_seed = np.array([schedules[hit[1]].randomization_seed if hit else -1 for hit in in_phase])[day_of_event]
    is_end = event_type == "SESSION_ENDED"
    event_data = _json_objects([
        ("sessionId", pa.array(np.char.add(np.char.add('"', session_ids[session_of_event]), '"'))),
        ("durationMinutes", pa.array(np.where(is_end, duration[session_of_event], np.nan), from_pandas=True)),
        ("engagementScore", pa.array(np.where(is_end, np.round(ev_engagement, 1), np.nan), from_pandas=True)),
    ])
    ids = cuids(rng, n_e)
    utc_weekday = (np.asarray(pc.day_of_week(timestamp, count_from_zero=True, week_start=7)))
    events = pa.table({
        "id": ids,
        "userId": np.full(n_e, user_id),
        "eventType": event_type,
        "eventData": event_data,
        "timestamp": timestamp,
        "completionQuality": pa.array(np.where(has_quality, quality, None), type=pa.string()),
        "contentType": pa.array(content, type=pa.string()),
        "dayOfWeek": utc_weekday.astype(np.int32),
        "difficultyLevel": pa.array(difficulty, type=pa.string()),
        "engagementLevel": engagement_level,
        "sessionPerformanceScore": pa.array(np.where(scored, score, np.nan), type=pa.int32(), from_pandas=True),
        "timeOfDay": np.asarray(pc.hour(timestamp)).astype(np.int32),
        "experimentPhase": pa.array(phase_label, type=pa.string()),
        "randomizationSeed": pa.array(np.where(phase_seed >= 0, phase_seed, np.nan), type=pa.int32(), from_pandas=True),
        "contextMetadataId": np.asarray(context["id"])[day_of_event],
    })
    protocols, phases = _design_rows(rng, user_id, schedules)
    return UserData(user_id, schedules, protocols, phases, context, events)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _analysis_plan(design) -> str:
    """The registered plan: the design's randomization test is confirmatory (docs/DESIGNS.md)."""
    keys, extra = set(), {}
    if design.design_type == "ALTERNATING":
        keys, extra = {"maxConsecutive"}, {"max_consecutive": design.max_consecutive}
    if design.design_type == "MULTIPLE_BASELINE":
        keys, extra = {"multipleBaselineScheme"}, {"multiple_baseline_scheme": design.scheme}
    return AnalysisPlan(
        confirmatory="phase_randomization_test", alternative=design.alternative, alpha=0.05,
        description=(f"Confirmatory: the {design.design_type} design's randomization test of "
                     f"{design.primary_outcome} over its registered randomization, {design.alternative}; supportive: "
                     "single-case effect sizes, Bayesian ITS, change points, sequential monitoring."),
        keys=frozenset(keys), **extra,
    ).to_json()


def _design_rows(rng, user_id: str, schedules: list[Schedule]) -> tuple[list[dict], list[dict]]:
    protocols, phases = [], []
    for planned in schedules:
        design = planned.design
        protocol_id = str(cuids(rng, 1)[0])
        protocols.append({
            "id": protocol_id, "userId": user_id, "protocolName": design.name, "hypothesis": design.hypothesis,
            "startDate": _midnight(planned.start), "endDate": _midnight(planned.end),
            "designType": design.design_type, "primaryOutcome": design.primary_outcome,
            "sampleSizeTarget": design.total_days, "analysisPlan": _analysis_plan(design),
            "minPhaseLength": design.min_phase_length, "deviations": [],
            "screened": 1, "eligible": 1, "enrolled": 1, "completed": 1,
        })
        for phase in planned.phases:
            phases.append({
                "id": str(cuids(rng, 1)[0]), "protocolId": protocol_id, "phaseLabel": phase.label,
                "phaseType": phase.phase_type, "startDate": _midnight(phase.start), "endDate": _midnight(phase.end),
                "plannedDuration": phase.days, "randomizationSeed": planned.randomization_seed,
                "interventionParams": phase.params,
            })
    return protocols, phases


def _design_truth(design) -> dict:
    """What else a design plants: the tiers' effects, the criteria the behaviour follows, the run limit."""
    if design.design_type == "MULTIPLE_BASELINE":
        return {"scheme": design.scheme, "tiers": [{"tier": t.name, "outcome": t.outcome, "trueEffect": t.true_effect}
                                                   for t in design.tiers]}
    if design.design_type == "CHANGING_CRITERION":
        return {"criteria": list(design.criteria), "baselineLevel": design.baseline_level}
    if design.design_type == "ALTERNATING":
        return {"maxConsecutive": design.max_consecutive}
    return {}


def ground_truth(config: SeedConfig, designs: list[tuple[str, list[Schedule], list[dict]]]) -> dict:
    """What the analyses should recover (written to data/demo/ground_truth.json).

    ``designs`` holds (user id, schedules, protocol rows) per user, not the events, so memory stays bounded.
    """
    protocols = []
    for user_id, schedules, rows in designs:
        for planned, row in zip(schedules, rows):
            design = planned.design
            protocols.append({
                "protocolId": row["id"], "userId": user_id, "key": design.key, "name": design.name,
                "designType": design.design_type, "primaryOutcome": design.primary_outcome,
                "trueEffect": design.true_effect, "registeredAlternative": design.alternative,
                "minPhaseLength": design.min_phase_length,
                "randomizationSeed": planned.randomization_seed,
                "startDate": planned.start.isoformat(), "endDate": planned.end.isoformat(),
                "interventionDate": planned.intervention_date.isoformat(),
                "phaseChangeDates": [d.isoformat() for d in planned.change_dates],
                "phases": [{"label": p.label, "phaseType": p.phase_type, "condition": p.condition,
                            "startDate": p.start.isoformat(), "endDate": p.end.isoformat(), "days": p.days,
                            "interventionParams": p.params}
                           for p in planned.phases],
                **_design_truth(design),
            })
    wearing = [user_id for user_id, _, _ in designs[:WEARABLE_USERS]]
    return {"seed": config.seed, "users": config.users, "days": config.days, "eventsPerDay": config.events_per_day,
            "firstDate": config.first_day.isoformat(), "endDate": config.end_date.isoformat(), "protocols": protocols,
            "context": context_truth(wearing)}


def context_truth(wearing: list[str]) -> dict:
    """What a context-outcome analysis should find (module doc), in the warehouse's names (``fct_daily_context``
    columns, the outcome metrics): the planted same-day relations of sleep, the measurements that follow the outcomes
    only through sleep, the null, and which users wear a device (``wearable_truth``; their Apple Health exports and
    Oura/WHOOP documents are written by ``demo.wearables``)."""
    return {
        "plantedRelations": [{"covariate": "sleep_hours", "outcome": outcome, "lagDays": 0, "perHour": effect}
                             for outcome, effect in SLEEP_EFFECTS.items()],
        "throughSleep": ["hrv_score", "resting_heart_rate", "sleep_quality"],
        "nullCovariates": ["steps", "activity_strain"],
        "steps": {"process": "AR(1)", "mean": STEPS_MEAN, "sd": STEPS_SD, "rho": STEPS_RHO},
        "wearableUsers": wearing,
    }


def config_of(truth: dict) -> SeedConfig:
    """The configuration a ground truth (``ground_truth``) was seeded with."""
    return SeedConfig(users=truth["users"], days=truth["days"], events_per_day=truth["eventsPerDay"],
                      seed=truth["seed"], end_date=date.fromisoformat(truth["endDate"]))
