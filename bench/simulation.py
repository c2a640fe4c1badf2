"""Simulated protocols of the demo's designs with known truth, and what every calibration check shares: running
the replicates in a process pool and judging a rate against its target (bench/calibration*.py).

Why one simulator: every check must analyse the same kind of protocol the pipeline sees — the demo designs'
randomized schedules (``americano_pipeline.demo.protocols.schedule``: phase lengths drawn uniformly from the
admissible schedules), a registered protocol record, and daily rows as ``fct_protocol_daily_outcomes`` holds
them — so that their tables describe one experiment.

Designs: ABAB 32-40 days (the total drawn uniformly; the demo has 32 and 40), phases of at least 5 days; AB 44
days with phases of at least 14 days. Outcome: stationary AR(1) noise with marginal sd 1 (effects are in sd
units) plus ``effect`` on every B day.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import multiprocessing
import warnings
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

PHIS = (0.0, 0.3, 0.6)
DESIGNS = {"abab_music_null": ("ABAB", range(32, 41)), "ab_reminder": ("AB", range(44, 45))}
START = date(2024, 1, 1)
METRIC = "outcome"
ALPHA = 0.05  # a target is missed when the exact one-sided binomial p-value at the bound is below this


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

    name, totals = DESIGNS[design_key]
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
        protocol_id=f"sim-{design_key}", user_id="sim", name=design.name, design_type=name, primary_outcome=METRIC,
        hypothesis=design.hypothesis, min_phase_length=design.min_phase_length, sample_size_target=len(days),
        start_date=planned.start, end_date=planned.end,
        phase_sequence="".join(phase.condition for phase in planned.phases),
        confirmatory="phase_randomization_test", alternative=alternative, alpha=0.05,
    )
    return ProtocolData(protocol=protocol, days=days)


def run_replicates(run: Callable[[tuple], dict], settings: dict, *, count: int, seed: int,
                   workers: int) -> list[dict]:
    """``run((design, phi, entropy, settings))`` for ``count`` replicates of every design x phi, in a pool of
    ``workers`` spawned processes; each replicate's seed derives from ``seed`` and its cell, so results do not
    depend on scheduling."""
    tasks = [(design, phi, (seed, d, p, replicate), settings)
             for (d, design), (p, phi), replicate in itertools.product(enumerate(DESIGNS), enumerate(PHIS),
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
