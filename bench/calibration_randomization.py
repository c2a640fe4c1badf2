"""Calibration of the confirmatory randomization test on simulated n-of-1 protocols: its size under AR(1) errors,
its power, and the smallest p-value each design can reach.

Why: the randomization test of the registered design is the confirmatory test of a randomized protocol
(DESIGN.md §4b). Its size is exact under the null of no effect whatever the noise, because the p-value counts
the admissible placements of the phase changes, not independent days; a simulation shows that it stays so as
the pipeline applies it, and what power the demo's designs buy at 0.5 and 1 sd. It also shows the design that
cannot reach alpha at all: the AB design of 44 days with phases of at least 14 days has 17 admissible
intervention dates, so its smallest p-value is 1/17 = 0.059 > 0.05 and its power is 0 at any effect (the
registration check of issue #14 refuses such a design).

What is simulated (``bench/simulation.py``): protocols of the demo's designs with phase lengths drawn uniformly
from the admissible schedules by the demo's own ``schedule`` (ABAB 32-40 days, phases of at least 5 days; AB 44
days, phases of at least 14 days). The outcome is AR(1) noise with phi in {0, 0.3, 0.6} and marginal sd 1, plus
a step of 0, 0.5 or 1.0 sd on the B days (the same noise and schedule for the three steps). The protocol
registers the two-sided alternative at alpha 0.05. Each series is analysed by ``analyse_randomization`` exactly
as the ``randomization_result`` asset calls it, with the defaults of its ``RandomizationConfig`` (statistic,
n_permutations, seed, the registered alternative).

Columns, per design x phi: ``size`` the share of null protocols with p <= 0.05; ``power 0.5 sd`` /
``power 1.0 sd`` the share with p <= 0.05 (two-sided) when the step is planted; ``min p`` the mean smallest
attainable p-value (1 / number of admissible placements); ``n`` protocols per cell.

Target: ``TARGETS``. It is missed when the one-sided exact binomial p-value of the observed count at the bound is
below 0.05; an estimate above the bound within Monte Carlo error is marked ``?`` and does not fail (the rule of
``bench/calibration.py``). The exit code is 1 when it is missed.

Sizes: ``--quick`` 1000 protocols per design x phi (about 17 s on 2 cores), the default 4000 (about 70 s); every
protocol has its own seed derived from ``--seed``, so results do not depend on the number of workers.

Run: ``.venv/bin/python bench/calibration_randomization.py --quick``
"""

from __future__ import annotations

import dataclasses
import itertools
import sys

import numpy as np
from simulation import (
    ALPHA,
    DESIGNS,
    METRIC,
    PHIS,
    SIZE_BOUND,
    SIZE_TARGETS,
    binomial_verdict,
    print_section,
    randomization_settings,
    run_replicates,
    section_main,
    simulated_protocol,
)

EFFECTS = (0.0, 0.5, 1.0)
QUICK_SERIES, FULL_SERIES = 1000, 4000
TARGETS = SIZE_TARGETS


def run(task: tuple) -> dict:
    """One simulated protocol, tested with each planted step."""
    from americano_pipeline.analysis.methods import analyse_randomization

    design, phi, entropy, settings = task
    null = simulated_protocol(design, phi, np.random.default_rng(entropy))
    is_b = (null.days["condition"] == "B").to_numpy()
    record = {"design": DESIGNS[design][0], "phi": phi}
    for effect in EFFECTS:
        data = dataclasses.replace(null, days=null.days.assign(**{METRIC: null.days[METRIC] + effect * is_b}))
        result = analyse_randomization(data, METRIC, exploratory=False, **settings).result
        record[effect] = result["pValue"]
        record["placements"] = result["nAssignments"]
    return record


def rows_of(records: list[dict]) -> list[dict]:
    rows = []
    for (design, _), phi in itertools.product(DESIGNS.values(), PHIS):
        cell = [r for r in records if r["design"] == design and r["phi"] == phi]
        rows.append({"design": design, "phi": phi, "size": float(np.mean([r[0.0] <= ALPHA for r in cell])),
                     **{f"power {effect} sd": float(np.mean([r[effect] <= ALPHA for r in cell]))
                        for effect in EFFECTS[1:]},
                     "min p": float(np.mean([1 / r["placements"] for r in cell])), "n": len(cell)})
    return rows


def check(quick: bool, seed: int, workers: int, series: int | None = None) -> list[dict]:
    """The table's rows (module doc): ``series`` per design x phi (default by ``quick``), ``workers`` processes."""
    count = series or (QUICK_SERIES if quick else FULL_SERIES)
    records = run_replicates(run, randomization_settings(), count=count, seed=seed, workers=workers)
    return rows_of(records)


def verdict(row: dict) -> str:
    return binomial_verdict(round(row["size"] * row["n"]), row["n"], SIZE_BOUND, at_least=False)


def print_rows(rows: list[dict], seconds: float, seed: int, workers: int) -> bool:
    """The section's table with its target verdicts; True when no target is missed."""
    return print_section(f"Randomization test calibration: {rows[0]['n']} protocols per design x phi, seed {seed}, "
                         f"{workers} workers, {seconds:.0f} s", rows, ("design", "phi"), verdict, TARGETS)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, check, print_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
