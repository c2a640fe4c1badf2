"""The demo's pre-registered protocols, one or more per design, and their randomized phase schedules (the ground
truth to recover).

Why separate from the event simulator: the schedule is the design (what a researcher registers before any
data exists); the simulator only makes behaviour respond to it. Each schedule is drawn uniformly from exactly
the set its design's randomization test later enumerates (phase lengths of at least ``min_phase_length`` days;
run-limited A/B orders; staggered tier starts within their windows), so the tests that recover these effects
are valid by construction. How each design is written into the tables: docs/DESIGNS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

import numpy as np


@dataclass(frozen=True)
class Tier:
    """One tier of a multiple-baseline design: a behaviour measured by its own outcome metric."""

    name: str
    outcome: str
    true_effect: float  # added to the tier's outcome on its intervention days


@dataclass(frozen=True)
class ProtocolDesign:
    """A registered protocol of the demo. Which fields matter depends on ``design_type`` (docs/DESIGNS.md):
    reversal designs use ``phase_types``; ALTERNATING ``max_consecutive``; CHANGING_CRITERION ``criteria`` (the
    intervention phases' levels, after one baseline) and ``baseline_level`` (the outcome's usual level, which the
    behaviour leaves for each criterion); MULTIPLE_BASELINE ``tiers`` and ``start_windows`` (the staggered
    slots' admissible first intervention days, as 0-based day offsets from the protocol's start)."""

    key: str
    name: str
    hypothesis: str
    design_type: str  # ExperimentDesignType
    primary_outcome: str  # a metric of the warehouse's catalogue
    total_days: int
    min_phase_length: int
    true_effect: float  # on the primary outcome's B days; the mean over tiers for a multiple baseline
    alternative: str  # the registered direction of the hypothesis (source.analysis_plan.ALTERNATIVES)
    params_a: dict
    params_b: dict
    phase_types: tuple[str, ...] = ()  # PhaseType per phase, in order
    max_consecutive: int | None = None
    criteria: tuple[float, ...] = ()
    baseline_level: float = 0.0
    tiers: tuple[Tier, ...] = ()
    start_windows: tuple[tuple[int, int], ...] = ()
    scheme: str | None = None


DESIGNS = (
    ProtocolDesign(
        key="abab_reward",
        name="Reward probability 15% vs 20%",
        hypothesis="Raising the variable-reward probability from 15% to 20% raises daily engagement_score.",
        design_type="ABAB",
        primary_outcome="engagement_score",
        phase_types=("BASELINE", "INTERVENTION_A", "BASELINE", "INTERVENTION_A"),
        total_days=40,
        min_phase_length=5,
        true_effect=10.0,
        alternative="greater",
        params_a={"reward_probability": 0.15},
        params_b={"reward_probability": 0.20},
    ),
    ProtocolDesign(
        key="ab_reminder",
        name="Evening study reminder (AB)",
        hypothesis="A 19:00 study reminder raises daily study_minutes (an AB design: one randomized start; too few "
        "admissible starts to reach alpha 0.05).",
        design_type="ABAB",
        primary_outcome="study_minutes",
        phase_types=("BASELINE", "INTERVENTION_A"),
        total_days=44,
        min_phase_length=14,
        true_effect=15.0,
        alternative="greater",
        params_a={"reminder": None},
        params_b={"reminder": "19:00"},
    ),
    ProtocolDesign(
        key="mb_goal_setting",
        name="Weekly goal setting, behaviour by behaviour",
        hypothesis="Setting a weekly goal for a behaviour raises it: study minutes, engagement and performance, "
        "the goal introduced to one behaviour at a time at randomized staggered starts.",
        design_type="MULTIPLE_BASELINE",
        primary_outcome="study_minutes",
        total_days=50,
        min_phase_length=10,
        true_effect=10.0,
        alternative="greater",
        params_a={"weekly_goal": False},
        params_b={"weekly_goal": True},
        tiers=(Tier("study time", "study_minutes", 12.0), Tier("engagement", "engagement_score", 10.0),
               Tier("performance", "mean_performance", 8.0)),
        start_windows=((10, 14), (20, 24), (30, 34)),
        scheme="koehler_levin",
    ),
    ProtocolDesign(
        key="alt_retrieval",
        name="Practice questions vs rereading",
        hypothesis="Days of retrieval practice (practice questions) raise mean_performance over days of rereading, "
        "the two alternated at random, at most two days in a row.",
        design_type="ALTERNATING",
        primary_outcome="mean_performance",
        total_days=28,
        min_phase_length=1,
        true_effect=10.0,
        alternative="greater",
        params_a={"method": "rereading"},
        params_b={"method": "practice questions"},
        max_consecutive=2,
    ),
    ProtocolDesign(
        key="cc_minutes_goal",
        name="Daily study-minutes goal raised in steps",
        hypothesis="Daily study_minutes follow a daily goal raised from 60 to 75 to 90 minutes.",
        design_type="CHANGING_CRITERION",
        primary_outcome="study_minutes",
        total_days=44,
        min_phase_length=8,
        true_effect=30.0,
        alternative="greater",
        params_a={"daily_goal_minutes": None},
        params_b={},
        criteria=(60.0, 75.0, 90.0),
        baseline_level=45.0,
    ),
    ProtocolDesign(
        key="abab_music_null",
        name="Background music while reviewing",
        hypothesis="Background music changes mean_performance (expected: no effect).",
        design_type="ABAB",
        primary_outcome="mean_performance",
        phase_types=("BASELINE", "INTERVENTION_A", "BASELINE", "INTERVENTION_A"),
        total_days=32,
        min_phase_length=5,
        true_effect=0.0,
        alternative="two-sided",
        params_a={"background_music": False},
        params_b={"background_music": True},
    ),
)
GAP_DAYS = 5  # free days between consecutive protocols, so each starts from its own baseline
LEAD_DAYS = 7  # observation days before the first and after the last protocol
REQUIRED_DAYS = LEAD_DAYS * 2 + sum(d.total_days for d in DESIGNS) + GAP_DAYS * (len(DESIGNS) - 1)


def draw_phase_lengths(total_days: int, n_phases: int, min_length: int, rng: np.random.Generator) -> list[int]:
    """One admissible schedule, uniformly among all C(T - kL + k - 1, k - 1) of them (stars and bars)."""
    slack = total_days - n_phases * min_length
    if slack < 0:
        raise ValueError(f"{n_phases} phases of at least {min_length} days do not fit in {total_days} days")
    bars = np.sort(rng.choice(slack + n_phases - 1, size=n_phases - 1, replace=False))
    extra = np.diff(np.concatenate([[-1], bars, [slack + n_phases - 1]])) - 1
    return [int(min_length + e) for e in extra]


@dataclass(frozen=True)
class PlannedPhase:
    label: str
    phase_type: str
    condition: str  # "A" control/baseline or "B" treatment
    start: date
    end: date  # inclusive: a phase covers the calendar days start..end
    params: dict  # the row's interventionParams (docs/DESIGNS.md)
    tier: Tier | None = None  # the multiple-baseline tier the phase belongs to

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Schedule:
    design: ProtocolDesign
    randomization_seed: int
    phases: tuple[PlannedPhase, ...]

    @property
    def start(self) -> date:
        return self.phases[0].start

    @property
    def end(self) -> date:
        return max(p.end for p in self.phases)

    @property
    def primary_phases(self) -> tuple[PlannedPhase, ...]:
        """The phases of the primary outcome's series: all of them, or the primary tier's."""
        return tuple(p for p in self.phases if p.tier is None or p.tier.outcome == self.design.primary_outcome)

    @property
    def intervention_date(self) -> date:
        return next(p.start for p in self.primary_phases if p.condition == "B")

    @property
    def change_dates(self) -> list[date]:
        return [p.start for p in self.primary_phases[1:]]

    def effects(self, day: date) -> dict[str, float]:
        """The planted effect on each outcome metric that day (empty outside the protocol's B days)."""
        design = self.design
        effects: dict[str, float] = {}
        for phase in self.phases:
            if phase.condition != "B" or not phase.covers(day):
                continue
            if phase.tier is not None:
                effects[phase.tier.outcome] = phase.tier.true_effect
            elif "criterion" in phase.params:
                effects[design.primary_outcome] = phase.params["criterion"] - design.baseline_level
            else:
                effects[design.primary_outcome] = design.true_effect
        return effects


def _labelled(design: ProtocolDesign, conditions: list[str], lengths: list[int], start: date,
              types: list[str] | None = None) -> tuple[PlannedPhase, ...]:
    """Contiguous phases from ``start``: labels baseline_k / intervention_k, the design's params per condition."""
    phases, day, counts = [], start, {"A": 0, "B": 0}
    for j, (condition, length) in enumerate(zip(conditions, lengths)):
        counts[condition] += 1
        label = f"{'baseline' if condition == 'A' else 'intervention'}_{counts[condition]}"
        phase_type = types[j] if types else ("BASELINE" if condition == "A" else "INTERVENTION_A")
        params = design.params_a if condition == "A" else design.params_b
        phases.append(PlannedPhase(label, phase_type, condition, day, day + timedelta(days=length - 1), params))
        day += timedelta(days=length)
    return tuple(phases)


def _reversal(design: ProtocolDesign, start: date, rng: np.random.Generator) -> tuple[PlannedPhase, ...]:
    lengths = draw_phase_lengths(design.total_days, len(design.phase_types), design.min_phase_length, rng)
    conditions = ["A" if t == "BASELINE" else "B" for t in design.phase_types]
    return _labelled(design, conditions, lengths, start, list(design.phase_types))


def _alternating(design: ProtocolDesign, start: date, rng: np.random.Generator) -> tuple[PlannedPhase, ...]:
    """Days drawn uniformly from the orders the alternating-treatments test enumerates (equal numbers of A and B
    days, no run longer than ``max_consecutive``); one phase per run of days."""
    from americano_pipeline.stats.randomization_designs.alternating import alternating_reference_set

    half = design.total_days // 2
    order = alternating_reference_set(design.total_days - half, half, design.max_consecutive).sample(1, rng)[0]
    labels = ["B" if is_b else "A" for is_b in order]
    runs = [(label, len(list(group))) for label, group in groupby(labels)]
    return _labelled(design, [label for label, _ in runs], [length for _, length in runs], start)


def _changing_criterion(design: ProtocolDesign, start: date, rng: np.random.Generator) -> tuple[PlannedPhase, ...]:
    """A baseline and one phase per criterion, lengths drawn uniformly from the splits the test enumerates."""
    lengths = draw_phase_lengths(design.total_days, 1 + len(design.criteria), design.min_phase_length, rng)
    phases, day = [], start
    for j, length in enumerate(lengths):
        end = day + timedelta(days=length - 1)
        if j == 0:
            phases.append(PlannedPhase("baseline_1", "BASELINE", "A", day, end, design.params_a))
        else:
            criterion = design.criteria[j - 1]
            phases.append(PlannedPhase(f"criterion_{j}", "INTERVENTION_A", "B", day, end,
                                       {**design.params_b, "criterion": criterion}))
        day = end + timedelta(days=1)
    return tuple(phases)


def _multiple_baseline(design: ProtocolDesign, start: date, rng: np.random.Generator) -> tuple[PlannedPhase, ...]:
    """Koehler-Levin: the tiers drawn in random order over the staggered slots, each slot's start drawn uniformly
    from its window; every tier is observed over all the protocol's days."""
    order = rng.permutation(len(design.tiers))
    last = start + timedelta(days=design.total_days - 1)
    phases = []
    for slot, tier_index in enumerate(order):
        tier = design.tiers[tier_index]
        earliest, latest = design.start_windows[slot]
        first_b = start + timedelta(days=int(rng.integers(earliest, latest + 1)))
        window = [(start + timedelta(days=earliest)).isoformat(), (start + timedelta(days=latest)).isoformat()]
        base = {"tier": tier.name, "outcome": tier.outcome}
        phases.append(PlannedPhase(f"{tier.name} baseline", "BASELINE", "A", start, first_b - timedelta(days=1),
                                   {**design.params_a, **base}, tier))
        phases.append(PlannedPhase(f"{tier.name} intervention", "INTERVENTION_A", "B", first_b, last,
                                   {**design.params_b, **base, "startWindow": window}, tier))
    return tuple(phases)


_BUILDERS = {"ABAB": _reversal, "ALTERNATING": _alternating, "CHANGING_CRITERION": _changing_criterion,
             "MULTIPLE_BASELINE": _multiple_baseline}


def schedule(design: ProtocolDesign, start: date, randomization_seed: int) -> Schedule:
    """The protocol's phases from ``start``, drawn by its design's randomization with its own recorded
    ``randomization_seed``."""
    phases = _BUILDERS[design.design_type](design, start, np.random.default_rng(randomization_seed))
    return Schedule(design, randomization_seed, phases)


def draw_phases(design: ProtocolDesign, start: date, rng: np.random.Generator) -> tuple[PlannedPhase, ...]:
    """The design's phases from ``start`` drawn with ``rng`` (``schedule`` draws with its own seed's generator):
    what registration (``commands.protocol``) uses to draw several parts of one schedule from one seed."""
    return _BUILDERS[design.design_type](design, start, rng)


def study_schedules(first_day: date, rng: np.random.Generator) -> list[Schedule]:
    """The demo protocols of one user, one after another from ``first_day + LEAD_DAYS``."""
    schedules, day = [], first_day + timedelta(days=LEAD_DAYS)
    for design in DESIGNS:
        planned = schedule(design, day, int(rng.integers(1, 2**31 - 1)))
        schedules.append(planned)
        day = planned.end + timedelta(days=GAP_DAYS + 1)
    return schedules
