"""What Works Clearinghouse (WWC) design standards for single-case designs, one function per design.

Why: a randomization p-value says nothing about whether the design could demonstrate a functional relation. We
follow the single-case design standards of the WWC Procedures and Standards Handbook, Version 5.0 (2022), which
keep the pilot standards' core (Kratochwill et al. 2010): at least three attempts to demonstrate an effect at
three different points in time, and enough data points per phase (or per condition) to judge level, trend and
variability. Every verdict is "meets", "meets with reservations" or "does not meet", with a reason naming the
rule that decided it. Only the rules the data can show are checked: systematic manipulation of the intervention
and inter-assessor agreement are the protocol's business, not the series'.

- Reversal/withdrawal (``wwc_design_standard``): at least four alternating phases (ABAB, BABA, ...); every phase
  >= 5 points → "meets", >= 3 → "meets with reservations"; otherwise (and for every AB or ABA design) "does not
  meet".
- Multiple baseline (``wwc_multiple_baseline_standard``): at least 3 tiers whose interventions start at 3 or more
  different points in time (staggered), observed concurrently (every tier in baseline before the first tier's
  intervention starts); every phase of every tier >= 5 points → "meets", >= 3 → "meets with reservations".
- Alternating treatments (``wwc_alternating_treatments_standard``): no condition more than 2 sessions in a row;
  >= 5 sessions of every condition → "meets", 4 → "meets with reservations".
- Changing criterion (``wwc_changing_criterion_standard``): at least 3 criterion changes (e.g. baseline and three
  criterion phases); every phase >= 5 points → "meets", >= 3 → "meets with reservations".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from americano_pipeline.stats.design_inputs import longest_run, parse_conditions, parse_phase_plan
from americano_pipeline.stats.phases import LABELS, PhaseBlock, parse_phases
from americano_pipeline.stats.validation import date_label

MIN_PHASES = 4
POINTS_MEETS = 5
POINTS_WITH_RESERVATIONS = 3
MIN_ATTEMPTS = 3
SESSIONS_MEETS = 5
SESSIONS_WITH_RESERVATIONS = 4
MAX_CONSECUTIVE_SESSIONS = 2


def wwc_design_standard(phases) -> tuple[str, str]:
    """Return ``(verdict, reason)`` for per-observation labels "A"/"B" in time order.

    verdict is "meets", "meets with reservations" or "does not meet"; reason states the phase count and the
    shortest phase. Labels are parsed by the shared ``parse_phases`` (same errors as the other methods).
    """
    return wwc_verdict(parse_phases(phases))


def wwc_verdict(blocks: Sequence[PhaseBlock]) -> tuple[str, str]:
    """The WWC verdict for phases already parsed by ``parse_phases`` (so callers holding them parse once)."""
    shortest = min(blocks, key=lambda block: block.length)
    attempts = len(blocks) - 1
    attempts_text = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    summary = (
        f"{len(blocks)} phases ({''.join(b.label for b in blocks)}, {attempts_text} to demonstrate an effect); "
        f"shortest is {shortest.describe()}"
    )
    if len(blocks) < MIN_PHASES:
        return "does not meet", f"{summary}: at least {MIN_PHASES} alternating phases are required"
    return _points_verdict(summary, shortest.length, "phase", POINTS_MEETS, POINTS_WITH_RESERVATIONS)


def _points_verdict(summary: str, fewest: int, unit: str, meets: int, with_reservations: int) -> tuple[str, str]:
    """The data-point rule shared by every design: the smallest ``unit`` (phase, condition) decides."""
    if fewest >= meets:
        return "meets", f"{summary}: every {unit} has at least {meets} points"
    if fewest >= with_reservations:
        return "meets with reservations", (
            f"{summary}: every {unit} has at least {with_reservations} but not all have {meets} points"
        )
    return "does not meet", f"{summary}: every {unit} needs at least {with_reservations} points"


@dataclass(frozen=True)
class _Tier:
    """One multiple-baseline tier: A at positions 0 .. start - 1, B from ``start``; times are positions or dates."""

    number: int
    start: int
    length: int
    first_time: object
    start_time: object


def _ab_tier(labels, position: int) -> _Tier:
    name = f"tiers_phases[{position}]"
    parsed = parse_conditions(labels, name)
    changes = np.flatnonzero(parsed[1:] != parsed[:-1]) + 1
    if parsed[0] != "A" or changes.size != 1:
        pattern = "".join(parsed[np.concatenate([[0], changes])])
        raise ValueError(
            f"{name} runs {pattern}; every multiple-baseline tier is one baseline phase (A) followed by one "
            "treatment phase (B)"
        )
    dated = isinstance(labels, pd.Series) and isinstance(labels.index, pd.DatetimeIndex)
    times = labels.index if dated else range(parsed.size)
    start = int(changes[0])
    return _Tier(number=position + 1, start=start, length=parsed.size, first_time=times[0], start_time=times[start])


def _time_text(time) -> str:
    return date_label(time) if isinstance(time, pd.Timestamp) else f"position {time}"


def wwc_multiple_baseline_standard(tiers_phases) -> tuple[str, str]:
    """Return ``(verdict, reason)`` for a multiple-baseline design given each tier's "A"/"B" labels in time order.

    Each tier is one baseline (A) then one treatment (B) phase. Plain sequences are read on one shared timeline
    (position t is the same session in every tier), so they are concurrent by construction; date-indexed
    ``pd.Series`` are placed by their dates, and a tier whose data collection begins only after another tier's
    intervention started is not concurrent (its baseline cannot show what that intervention did not change).
    """
    tiers = [_ab_tier(labels, position) for position, labels in enumerate(tiers_phases)]
    if not tiers:
        raise ValueError("tiers_phases is empty; give one 'A'/'B' label sequence per tier")
    if len({isinstance(t.start_time, pd.Timestamp) for t in tiers}) > 1:
        raise ValueError("tiers_phases mixes date-indexed Series and plain sequences; give every tier dates or none")
    phases = [(t.start, t, "A") for t in tiers] + [(t.length - t.start, t, "B") for t in tiers]
    fewest, shortest, label = min(phases, key=lambda phase: phase[0])
    starts = sorted({t.start_time for t in tiers})
    summary = (
        f"{len(tiers)} tiers, interventions starting at {', '.join(_time_text(t.start_time) for t in tiers)}; "
        f"shortest phase is tier {shortest.number}'s {label} phase ({fewest} points)"
    )
    if len(tiers) < MIN_ATTEMPTS:
        return "does not meet", f"{summary}: at least {MIN_ATTEMPTS} tiers are required"
    if len(starts) < MIN_ATTEMPTS:
        return "does not meet", (
            f"{summary}: the interventions must start at {MIN_ATTEMPTS} or more different points in time (staggered)"
        )
    late = [t for t in tiers if t.first_time >= starts[0]]
    if late:
        return "does not meet", (
            f"{summary}: tier {late[0].number} is first observed at {_time_text(late[0].first_time)}, not before the "
            f"first intervention at {_time_text(starts[0])}; every tier must be in baseline concurrently"
        )
    return _points_verdict(summary, fewest, "phase", POINTS_MEETS, POINTS_WITH_RESERVATIONS)


def wwc_alternating_treatments_standard(conditions) -> tuple[str, str]:
    """Return ``(verdict, reason)`` for the "A"/"B" condition of every session of an alternating-treatments design.

    The run rule comes first: more than two sessions of one condition in a row is a short phase, not an
    alternation, whatever the counts.
    """
    labels = parse_conditions(conditions)
    counts = [int((labels == label).sum()) for label in LABELS]
    run = longest_run(labels)
    summary = f"{counts[0]} A and {counts[1]} B sessions; longest run is {run.describe()}"
    if run.length > MAX_CONSECUTIVE_SESSIONS:
        return "does not meet", (
            f"{summary}: no condition may run more than {MAX_CONSECUTIVE_SESSIONS} sessions in a row"
        )
    return _points_verdict(summary, min(counts), "condition", SESSIONS_MEETS, SESSIONS_WITH_RESERVATIONS)


def wwc_changing_criterion_standard(phase_lengths, criteria) -> tuple[str, str]:
    """Return ``(verdict, reason)`` for a changing-criterion design: phase lengths and criteria (None = baseline).

    Adjacent phases always differ in criterion (``design_inputs.parse_phase_plan`` refuses repeats), so k phases
    make k − 1 criterion changes, the baseline-to-first-criterion change included.
    """
    lengths, levels = parse_phase_plan(phase_lengths, criteria)
    changes = lengths.size - 1
    shortest = int(np.argmin(lengths))
    plan = ", ".join("baseline" if level is None else f"{level:g}" for level in levels)
    summary = (
        f"{lengths.size} phases (criteria {plan}; {changes} criterion changes); shortest is phase {shortest + 1} "
        f"({lengths[shortest]} points)"
    )
    if changes < MIN_ATTEMPTS:
        return "does not meet", f"{summary}: at least {MIN_ATTEMPTS} criterion changes are required"
    return _points_verdict(summary, int(lengths[shortest]), "phase", POINTS_MEETS, POINTS_WITH_RESERVATIONS)
