"""Simulated protocols of the demo's designs with known truth, and what every calibration check shares: running
the replicates in a process pool and judging a rate against its target (bench/calibration*.py).

Why one simulator: every check must analyse the same kind of protocol the pipeline sees — the demo designs'
randomized schedules (``americano_pipeline.demo.protocols.schedule``: phase lengths drawn uniformly from the
admissible schedules), a registered protocol record, and daily rows as ``fct_protocol_daily_outcomes`` holds
them — so that their tables describe one experiment.

Designs: ABAB 32-40 days (the total drawn uniformly; the demo has 32 and 40), phases of at least 5 days; AB 44
days with phases of at least 14 days. Outcome: stationary AR(1) noise with marginal sd 1 (effects are in sd
units) plus ``effect`` on every B day.

The other registered designs (``simulated_design_protocol``, docs/DESIGNS.md), each the demo's protocol as
registered: ``alt_retrieval`` ALTERNATING, 28 days (14 A, 14 B), runs of at most 2; ``mb_goal_setting``
MULTIPLE_BASELINE, 3 tiers over 50 days, Koehler-Levin over the start windows days 10-14, 20-24 and 30-34;
``cc_minutes_goal`` CHANGING_CRITERION, 44 days in a baseline and 3 criterion phases of at least 8 days. Outcome:
AR(1) noise as above (one independent series per tier of a multiple baseline) plus ``effect`` on every B day
(every tier's own B days); for the changing criterion the criteria are ``criteria_step`` x 1, 2, 3 sd above a
baseline level 0, and the outcome moves ``effect`` sd per criterion phase (``effect = criteria_step``: it sits
on its criterion; 0: noise around the baseline level, no tracking). ``ProtocolData`` is built as the marts
deliver it: ``days`` as ``fct_protocol_daily_outcomes`` (one row per day; the primary tier's for a multiple
baseline; ``criterion`` per day) and, for a multiple baseline, ``tiers`` as ``fct_protocol_tier_daily_outcomes``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import multiprocessing
import warnings
from collections.abc import Callable, Iterable
from datetime import date

import numpy as np
import pandas as pd

PHIS = (0.0, 0.3, 0.6)
DESIGNS = {"abab_music_null": ("ABAB", range(32, 41)), "ab_reminder": ("AB", range(44, 45))}
REGISTERED_DESIGNS = {"alt_retrieval": "ALTERNATING", "mb_goal_setting": "MULTIPLE_BASELINE",
                      "cc_minutes_goal": "CHANGING_CRITERION"}  # demo key -> designType (simulated_design_protocol)
START = date(2024, 1, 1)
METRIC = "outcome"
ALPHA = 0.05  # a target is missed when the exact one-sided binomial p-value at the bound is below this
SIZE_BOUND = 0.06  # the randomization tests' size target (the bench's binomial rule decides "missed")
SIZE_TARGETS = (f"size <= {SIZE_BOUND} at every design and phi <= {max(PHIS)} (missed: one-sided exact binomial "
                f"p < {ALPHA}; '?': above the bound within Monte Carlo error)")


def ar1_noise(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) with marginal sd 1 (e_0 ~ N(0, 1), e_t = phi e_{t-1} + sqrt(1 - phi^2) z_t), by a filter."""
    from scipy.signal import lfilter

    scale = np.sqrt(1.0 - phi**2)
    shocks = rng.standard_normal(n)
    shocks[0] /= scale
    return lfilter([scale], [1.0, -phi], shocks)


def simulated_protocol(design_key: str, phi: float, rng: np.random.Generator, *, effect: float = 0.0,
                       alternative: str = "two-sided"):
    """A complete protocol of the demo design ``design_key`` (module doc), registered with ``alternative`` and the
    randomization test as its confirmatory analysis at alpha 0.05."""
    from americano_pipeline.analysis.protocol import Protocol, ProtocolData
    from americano_pipeline.demo.protocols import DESIGNS as DEMO_DESIGNS
    from americano_pipeline.demo.protocols import schedule

    _, totals = DESIGNS[design_key]  # the label ("AB") is the table's; both register designType ABAB, as the demo
    design = next(d for d in DEMO_DESIGNS if d.key == design_key)
    design = dataclasses.replace(design, total_days=int(rng.choice(totals)))
    planned = schedule(design, START, int(rng.integers(1, 2**31 - 1)))
    frames = [pd.DataFrame({"phase_number": number, "phase_label": phase.label, "phase_type": phase.phase_type,
                            "condition": phase.condition},
                           index=pd.date_range(phase.start, phase.end, freq="D", name="date"))
              for number, phase in enumerate(planned.phases, start=1)]
    days = pd.concat(frames)
    days[METRIC] = effect * (days["condition"] == "B").to_numpy() + ar1_noise(len(days), phi, rng)
    protocol = Protocol(
        protocol_id=f"sim-{design_key}", user_id="sim", name=design.name, design_type=design.design_type,
        primary_outcome=METRIC, hypothesis=design.hypothesis, min_phase_length=design.min_phase_length,
        sample_size_target=len(days), start_date=planned.start, end_date=planned.end,
        phase_sequence="".join(phase.condition for phase in planned.phases),
        confirmatory="phase_randomization_test", alternative=alternative, alpha=0.05,
    )
    return ProtocolData(protocol=protocol, days=days)


def _daily_rows(phases, values: np.ndarray, metric: str) -> pd.DataFrame:
    """Contiguous phases' days as ``fct_protocol_daily_outcomes`` rows: date index, phase columns, the phase's
    ``criterion`` (NaN where it has none) and ``values`` as ``metric``."""
    lengths = [phase.days for phase in phases]
    column = lambda values_: np.repeat(np.asarray(values_), lengths)  # noqa: E731
    days = pd.DataFrame({
        "phase_number": column(range(1, len(phases) + 1)), "phase_label": column([p.label for p in phases]),
        "phase_type": column([p.phase_type for p in phases]), "condition": column([p.condition for p in phases]),
        "is_washout": False, "criterion": column([float(p.params.get("criterion", np.nan)) for p in phases]),
        "protocol_day_index": np.arange(1, sum(lengths) + 1), metric: values,
    }, index=pd.date_range(phases[0].start, periods=sum(lengths), freq="D", name="date"))
    return days


def _tier_rows(planned, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """A multiple baseline's ``fct_protocol_tier_daily_outcomes`` rows: per tier (numbered by its first B day) and
    protocol day, its phase, condition, start, recorded start window and the value of its outcome."""
    dates = pd.date_range(planned.start, planned.end, freq="D")
    treated = sorted((phase for phase in planned.phases if phase.condition == "B"),
                     key=lambda phase: (phase.start, phase.tier.name))
    frames = []
    for number, phase in enumerate(treated, start=1):
        baseline = next(p for p in planned.phases if p.tier == phase.tier and p.condition == "A")
        before = (phase.start - planned.start).days
        in_b = np.arange(len(dates)) >= before
        earliest, latest = (pd.Timestamp(day) for day in phase.params["startWindow"])
        frames.append(pd.DataFrame({
            "tier": phase.tier.name, "tier_outcome": phase.tier.outcome, "tier_number": number, "date": dates,
            "protocol_day_index": np.arange(1, len(dates) + 1),
            "phase_label": np.where(in_b, phase.label, baseline.label),
            "phase_type": np.where(in_b, phase.phase_type, baseline.phase_type),
            "condition": np.where(in_b, "B", "A"), "tier_start_date": pd.Timestamp(phase.start),
            "start_window_earliest": earliest, "start_window_latest": latest,
            "outcome_value": values[phase.tier.name]}))
    return pd.concat(frames, ignore_index=True)


def simulated_design_protocol(design_key: str, phi: float, rng: np.random.Generator, *, effect: float = 0.0,
                              criteria_step: float = 1.0):
    """A complete protocol of the demo's ALTERNATING, MULTIPLE_BASELINE or CHANGING_CRITERION design
    ``design_key`` (``REGISTERED_DESIGNS``; module doc), its schedule drawn by the demo's ``schedule`` with a
    seed from ``rng``, registered as the demo registers it (direction, run limit, scheme) with the randomization
    test as its confirmatory analysis at alpha 0.05. The same ``rng`` state gives the same schedule and noise
    whatever ``effect`` and ``criteria_step``."""
    from americano_pipeline.analysis.protocol import Protocol, ProtocolData
    from americano_pipeline.demo.protocols import DESIGNS as DEMO_DESIGNS
    from americano_pipeline.demo.protocols import schedule

    design = next(d for d in DEMO_DESIGNS if d.key == design_key)
    if design.design_type == "CHANGING_CRITERION":
        design = dataclasses.replace(design, baseline_level=0.0, true_effect=effect, criteria=tuple(
            criteria_step * j for j in range(1, len(design.criteria) + 1)))
    planned = schedule(design, START, int(rng.integers(1, 2**31 - 1)))
    metric = design.primary_outcome
    tiers = None
    if design.design_type == "MULTIPLE_BASELINE":
        values = {tier.name: ar1_noise(design.total_days, phi, rng) for tier in design.tiers}  # design's order
        tiers = _tier_rows(planned, values)
        primary = next(t.name for t in design.tiers if t.outcome == metric)
        days = _daily_rows(planned.primary_phases, values[primary], metric)
    else:
        lengths = [phase.days for phase in planned.phases]
        level = np.repeat(effect * np.arange(len(lengths)), lengths) if design.design_type == "CHANGING_CRITERION" \
            else 0.0
        days = _daily_rows(planned.phases, level + ar1_noise(sum(lengths), phi, rng), metric)
    protocol = Protocol(
        protocol_id=f"sim-{design_key}", user_id="sim", name=design.name, design_type=design.design_type,
        primary_outcome=metric, hypothesis=design.hypothesis, min_phase_length=design.min_phase_length,
        sample_size_target=len(days), start_date=planned.start, end_date=planned.end,
        phase_sequence="".join(days.groupby("phase_number")["condition"].first()),
        confirmatory="phase_randomization_test", alternative=design.alternative, alpha=0.05,
        max_consecutive=design.max_consecutive, multiple_baseline_scheme=design.scheme,
    )
    data = ProtocolData(protocol=protocol, days=days, tiers=tiers)
    return data if design.design_type == "CHANGING_CRITERION" else with_b_effect(data, effect)


def with_b_effect(data, effect: float):
    """``data`` (an ALTERNATING or MULTIPLE_BASELINE protocol of ``simulated_design_protocol``) with ``effect``
    added on every B day: of the primary outcome's series and of every tier's own outcome."""
    metric = data.protocol.primary_outcome
    days = data.days.assign(**{metric: data.days[metric] + effect * (data.days["condition"] == "B")})
    tiers = None if data.tiers is None else data.tiers.assign(
        outcome_value=data.tiers["outcome_value"] + effect * (data.tiers["condition"] == "B"))
    return dataclasses.replace(data, days=days, tiers=tiers)


def run_replicates(run: Callable[[tuple], dict], settings: dict, *, count: int, seed: int,
                   workers: int, designs: Iterable[str] = tuple(DESIGNS)) -> list[dict]:
    """``run((design, phi, entropy, settings))`` for ``count`` replicates of every design (default ``DESIGNS``'
    keys) x phi, in a pool of ``workers`` spawned processes; each replicate's seed derives from ``seed`` and its
    cell, so results do not depend on scheduling."""
    tasks = [(design, phi, (seed, d, p, replicate), settings)
             for (d, design), (p, phi), replicate in itertools.product(enumerate(designs), enumerate(PHIS),
                                                                       range(count))]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return list(pool.imap_unordered(run, tasks, chunksize=16))


def binomial_verdict(hits: int, n: int, bound: float, *, at_least: bool) -> str:
    """"ok" when hits/n is on the right side of ``bound``; else "missed" when the exact one-sided binomial p-value
    of ``hits`` at the bound is below ``ALPHA`` (the simulation shows the miss), "?" when it is within Monte Carlo
    error (a calibrated method would otherwise fail by chance)."""
    from scipy import stats

    estimate = hits / n
    if (estimate >= bound) if at_least else (estimate <= bound):
        return "ok"
    tail = stats.binom.cdf(hits, n, bound) if at_least else stats.binom.sf(hits - 1, n, bound)
    return "missed" if tail < ALPHA else "?"


def arguments(description: str, quick: int, full: int, argv: list[str] | None) -> argparse.Namespace:
    """The command line every calibration check takes: --quick (``quick`` series per cell instead of ``full``),
    --series, --seed, --workers."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=f"{quick} series per cell instead of {full}")
    parser.add_argument("--series", type=int, help="series per cell (overrides --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated protocols")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    return parser.parse_args(argv)


def asset_config(name: str):
    """The defaults of the analysis asset's config class ``name`` (e.g. "ITSConfig"), so a check runs the analysis
    exactly as the asset does; Dagster's notices about beta parameters of the assets are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from americano_pipeline.assets import analysis

    return getattr(analysis, name)()


def randomization_settings() -> dict:
    """The randomization asset's defaults (its ``RandomizationConfig``), as every simulated protocol runs them."""
    defaults = asset_config("RandomizationConfig")
    return {"statistic": defaults.statistic, "alternative": defaults.alternative,
            "n_permutations": defaults.n_permutations, "seed": defaults.seed}


def print_section(heading: str, rows: list[dict], labels: tuple[str, ...], verdict: Callable[[dict], str],
                  target: str, notes: tuple[str, ...] = ()) -> bool:
    """A calibration section's table: ``labels`` columns (design, phi, ...) then every other column of the rows,
    a last column with each row's target verdict (``verdict``), ``notes`` and the ``target`` line; True when no
    target is missed."""
    print(heading)
    widths = {c: max(10, len(c) + 2) for c in rows[0] if c not in labels}
    label_widths = {c: max(len(c), *(len(f"{row[c]}") for row in rows)) + 1 for c in labels}
    print("".join(f"{c:{w}}" for c, w in label_widths.items()) + "".join(f"{c:>{w}}" for c, w in widths.items())
          + "  target")
    for row in rows:
        cells = "".join(f"{'-' if row[c] is None else format(row[c], 'd' if c == 'n' else '.3f'):>{w}}"
                        for c, w in widths.items())
        print("".join(f"{row[c]!s:{w}}" for c, w in label_widths.items()) + f"{cells}  {verdict(row)}")
    for note in notes:
        print(note)
    print(f"target: {target}")
    return not any(verdict(row) == "missed" for row in rows)


def section_main(description: str, quick: int, full: int, check: Callable, print_rows: Callable,
                 argv: list[str] | None) -> int:
    """Run one calibration section alone (its command line is ``arguments``'); exit code 1 when a target is
    missed."""
    import time

    args = arguments(description, quick, full, argv)
    started = time.perf_counter()
    rows = check(args.quick, args.seed, args.workers, args.series)
    return 0 if print_rows(rows, time.perf_counter() - started, args.seed, args.workers) else 1
