"""Calibration of the change-point analysis on simulated n-of-1 protocols: false changes, power, and how often
"planned change matched" happens by chance, for the noise scale before issue #12 and the current one, side by side.

Why: a change point on pure noise reads as "the protocol changed something"; under autocorrelated daily noise
the former scale (MAD of differences) found one in most null series. Only a simulation with known truth shows
how often, and what the fix costs in power.

What is simulated: protocols of the demo's designs (``americano_pipeline.demo.protocols.DESIGNS``) with phase
lengths drawn uniformly from the admissible schedules by the demo's own ``schedule`` (``draw_phase_lengths``):

- ABAB: 32-40 days (total drawn uniformly), phases of at least 5 days;
- AB: 44 days, phases of at least 14 days.

The outcome is AR(1) noise with phi in {0, 0.3, 0.6} and marginal SD 1. Each series is analysed by
``analyse_change_points`` exactly as the pipeline's asset calls it, with the defaults of its
``ChangePointsConfig`` (algorithm pelt, min_segment_length None = the registered minimum phase length, default
penalty, tolerance 3 days), once per noise scale: ``mad_diff`` (before) and ``ar1`` (after). ``n_bootstrap`` is
1, not the config's 200: the bootstrap only scores the confidence of changes already found, it never adds or
removes one. The protocol record is a stand-in holding
the fields the change-point analysis reads (minimum phase length, title fields): the rest of the registration
does not affect it.

Columns, per design x phi x noise scale (the same simulated series for both scales):

- false change: share of null series (no effect) with at least one detected change;
- power 1.0 sd / 2.0 sd: the same noise plus a step of 1 or 2 marginal SD at the middle day (index n // 2);
  share with a detected change within 3 days of it;
- B +2 sd matched: the same noise plus 2 marginal SD on every day of the B phases (the design's own effect:
  three changes in ABAB, one in AB); mean share of the planned changes matched within 3 days;
- matched (null): share of null series where at least one planned phase change is "matched" (a detection
  within 3 days). The schedule is randomized and the data carry no effect, so every match is chance;
- P<=0.05 (null): share of null series whose ``matchedByChanceProbability`` is <= 0.05, which a valid chance
  probability keeps near or below 0.05;
- phi used: mean AR(1) coefficient behind the penalty (``ar1`` only).

Target: ``TARGETS``. It is missed when the one-sided exact binomial p-value of the observed count at the bound
is below 0.05; an estimate above the bound within Monte Carlo error is marked ``?`` and does not fail (the same
rule as ``bench/calibration.py``). The exit code is 1 when it is missed.

Sizes: ``--quick`` 300 series per design x phi (30-50 s on 2 cores), the default 1000 (about 2 min); every
series has its own seed derived from ``--seed``, so results do not depend on the number of workers.

Run: ``.venv/bin/python bench/calibration_change_points.py --quick``
"""

from __future__ import annotations

import dataclasses
import itertools
import sys

import numpy as np
import pandas as pd
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

STEPS = (1.0, 2.0)
B_EFFECT = 2.0
NOISES = ("mad_diff", "ar1")  # before issue #12, current default
CHECKED_NOISE = "ar1"
QUICK_SERIES, FULL_SERIES = 300, 1000
FALSE_CHANGE_BOUND = 0.10
CHANCE_LEVEL = 0.05
TARGETS = (f"false change <= {FALSE_CHANGE_BOUND} for noise {CHECKED_NOISE} at every design and phi "
           f"(missed: one-sided exact binomial p < {ALPHA}; '?': above the bound within Monte Carlo error)")


def analysed(data, settings: dict, noise: str) -> dict:
    from americano_pipeline.analysis.methods import analyse_change_points

    return analyse_change_points(data, METRIC, **settings, noise=noise).result


def run(task: tuple) -> dict:
    """One simulated null protocol, analysed as it is, with each planted step and with the B-phase effect, under
    each noise scale."""
    design, phi, entropy, settings = task
    tolerance = settings["tolerance_days"]
    null = simulated_protocol(design, phi, np.random.default_rng(entropy))
    middle = len(null.days) // 2
    effect = null.days.copy()
    effect[METRIC] += B_EFFECT * (effect["condition"] == "B")
    record = {"design": DESIGNS[design][0], "phi": phi}
    for noise in NOISES:
        found = analysed(null, settings, noise)
        comparison = found["comparison"]
        record[noise] = {"false": bool(found["changePoints"]), "matched": comparison["matchedPlanned"] > 0,
                         "chance": comparison["matchedByChanceProbability"] <= CHANCE_LEVEL,
                         "phi": found["noise"]["phi"]}
        for step in STEPS:
            days = null.days.copy()
            days.iloc[middle:, days.columns.get_loc(METRIC)] += step
            changes = analysed(dataclasses.replace(null, days=days), settings, noise)["changePoints"]
            record[noise][step] = any(abs((pd.Timestamp(c["date"]) - days.index[middle]).days) <= tolerance
                                      for c in changes)
        planned = analysed(dataclasses.replace(null, days=effect), settings, noise)["comparison"]["planned"]
        record[noise]["effect"] = float(np.mean([row["matched"] for row in planned]))
    return record


def rows_of(records: list[dict]) -> list[dict]:
    rows = []
    for (design, _), phi, noise in itertools.product(DESIGNS.values(), PHIS, NOISES):
        cell = [r[noise] for r in records if r["design"] == design and r["phi"] == phi]
        share = {key: float(np.mean([r[key] for r in cell]))
                 for key in ("false", "matched", "chance", "effect", *STEPS)}
        phis = [r["phi"] for r in cell if r["phi"] is not None]
        rows.append({"design": design, "phi": phi, "noise": noise, "false change": share["false"],
                     **{f"power {step} sd": share[step] for step in STEPS},
                     f"B +{B_EFFECT} sd matched": share["effect"],
                     "matched (null)": share["matched"], f"P<={CHANCE_LEVEL} (null)": share["chance"],
                     "phi used": float(np.mean(phis)) if phis else None, "n": len(cell)})
    return rows


def check(quick: bool, seed: int, workers: int, series: int | None = None) -> list[dict]:
    """The table's rows (module doc): ``series`` per design x phi (default by ``quick``), ``workers`` processes."""
    defaults = asset_config("ChangePointsConfig")
    settings = {"algorithm": defaults.algorithm, "min_segment_length": defaults.min_segment_length,
                "penalty": defaults.penalty, "n_bootstrap": 1, "seed": defaults.seed,
                "tolerance_days": defaults.tolerance_days}
    records = run_replicates(run, settings, count=series or (QUICK_SERIES if quick else FULL_SERIES), seed=seed,
                             workers=workers)
    return rows_of(records)


def verdict(row: dict) -> str:
    """"ok", "?" or "missed" for the false-change target of an ``ar1`` row, "" for the others."""
    if row["noise"] != CHECKED_NOISE:
        return ""
    return binomial_verdict(round(row["false change"] * row["n"]), row["n"], FALSE_CHANGE_BOUND, at_least=False)


def print_rows(rows: list[dict], seconds: float, seed: int, workers: int) -> bool:
    """The section's table with its target verdicts; True when no target is missed."""
    return print_section(f"Change-point calibration: {rows[0]['n']} series per design x phi, seed {seed}, "
                         f"{workers} workers, {seconds:.0f} s", rows, ("design", "phi", "noise"), verdict, TARGETS)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, check, print_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
