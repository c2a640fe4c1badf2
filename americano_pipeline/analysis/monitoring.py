"""Group-sequential monitoring of a phase design at its own decision points: where the looks are, the statistic
at each, the information each has accrued, and whether the result is a stopping decision or a check after the fact.

Why (issue #12, item 3): the former monitoring took a Welch z of B - A at n_k = k/K of the sampleSizeTarget and
tested it against the bound for t = n_k / maxN. Under AR(1) noise it crossed a boundary in 8%, 22% and 38% of
null ABAB protocols at phi = 0, 0.3, 0.6 (nominal 5%): the Welch z treats days as independent, n/maxN is not the
information a look has, and its early looks held no B day (``bench/calibration_sequential.py``).

Conventions:

- Looks: by default the end of every A/B phase from the first one by which both conditions were observed, the
  design's decision points (an ABAB protocol: after phases 2, 3 and 4). A phase's end is known once a later phase
  has started, or once the series is complete. A registered plan may set the looks instead (``looks``): a whole
  number d is the end of the protocol's first d days, a date the end of that day; such a look is reached once the
  days include it. When the series is complete its last A/B observation is the final look (a planned look at or
  after it becomes that look; a plan that ends earlier gets it added).
- Statistic: at each look, the single-case randomization test (``stats.randomization.phase_randomization_test``,
  the pipeline's confirmatory test) of the B - A mean difference on the A/B observations up to the look, over the
  placements of the look's phases with the protocol's minimum phase length (exact up to ``N_PERMUTATIONS``
  placements, else as many Monte Carlo draws with ``SEED``). Its p-value is valid under the null whatever the
  serial dependence, because the phase lengths were drawn uniformly among the admissible schedules: given where
  a phase-end look falls, the earlier phase changes are uniform over the admissible placements of the days before
  it. A model-based z is not valid at these lengths: on the bench's null protocols (1,000 per cell) a Newey-West
  z on the condition indicator crossed in 18-25% (ABAB) and 11-24% (AB) at phi 0-0.6, a z with a bias-corrected
  AR(1) variance in 6-14% and 5-9%. The price is the design's own resolution: a look with N placements cannot
  reach p < 1/N, so at the demo's lengths the first look of an ABAB (at most 21 placements) and the one look of
  the AB 44-day design (17) never cross, as that AB design's confirmatory test never rejects at 0.05. At a
  registered look inside a phase, the partial phase is treated as ending there, an approximation. The p-value is
  shown on the z scale, z = sign(B - A) Phi^-1(1 - p/2) (two-sided) or Phi^-1(1 - p) (one-sided, B > A; floored
  at minus the largest attainable z), so |z| (z) reaches a boundary's criticalValue exactly when p <= its
  nominalP. A look where the test cannot run (one condition, a phase shorter than the minimum) or that adds no
  observation is skipped, with the reason.
- Information: I_k = 1 / Var(B - A mean difference at look k) under an AR(1) working model of the days,
  Var = sigma^2 c'R c (c the contrast weights, R_ij = phi^|days apart|), phi the lag-1 autocorrelation of the
  days around their condition means up to the look (negative estimates as 0, at most ``MAX_PHI``). Its fraction
  is t_k = I_k / I_max, I_max the information of the protocol as planned: the days up to the look followed by the
  registered phases still to come (``phase_sequence``; after a phase-end look the next phase, after a registered
  look the look's own phase again) sharing equally the A/B days left of the sampleSizeTarget, at the same phi
  (sigma cancels). Everything at look k uses only the days up to it, so a retrospective run shows what the live
  monitoring showed at each look. The working model only spreads alpha over the looks; the crossing decision
  rests on the randomization p-value.
- Spending: the final look (the last of a complete series, or one after which the plan has no A/B day left) has
  t = 1 and spends the rest of alpha, as does a look whose fraction reaches 1 early; later looks are beyond the
  plan and skipped. So is a look whose fraction does not exceed the previous look's (no information added).
  Until the final look is reached, the boundaries end with the planned final analysis at t = 1 and n =
  sampleSizeTarget, marked ``projected``.
- Mode: "retrospective" when the series is complete (the protocol's end date is reached, or its A/B days reach
  the sampleSizeTarget): a check of the monitoring plan after the fact, not a stopping decision. Otherwise
  "monitoring": a crossing at the current look is the plan's signal to stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.stats import norm

from americano_pipeline.analysis.protocol import ObservedPhase, ProtocolData

STATISTIC = "randomization test of the B - A mean difference at each look (z from its p-value)"
N_PERMUTATIONS = 10_000  # the randomization asset's default: exact up to this many placements
SEED = 0
MAX_PHI = 0.9  # a few weeks of days cannot tell a larger phi from drift; the cap keeps the model stationary
RETROSPECTIVE, MONITORING = "retrospective", "monitoring"


@dataclass(frozen=True)
class Look:
    """A decision point: the last day it includes, and what it is (``"end of baseline_2"``)."""

    day: pd.Timestamp
    label: str
    phase_end: bool  # at the end of a phase the design fixed, so the next phase is the first still to come


@dataclass(frozen=True)
class Monitoring:
    """The boundaries at the evaluated looks (plus the projected final one) and where the days stand."""

    boundaries: list[dict]
    mode: str
    position: dict


def series_complete(data: ProtocolData) -> bool:
    """True when the protocol's end date is reached or its A/B days reach the sampleSizeTarget (module doc)."""
    protocol, days = data.protocol, data.days
    ended = protocol.end_date is not None and days.index.max() >= pd.Timestamp(protocol.end_date)
    return ended or int(days["condition"].isin(["A", "B"]).sum()) >= protocol.sample_size_target


def phase_end_looks(phases: tuple[ObservedPhase, ...], complete: bool) -> tuple[list[Look], str | None]:
    """The ended A/B phases from the first with both conditions observed, and the next such end (a label) if any."""
    looks, seen = [], set()
    for position, phase in enumerate(phases):
        if phase.condition is None:
            continue
        seen.add(phase.condition)
        if len(seen) == 2:
            look = Look(phase.end, f"end of {phase.label}", phase_end=True)
            if position + 1 < len(phases) or complete:
                looks.append(look)
            else:
                return looks, look.label
    return looks, None


def registered_looks(looks, start, last_day: pd.Timestamp) -> tuple[list[Look], str | None]:
    """The registered looks the days have reached (day counts from ``start`` or dates), and the next one's label."""
    days = sorted({pd.Timestamp(start) + pd.Timedelta(days=int(look) - 1)
                   if isinstance(look, int | np.integer) and not isinstance(look, bool) else pd.Timestamp(look)
                   for look in looks})
    planned = [Look(day, f"registered look {day.date().isoformat()}", phase_end=False) for day in days]
    reached = [look for look in planned if look.day <= last_day]
    upcoming = planned[len(reached):]
    return reached, upcoming[0].label if upcoming else None


def working_phi(values: np.ndarray, is_b: np.ndarray, days: np.ndarray) -> float:
    """Lag-1 autocorrelation of the values around their condition means over consecutive days, in [0, MAX_PHI]."""
    residuals = values - np.where(is_b, values[is_b].mean(), values[~is_b].mean())
    total = float(residuals @ residuals)
    if total == 0:
        return 0.0
    next_day = np.diff(days) == 1
    return float(np.clip(residuals[:-1][next_day] @ residuals[1:][next_day] / total, 0.0, MAX_PHI))


def information(is_b: np.ndarray, days: np.ndarray, phi: float) -> float:
    """1 / Var(mean_B - mean_A) in units of the day variance when corr(day s, day t) = phi^|s - t|.

    c'R c = sum c_t^2 + 2 sum_t c_t a_t with a_t = sum_{s<t} c_s phi^(t-s) = phi (a_{t-1} + c_{t-1}) on the
    calendar (days without an observation have c = 0): one linear filter, O(days), whatever the target's size.
    """
    weights = np.zeros(int(days[-1] - days[0]) + 1)
    weights[days - days[0]] = np.where(is_b, 1.0 / is_b.sum(), -1.0 / (~is_b).sum())
    carried = lfilter([0.0, phi], [1.0, -phi], weights)
    return 1.0 / float(weights @ weights + 2.0 * weights @ carried)


def planned_days(is_b: np.ndarray, days: np.ndarray, conditions: str, days_left: int) -> tuple[np.ndarray, ...]:
    """The look's days followed by ``conditions`` (A/B phases to come) sharing ``days_left`` contiguous days."""
    if not conditions or days_left <= 0:
        return is_b, days
    share, extra = divmod(days_left, len(conditions))
    lengths = [share + (k < extra) for k in range(len(conditions))]
    future = np.repeat([c == "B" for c in conditions], lengths)
    return np.concatenate([is_b, future]), np.concatenate([days, days[-1] + 1 + np.arange(days_left)])


def sides_of(alternative: str) -> int:
    """2 for a two-sided registration; 1 for "greater" or "less", whose z is read in the registered direction."""
    return 2 if alternative == "two-sided" else 1


def _z(p: float, estimate: float, sides: int, smallest_p: float) -> float:
    """The p-value on the z scale (module doc); one-sided, positive z is evidence in the registered direction and
    p = 1 floors at minus the largest attainable z."""
    if sides == 2:
        return float(np.copysign(norm.isf(p / 2.0), estimate))
    return float(max(norm.isf(p), -norm.isf(smallest_p)))


def _to_come(data: ProtocolData, phases: tuple[ObservedPhase, ...], look: Look) -> str:
    """The registered A/B phases still to come after ``look`` (module doc), as a string of conditions."""
    current = max(phase.number for phase in phases if phase.start <= look.day)
    first = current if look.phase_end else current - 1
    return "".join(c for c in data.protocol.phase_sequence[first:] if c in "AB")


def decision_points(data: ProtocolData, phases, last_observation, complete: bool,
                    looks) -> tuple[list[Look], str | None]:
    """The reached looks (the last one final when the series is complete) and the next look's label (module doc)."""
    reached, upcoming = (phase_end_looks(phases, complete) if looks is None
                         else registered_looks(looks, data.protocol.start_date, data.days.index.max()))
    if not complete or last_observation is None:
        return reached, upcoming
    at_end = next((look for look in reached if look.day >= last_observation), None)
    final = Look(last_observation, "end of the series" if at_end is None else at_end.label, phase_end=True)
    return [look for look in reached if look.day < last_observation] + [final], None


class _Skipped(Exception):
    """A reached look that is no analysis; the message says why."""


def _evaluate(data: ProtocolData, phases, values: pd.Series, labels: np.ndarray, look: Look, *, final: bool,
              previous: dict | None, alternative: str) -> dict:
    """The randomization test and the information fraction at ``look``, from the days up to it only."""
    from americano_pipeline.stats.randomization import phase_randomization_test

    protocol = data.protocol
    if previous is not None and previous["fraction"] == 1.0:
        raise _Skipped(f"beyond the plan: look {previous['number']} already had the planned information")
    n = int((values.index <= look.day).sum())
    if n == (0 if previous is None else previous["n"]):
        raise _Skipped("no A/B observation since the previous look")
    numbers, is_b = values.to_numpy(dtype=float)[:n], labels[:n] == "B"
    try:
        test = phase_randomization_test(numbers, labels[:n].tolist(), min_phase_length=protocol.min_phase_length,
                                        alternative=alternative,
                                        n_permutations=N_PERMUTATIONS, seed=SEED)
    except ValueError as exc:
        raise _Skipped(f"the randomization test cannot run on the days up to it: {exc}") from None
    days = (values.index[:n] - pd.Timestamp(protocol.start_date)).days.to_numpy()
    phi = working_phi(numbers, is_b, days)
    in_design = data.days["condition"].isin(["A", "B"])
    days_left = protocol.sample_size_target - int(in_design[in_design.index <= look.day].sum())
    planned = information(*planned_days(is_b, days, _to_come(data, phases, look), days_left), phi)
    fraction = 1.0 if final else min(information(is_b, days, phi) / planned, 1.0)
    if previous is not None and fraction <= previous["fraction"]:
        raise _Skipped(f"adds no information (t = {fraction:.3g}, previous look {previous['fraction']:.3g})")
    return {"number": 1 if previous is None else previous["number"] + 1, "look": look, "n": n, "fraction": fraction,
            "phi": phi, "test": test}


def monitor(data: ProtocolData, values: pd.Series, labels, *, alpha: float, spending_function: str,
            alternative: str, looks=None) -> Monitoring:
    """The monitoring of ``values``/``labels`` (the protocol's A/B observations by date) under the module's rules,
    testing ``alternative`` (the registered direction): two-sided bounds on |z|, or one upper bound on z read in
    the registered direction (``sides``)."""
    from americano_pipeline.stats.sequential import sequential_boundaries

    sides = sides_of(alternative)
    target, phases, labels = data.protocol.sample_size_target, data.phases, np.asarray(labels)
    complete = series_complete(data)
    reached, upcoming = decision_points(data, phases, values.index[-1] if len(values) else None, complete, looks)
    evaluated, skipped = [], []
    for look in reached:
        try:
            evaluated.append(_evaluate(data, phases, values, labels, look, final=complete and look is reached[-1],
                                       previous=evaluated[-1] if evaluated else None, alternative=alternative))
        except _Skipped as skip:
            skipped.append({"day": look.day.date().isoformat(), "label": look.label, "reason": str(skip)})
    fractions, sizes = [row["fraction"] for row in evaluated], [row["n"] for row in evaluated]
    projected = not fractions or fractions[-1] < 1.0
    if projected:
        fractions, sizes = [*fractions, 1.0], [*sizes, target]
    plan = sequential_boundaries(alpha=alpha, spending_function=spending_function, max_n=target,
                                 n_interim_analyses=len(fractions), sides=sides, information_fractions=fractions,
                                 sample_sizes=sizes)
    boundaries = [{**bound.to_dict(), "informationFraction": bound.information_fraction,
                   "projected": projected and number == len(fractions)}
                  for number, bound in enumerate(plan.boundaries, start=1)]
    rows = [_row(row, bound, sides) for row, bound in zip(evaluated, plan.boundaries)]
    return Monitoring(boundaries=boundaries, mode=RETROSPECTIVE if complete else MONITORING,
                      position=_position(rows, skipped, labels, upcoming))


def _row(row: dict, bound, sides: int) -> dict:
    """One evaluated look as published: where it is, its information, its test and its boundary."""
    test = row["test"]
    return {"look": row["number"], "day": row["look"].day.date().isoformat(), "label": row["look"].label,
            "n": row["n"], "informationFraction": row["fraction"], "phi": row["phi"],
            "estimate": test.observed_effect, "pValue": test.p_value, "nAssignments": test.n_assignments,
            "z": _z(test.p_value, test.observed_effect, sides, 1.0 / len(test.permutation_distribution)),
            "criticalValue": bound.critical_value, "nominalP": bound.nominal_p,
            "crossed": test.p_value <= bound.nominal_p}


def _position(rows: list[dict], skipped: list[dict], labels: np.ndarray, upcoming: str | None) -> dict:
    current = rows[-1] if rows else None
    crossing = next((row for row in rows if row["crossed"]), None)
    return {
        "statistic": STATISTIC,
        "nObserved": int(labels.size),
        "nA": int((labels == "A").sum()),
        "nB": int((labels == "B").sum()),
        "z": None if current is None else current["z"],
        "nAtCurrentLook": None if current is None else current["n"],
        "currentLook": None if current is None else current["look"],
        "currentCriticalValue": None if current is None else current["criticalValue"],
        "currentInformationFraction": None if current is None else current["informationFraction"],
        "crossedNow": current is not None and current["crossed"],
        "firstCrossingLook": None if crossing is None else crossing["look"],
        "firstCrossingLabel": None if crossing is None else crossing["label"],
        "looks": rows,
        "skippedLooks": skipped,
        "nextLook": upcoming,
    }
