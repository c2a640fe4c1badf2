"""Calibration of the sequential monitoring on simulated n-of-1 protocols: how often a null protocol crosses a
boundary at any look, and the power, for the monitoring before issue #12 and the current one, side by side.

Why: a group-sequential plan promises that all its looks together cross under the null at most alpha of the time.
Daily outcomes are autocorrelated, and a statistic that treats days as independent, or a look tested against
the bound of an information fraction it does not have, breaks that promise. Only a simulation with known truth
shows by how much, and what the fix costs in power.

What is simulated: protocols of the demo's designs with phase lengths drawn uniformly from the admissible
schedules by the demo's own ``schedule`` (``draw_phase_lengths``):

- ABAB: 32-40 days (total drawn uniformly), phases of at least 5 days;
- AB: 44 days, phases of at least 14 days.

The outcome is AR(1) noise with phi in {0, 0.3, 0.6} and marginal SD 1, plus a step of 0 (null), 0.5 or 1.0 SD
on the B days (the same noise and schedule for the three steps). The protocol is complete (sampleSizeTarget =
its days, end date = its last day), as the demo's are. Each series is monitored two ways:

- before: the former monitoring, rebuilt here since the pipeline no longer has it: 4 equally spaced looks at
  n_k = k/4 of the sampleSizeTarget, boundaries for t = k/4, Welch z of B - A on the first n_k A/B days (a look
  with fewer than 2 days of a condition has no z);
- after: ``analyse_sequential`` exactly as the pipeline's asset calls it, with the asset's config defaults
  (spending function; alpha and direction as registered: 0.05, two-sided): looks at the phase ends, the
  randomization test at each look, boundaries at the information fractions measured at each look
  (``analysis.monitoring``).

Columns, per design x phi x monitoring: ``P(cross|null)`` the share of null protocols where any look crosses
its boundary (either side); ``power 0.5 sd`` / ``power 1.0 sd`` the share where the first crossing is on the
B > A side; ``looks`` the mean number of looks evaluated; ``n`` the protocols per cell.

Target: ``TARGETS``. It is missed when the one-sided exact binomial p-value of the observed count at the bound is
below 0.05; an estimate above the bound within Monte Carlo error is marked ``?`` and does not fail (the rule of
``bench/calibration.py``). The exit code is 1 when it is missed.

Sizes: ``--quick`` 500 protocols per design x phi (about a minute on 2 idle cores, under 2 on a busy machine),
the default 2000; every protocol has its own seed derived from ``--seed``, so results do not depend on the number
of workers.

Run: ``.venv/bin/python bench/calibration_sequential.py --quick``
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import sys

import numpy as np
from simulation import (
    ALPHA,
    DESIGNS,
    METRIC,
    PHIS,
    asset_config,
    binomial_verdict,
    print_section,
    run_replicates,
    section_main,
    simulated_protocol,
)

EFFECTS = (0.0, 0.5, 1.0)
MONITORINGS = ("before", "after")
CHECKED = "after"
FORMER_LOOKS = 4
QUICK_SERIES, FULL_SERIES = 500, 2000
SIZE_BOUND = 0.06
TARGETS = (f"P(cross|null) <= {SIZE_BOUND} for the {CHECKED!r} monitoring at every design and phi <= {max(PHIS)} "
           f"(missed: one-sided exact binomial p < {ALPHA}; '?': above the bound within Monte Carlo error)")


@functools.cache
def former_boundaries(target: int) -> tuple[tuple[int, float], ...]:
    from americano_pipeline.stats.sequential import sequential_boundaries

    plan = sequential_boundaries(max_n=target, n_interim_analyses=FORMER_LOOKS)
    return tuple((bound.n, bound.critical_value) for bound in plan.boundaries)


def before(values: np.ndarray, is_b: np.ndarray, target: int) -> tuple[int, int]:
    """The former monitoring (module doc): (sign of the first crossing z or 0, looks with a z)."""
    signs, looks = [], 0
    for n, critical in former_boundaries(target):
        a, b = values[:n][~is_b[:n]], values[:n][is_b[:n]]
        if a.size < 2 or b.size < 2:
            continue
        looks += 1
        z = (b.mean() - a.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        if abs(z) >= critical:
            signs.append(int(np.sign(z)))
    return (signs[0] if signs else 0), looks


def after(data, settings: dict) -> tuple[int, int]:
    """The pipeline's monitoring: (sign of B - A at the first crossing look or 0, looks evaluated)."""
    from americano_pipeline.analysis.methods import analyse_sequential

    position = analyse_sequential(data, METRIC, **settings).result["position"]
    first = position["firstCrossingLook"]
    return (0 if first is None else int(np.sign(position["looks"][first - 1]["z"]))), len(position["looks"])


def run(task: tuple) -> dict:
    """One simulated protocol, analysed with each planted step by both monitorings."""
    design, phi, entropy, settings = task
    null = simulated_protocol(design, phi, np.random.default_rng(entropy))
    is_b = (null.days["condition"] == "B").to_numpy()
    record = {"design": DESIGNS[design][0], "phi": phi}
    for effect in EFFECTS:
        days = null.days.assign(**{METRIC: null.days[METRIC] + effect * is_b})
        data = dataclasses.replace(null, days=days)
        record[effect] = {"before": before(days[METRIC].to_numpy(), is_b, null.protocol.sample_size_target),
                          "after": after(data, settings)}
    return record


def rows_of(records: list[dict]) -> list[dict]:
    rows = []
    for (design, _), phi, monitoring in itertools.product(DESIGNS.values(), PHIS, MONITORINGS):
        cell = [r for r in records if r["design"] == design and r["phi"] == phi]
        rows.append({"design": design, "phi": phi, "monitoring": monitoring,
                     "P(cross|null)": float(np.mean([r[0.0][monitoring][0] != 0 for r in cell])),
                     **{f"power {effect} sd": float(np.mean([r[effect][monitoring][0] > 0 for r in cell]))
                        for effect in EFFECTS[1:]},
                     "looks": float(np.mean([r[0.0][monitoring][1] for r in cell])), "n": len(cell)})
    return rows


def check(quick: bool, seed: int, workers: int, series: int | None = None) -> list[dict]:
    """The table's rows (module doc): ``series`` per design x phi (default by ``quick``), ``workers`` processes."""
    defaults = asset_config("SequentialConfig")
    settings = {"spending_function": defaults.spending_function, "alpha": defaults.alpha}
    records = run_replicates(run, settings, count=series or (QUICK_SERIES if quick else FULL_SERIES), seed=seed,
                             workers=workers)
    return rows_of(records)


def verdict(row: dict) -> str:
    """"ok", "?" or "missed" for the size target of a checked row, "" for the others."""
    if row["monitoring"] != CHECKED:
        return ""
    return binomial_verdict(round(row["P(cross|null)"] * row["n"]), row["n"], SIZE_BOUND, at_least=False)


def print_rows(rows: list[dict], seconds: float, seed: int, workers: int) -> bool:
    """The section's table with its target verdicts; True when no target is missed."""
    notes = ("before: Welch z at 4 looks equally spaced by n, t = n/maxN; after: randomization test at the phase "
             "ends, t from the accrued variance (module doc)",)
    return print_section(f"Sequential monitoring calibration: {rows[0]['n']} protocols per design x phi, seed "
                         f"{seed}, {workers} workers, {seconds:.0f} s", rows, ("design", "phi", "monitoring"),
                         verdict, TARGETS, notes)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, check, print_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
