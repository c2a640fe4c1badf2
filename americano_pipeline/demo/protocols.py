"""The demo's pre-registered protocols and their randomized phase schedules (the ground truth to recover).

Why separate from the event simulator: the schedule is the design (what a researcher registers before any
data exists); the simulator only makes behaviour respond to it. Phase lengths are drawn uniformly from the
admissible schedules (every phase at least ``min_phase_length`` days), exactly the set a single-case
randomization test later enumerates, so the tests that recover these effects are valid by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np


@dataclass(frozen=True)
class ProtocolDesign:
    key: str
    name: str
    hypothesis: str
    design_type: str  # ExperimentDesignType
    primary_outcome: str  # a metric of the warehouse's catalogue
    phase_types: tuple[str, ...]  # PhaseType per phase, in order
    total_days: int
    min_phase_length: int
    true_effect: float  # added to the primary outcome's daily mean in treatment (B) phases
    alternative: str  # the registered direction of the hypothesis (source.analysis_plan.ALTERNATIVES)
    params_a: dict
    params_b: dict


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
        name="Evening study reminder",
        hypothesis="A 19:00 study reminder raises daily study_minutes (one tier of a multiple-baseline design; "
        "the intervention start was randomized).",
        design_type="MULTIPLE_BASELINE",
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

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


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
        return self.phases[-1].end

    @property
    def intervention_date(self) -> date:
        return next(p.start for p in self.phases if p.condition == "B")

    @property
    def change_dates(self) -> list[date]:
        return [p.start for p in self.phases[1:]]


def schedule(design: ProtocolDesign, start: date, randomization_seed: int) -> Schedule:
    """The protocol's phases from ``start``, lengths drawn with its own recorded ``randomization_seed``."""
    lengths = draw_phase_lengths(design.total_days, len(design.phase_types), design.min_phase_length,
                                 np.random.default_rng(randomization_seed))
    phases, day, counts = [], start, {"A": 0, "B": 0}
    for phase_type, length in zip(design.phase_types, lengths):
        condition = "A" if phase_type == "BASELINE" else "B"
        counts[condition] += 1
        label = f"{'baseline' if condition == 'A' else 'intervention'}_{counts[condition]}"
        phases.append(PlannedPhase(label, phase_type, condition, day, day + timedelta(days=length - 1)))
        day += timedelta(days=length)
    return Schedule(design, randomization_seed, tuple(phases))


def study_schedules(first_day: date, rng: np.random.Generator) -> list[Schedule]:
    """The three demo protocols of one user, one after another from ``first_day + LEAD_DAYS``."""
    schedules, day = [], first_day + timedelta(days=LEAD_DAYS)
    for design in DESIGNS:
        planned = schedule(design, day, int(rng.integers(1, 2**31 - 1)))
        schedules.append(planned)
        day = planned.end + timedelta(days=GAP_DAYS + 1)
    return schedules
