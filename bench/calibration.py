"""Calibration of the pipeline's analyses on simulated n-of-1 protocols with known truth: one table, one exit code.

Why: an interval is only useful if it covers the truth as often as it claims. Daily n-of-1 outcomes are
autocorrelated, and a model that ignores it gives intervals that are too narrow (issue #12: the ITS covered a
planted step 70-75% of the time and called 16% of null ABAB protocols significant). A single test series cannot
show that; a simulation of many protocols with known truth, analysed exactly as the pipeline analyses them, can.

What is simulated (``bench/simulation.py``, shared by every check): protocols of the demo's designs, phase
lengths drawn uniformly from the admissible schedules by the demo's own ``schedule`` (ABAB 32-40 days, phases of
at least 5 days; AB 44 days, phases of at least 14 days). The outcome is AR(1) noise with phi in {0, 0.3, 0.6}
and marginal sd 1 (so effects are in sd units) plus a step during the B phases: 0 (null), 0.5 or 1.0. No
covariates, trend or weekly pattern (the model still fits trend and day-of-week terms when the baseline is long
enough, as the pipeline does).

Checks: the ITS (``CHECKS``, a registry of checks that share this table) and five checks with tables of their
own that also run alone (``SECTIONS``): ``calibration_randomization`` (the confirmatory test's size, power and
smallest attainable p), ``calibration_designs`` (the same for the alternating-treatments, multiple-baseline and
changing-criterion designs' own tests), ``calibration_change_points`` (false changes under AR(1), power,
"matched" by chance), ``calibration_sequential`` (P(any look crosses) under the null, power) and
``calibration_context`` (the context-outcome relations per user: size of the cross-correlation and Granger tests
with both series AR(1), the Benjamini-Hochberg families' false discovery rate, power for the demo's sleep ->
performance relation); change points and sequential show the former behaviour beside the current one. One run
prints all six; the exit code is 1 when any target is missed.

- ``its``: ``americano_pipeline.analysis.methods.analyse_its`` on each protocol, i.e. ``pooled_its`` over every
  A -> B change (each with its own baseline as pre period and the phases up to the next B as withdrawal) with
  the ``its_result`` asset's config defaults for the sampler (seed, draws, tune, chains). Columns: 95% HDI
  coverage of the planted step (0.5 and 1.0 pooled), mean |posterior mean - step| (sd units), the power to
  detect the 1.0 sd step (HDI above 0; no target, it shows what the calibration costs), the null false-positive
  rate (effect HDI excludes 0), the persistence-HDI false-positive rate on null ABAB protocols (the withdrawal
  has no carry-over, truth 0), and the changes analysed / skipped for too short a baseline. Because every
  counterfactual is fitted on its pre period alone, coverage of a step and 1 - the null false-positive rate
  estimate the same number; the planted rows guard against any change that lets treatment data into the fit.

Targets (ITS): coverage >= 0.90 at every phi and >= 0.93 at phi <= 0.3; null and persistence false-positive rates
<= 0.06. A target counts as missed when the simulation shows it: the exact one-sided binomial p-value of the
observed count at the target rate is below 0.05 (e.g. coverage 0.90 is missed when P(X <= covered | n, 0.90) <
0.05). A point estimate on the wrong side of a target but within Monte Carlo error is marked ``?`` and does not
fail: with a few hundred series per row a calibrated method would otherwise fail by chance. The exit code is 1
when any target is missed.

Sizes: ``--quick`` runs 50 series per design x phi x effect cell, i.e. per row 100 planted and 50 null protocols, in
about 4 minutes on 2 idle cores (an ABAB protocol is two ITS fits); the default (full) run 160 per cell (320 planted
and 160 null per row) in about 13 minutes; the randomization, change-point and sequential sections add about 1
minute (quick) or 4 (full), the other designs' randomization tests about 1 more (quick) or 3 (full), the
context-outcome relations about 1 more (quick) or 3.5 (full). ``--series`` overrides the ITS's count. Series are
analysed in a pool of ``--workers`` processes (default 2); every series has its own seed derived from ``--seed``, so
results do not depend on scheduling.

Run: ``.venv/bin/python bench/calibration.py --quick``
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import calibration_change_points
import calibration_context
import calibration_designs
import calibration_randomization
import calibration_sequential
import numpy as np
import pandas as pd
from simulation import METRIC, PHIS, arguments, asset_config, binomial_verdict, simulated_protocol

EFFECTS = (0.0, 0.5, 1.0)
QUICK_SERIES, FULL_SERIES = 50, 160
SEVERITY = ("ok", "?", "missed")
MARKS = {"ok": "", "?": "?", "missed": "!"}


@dataclass(frozen=True)
class Rate:
    """A proportion with its count, so a target can be judged against Monte Carlo error."""

    hits: int
    n: int

    def __str__(self) -> str:
        return f"{self.hits / self.n:.3f}" if self.n else "-"


@dataclass(frozen=True)
class Target:
    """``column`` must be >= ``bound`` (``at_least``) or <= ``bound``, on rows with phi <= ``max_phi``."""

    column: str
    bound: float
    at_least: bool
    max_phi: float = 1.0

    def __str__(self) -> str:
        where = "" if self.max_phi >= max(PHIS) else f" at phi <= {self.max_phi}"
        return f"{self.column} {'>=' if self.at_least else '<='} {self.bound}{where}"

    def verdict(self, rate: Rate) -> str:
        """"ok", "?" (estimate on the wrong side, within Monte Carlo error) or "missed" (module doc)."""
        return binomial_verdict(rate.hits, rate.n, self.bound, at_least=self.at_least)


@dataclass(frozen=True)
class Row:
    check: str
    design: str
    phi: float
    values: dict  # column -> Rate | float | str


@dataclass(frozen=True)
class Check:
    """One analysis to calibrate: its work units, what one unit gives, how units become rows, its targets."""

    name: str
    tasks: Callable[[int, int, dict], list[tuple]]  # (series per cell, seed, sampler settings) -> tasks
    run: Callable[[tuple], dict]  # one task, in a worker process -> a record
    rows: Callable[[list[dict]], list[Row]]
    targets: tuple[Target, ...]


# --- the ITS check -----------------------------------------------------------------------------------------------

ITS_DESIGNS = {"abab_music_null": "ABAB", "ab_reminder": "AB"}


def its_tasks(series: int, seed: int, settings: dict) -> list[tuple]:
    cells = itertools.product(enumerate(ITS_DESIGNS), enumerate(PHIS), enumerate(EFFECTS), range(series))
    return [(design, phi, effect, (seed, d, p, e, replicate), settings)
            for (d, design), (p, phi), (e, effect), replicate in cells]


def its_run(task: tuple) -> dict:
    from americano_pipeline.analysis.methods import analyse_its

    design, phi, effect, entropy, settings = task
    data = simulated_protocol(design, phi, np.random.default_rng(entropy), effect=effect)
    result = analyse_its(data, METRIC, pd.DataFrame(index=data.days.index), **settings).result
    persistence = result["persistence"]
    return {"design": ITS_DESIGNS[design], "phi": phi, "effect": effect, "mean": result["causalEffect"]["mean"],
            "hdi": result["causalEffect"]["hdi95"], "persistence_hdi": persistence and persistence["hdi95"],
            "changes": len(result["changes"]), "skipped": len(result["skippedChanges"])}


def covers(interval, value: float) -> bool:
    return interval[0] <= value <= interval[1]


def its_rows(records: list[dict]) -> list[Row]:
    rows = []
    for design, phi in itertools.product(ITS_DESIGNS.values(), PHIS):
        done = [r for r in records if r["design"] == design and r["phi"] == phi]
        planted = [r for r in done if r["effect"] != 0]
        null = [r for r in done if r["effect"] == 0]
        largest = [r for r in done if r["effect"] == max(EFFECTS)]
        withdrawn = [r for r in null if r["persistence_hdi"] is not None]
        rows.append(Row("its", design, phi, {
            "coverage": Rate(sum(covers(r["hdi"], r["effect"]) for r in planted), len(planted)),
            "mean |err|": float(np.mean([abs(r["mean"] - r["effect"]) for r in planted])) if planted else "-",
            "power 1sd": Rate(sum(r["hdi"][0] > 0 for r in largest), len(largest)),
            "null FP": Rate(sum(not covers(r["hdi"], 0.0) for r in null), len(null)),
            "persist. FP": Rate(sum(not covers(r["persistence_hdi"], 0.0) for r in withdrawn), len(withdrawn))
            if design == "ABAB" else "-",
            "changes/skip": f"{sum(r['changes'] for r in done)}/{sum(r['skipped'] for r in done)}",
        }))
    return rows


CHECKS = (
    Check(
        name="its",
        tasks=its_tasks,
        run=its_run,
        rows=its_rows,
        targets=(
            Target("coverage", 0.90, at_least=True),
            Target("coverage", 0.93, at_least=True, max_phi=0.3),
            Target("null FP", 0.06, at_least=False),
            Target("persist. FP", 0.06, at_least=False),
        ),
    ),
)


# Checks with tables of their own (each module also runs alone): the randomization test (reversal designs, then
# the other registered designs), change points, sequential monitoring, the context-outcome relations.
SECTIONS = (calibration_randomization, calibration_designs, calibration_change_points, calibration_sequential,
            calibration_context)


# --- running and reporting ---------------------------------------------------------------------------------------


def quiet_worker() -> None:
    """Silence library chatter in the workers (BLAS notice, PyMC logging), so the table is the output."""
    import logging

    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)


def run_task(item: tuple[int, tuple]) -> tuple[int, dict]:
    position, task = item
    return position, CHECKS[position].run(task)


def verdicts(check: Check, row: Row) -> list[tuple[Target, str]]:
    return [(target, target.verdict(row.values[target.column])) for target in check.targets
            if row.phi <= target.max_phi and isinstance(row.values.get(target.column), Rate)
            and row.values[target.column].n]


def cell_text(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_table(sections: list[tuple[Check, list[Row]]]) -> bool:
    """The one table (every check's rows, marked ``!`` missed or ``?`` within Monte Carlo error); True if all met."""
    columns = list(dict.fromkeys(column for _, rows in sections for row in rows for column in row.values))
    widths = {column: max(len(column), 8) + 2 for column in columns}
    print(f"{'check':7}{'design':8}{'phi':>5}" + "".join(f"{column:>{widths[column]}}" for column in columns))
    met = True
    for check, rows in sections:
        for row in rows:
            flags = {}
            for target, verdict in verdicts(check, row):
                flags[target.column] = max(flags.get(target.column, "ok"), verdict, key=SEVERITY.index)
                met &= verdict != "missed"
            cells = "".join(f"{cell_text(row.values.get(c, '-')) + MARKS[flags.get(c, 'ok')]:>{widths[c]}}"
                            for c in columns)
            print(f"{row.check:7}{row.design:8}{row.phi:5.1f}{cells}")
    for check, _ in sections:
        print(f"targets ({check.name}): " + "; ".join(map(str, check.targets)))
    print("! = target missed (one-sided exact binomial p < 0.05), ? = estimate beyond the target within Monte "
          "Carlo error")
    return met


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, argv)
    defaults = asset_config("ITSConfig")
    settings = {"seed": defaults.seed, "draws": defaults.draws, "tune": defaults.tune, "chains": defaults.chains}
    series = args.series or (QUICK_SERIES if args.quick else FULL_SERIES)
    work = [(position, task) for position, check in enumerate(CHECKS)
            for task in check.tasks(series, args.seed, settings)]
    started = time.perf_counter()
    records: list[list[dict]] = [[] for _ in CHECKS]
    context = multiprocessing.get_context("spawn")  # nutpie's threads and a forked process do not mix
    with context.Pool(args.workers, initializer=quiet_worker) as pool:
        for done, (position, record) in enumerate(pool.imap_unordered(run_task, work), start=1):
            records[position].append(record)
            if done % max(1, len(work) // 10) == 0:
                print(f"{done}/{len(work)} series, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    sections = [(check, check.rows(found)) for check, found in zip(CHECKS, records)]
    print(f"Calibration on simulated protocols: {series} series per design x phi x effect, seed {args.seed}, "
          f"sampler {settings}, {args.workers} workers, {time.perf_counter() - started:.0f} s")
    met = print_table(sections)
    for section in SECTIONS:
        started = time.perf_counter()
        rows = section.check(args.quick, args.seed, args.workers)
        print()
        met &= section.print_rows(rows, time.perf_counter() - started, args.seed, args.workers)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
