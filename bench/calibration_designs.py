"""Calibration of the confirmatory randomization test of the alternating-treatments, multiple-baseline and
changing-criterion designs on simulated protocols: its size under AR(1) errors, its power, its smallest p-value.

Why: the randomization test of the registered design is the confirmatory test of a randomized protocol
(DESIGN.md §4b), and each of these designs has its own reference set (``analysis/methods/design_tests.py``): the
run-limited orders of an alternation, the Koehler-Levin assignments of tiers to staggered start windows, the
splits of a changing criterion's phases. The p-value is exact under the null whatever the noise only if the
pipeline tests against the set the design actually randomized over, reading the tables as the marts deliver them;
a simulation of protocols randomized by the demo's own ``schedule`` shows whether it does, at phi up to 0.6.

What is simulated (``bench/simulation.py``, ``simulated_design_protocol``): the demo's three protocols as
registered, a fresh schedule per protocol drawn by ``americano_pipeline.demo.protocols.schedule`` with a seed
derived from ``--seed``:
- ALTERNATING ``alt_retrieval``: 28 days, 14 A and 14 B in an order drawn uniformly from those with no run
  longer than 2 (registered ``maxConsecutive`` 2; 337,878 orders, so the test is Monte Carlo); one phase per
  run in ``fct_protocol_daily_outcomes``. Effect: ``effect`` sd on every B day; registered alternative greater.
- MULTIPLE_BASELINE ``mb_goal_setting``: 3 tiers over 50 days, Koehler-Levin (the tiers in random order over the
  slots days 10-14, 20-24 and 30-34, each start uniform in its slot's window; 3! x 5^3 = 750 assignments,
  exact). Each tier is its own independent AR(1) series; effect: ``effect`` sd on each tier's B days;
  registered alternative greater. ``tiers`` holds the ``fct_protocol_tier_daily_outcomes`` rows (tier, outcome,
  tier_number by start, date, condition, tier_start_date, the recorded start window, outcome_value), ``days``
  the primary tier's series.
- CHANGING_CRITERION ``cc_minutes_goal``: 44 days, a baseline and 3 criterion phases of at least 8 days, lengths
  drawn uniformly (455 splits, exact). Criteria step x 1, 2, 3 sd above a baseline level 0, with step 0.5 or 1.0
  sd; under an effect the outcome sits on each phase's criterion (power "0.5 sd": step 0.5; "1.0 sd": step 1.0).
  The null is no tracking: noise around the baseline level, tested against the criteria of a step drawn at
  random per protocol (0.5 or 1.0). The test has no direction (close tracking is extreme).
The noise is stationary AR(1) with phi in {0, 0.3, 0.6} and marginal sd 1 (effects in sd units); the null and the
planted protocols of one replicate share its schedule and noise. Each protocol is analysed by
``analyse_randomization`` exactly as the ``randomization_result`` asset calls it, with the defaults of its
``RandomizationConfig`` (statistic, the registered alternative, n_permutations as the exact limit and the Monte
Carlo draws, seed).

Columns, per design x phi: ``size`` the share of null protocols with p <= 0.05; ``power 0.5 sd`` / ``power 1.0
sd`` the share with p <= 0.05 when the effect is planted; ``min p`` the mean smallest p-value the test can return
(1 / assignments when exact, 1 / (draws + 1) when Monte Carlo; the notes give it unrounded); ``n`` protocols per
cell.

Target: ``TARGETS``, judged by the rule of ``bench/calibration.py`` (missed when the one-sided exact binomial
p-value of the observed count at the bound is below 0.05; above the bound within Monte Carlo error is ``?`` and
does not fail). The exit code is 1 when it is missed.

Sizes: ``--quick`` 500 protocols per design x phi (about 1 minute on 2 cores), the default 2000 (about 3
minutes); every protocol has its own seed derived from ``--seed``, so results do not depend on the number of
workers.

Run: ``.venv/bin/python bench/calibration_designs.py --quick``
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from simulation import (
    ALPHA,
    PHIS,
    REGISTERED_DESIGNS,
    SIZE_BOUND,
    SIZE_TARGETS,
    binomial_verdict,
    print_section,
    randomization_settings,
    run_replicates,
    section_main,
    simulated_design_protocol,
    with_b_effect,
)

EFFECTS = (0.0, 0.5, 1.0)
NULL_CRITERIA_STEPS = (0.5, 1.0)  # the changing criterion's null is tested against the criteria of one of these
QUICK_SERIES, FULL_SERIES = 500, 2000
TARGETS = SIZE_TARGETS


def run(task: tuple) -> dict:
    """One replicate: its schedule and noise, tested null and with each planted effect."""
    from americano_pipeline.analysis.methods import analyse_randomization

    design, phi, entropy, settings = task
    record = {"design": REGISTERED_DESIGNS[design], "phi": phi}
    null_step = NULL_CRITERIA_STEPS[np.random.default_rng([*entropy, 1]).integers(len(NULL_CRITERIA_STEPS))]
    null = simulated_design_protocol(design, phi, np.random.default_rng(entropy), criteria_step=null_step)
    for effect in EFFECTS:
        if not effect:
            data = null
        elif record["design"] == "CHANGING_CRITERION":  # the criteria move with the step: a protocol of its own
            data = simulated_design_protocol(design, phi, np.random.default_rng(entropy), effect=effect,
                                             criteria_step=effect)
        else:
            data = with_b_effect(null, effect)
        result = analyse_randomization(data, data.protocol.primary_outcome, exploratory=False, **settings).result
        record[effect] = result["pValue"]
        record["assignments"] = result["nAssignments"]
        record["floor"] = 1 / (result["nAssignments"] if result["exact"] else settings["n_permutations"] + 1)
    return record


def rows_of(records: list[dict]) -> list[dict]:
    rows = []
    for design, phi in itertools.product(REGISTERED_DESIGNS.values(), PHIS):
        cell = [r for r in records if r["design"] == design and r["phi"] == phi]
        rows.append({"design": design, "phi": phi, "size": float(np.mean([r[0.0] <= ALPHA for r in cell])),
                     **{f"power {effect} sd": float(np.mean([r[effect] <= ALPHA for r in cell]))
                        for effect in EFFECTS[1:]},
                     "min p": float(np.mean([r["floor"] for r in cell])), "n": len(cell),
                     "assignments": sorted({r["assignments"] for r in cell})})
    return rows


def check(quick: bool, seed: int, workers: int, series: int | None = None) -> list[dict]:
    """The table's rows (module doc): ``series`` per design x phi (default by ``quick``), ``workers`` processes."""
    count = series or (QUICK_SERIES if quick else FULL_SERIES)
    records = run_replicates(run, randomization_settings(), count=count, seed=seed, workers=workers,
                             designs=REGISTERED_DESIGNS)
    return rows_of(records)


def verdict(row: dict) -> str:
    return binomial_verdict(round(row["size"] * row["n"]), row["n"], SIZE_BOUND, at_least=False)


def print_rows(rows: list[dict], seconds: float, seed: int, workers: int) -> bool:
    """The section's table with its target verdicts; True when no target is missed."""
    floors = {}
    for row in rows:
        floors.setdefault(row["design"], (row["assignments"], row["min p"]))
    notes = tuple(f"{design}: {', '.join(f'{n:,}' for n in assignments)} assignments, smallest p {floor:.3g}"
                  for design, (assignments, floor) in floors.items())
    shown = [{key: value for key, value in row.items() if key != "assignments"} for row in rows]
    return print_section(f"Randomization test calibration, alternating / multiple baseline / changing criterion: "
                         f"{rows[0]['n']} protocols per design x phi, seed {seed}, {workers} workers, {seconds:.0f} s",
                         shown, ("design", "phi"), verdict, TARGETS, notes)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, check, print_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
