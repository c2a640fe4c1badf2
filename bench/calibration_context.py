"""Calibration of the context-outcome relations on simulated users: the size of the cross-correlation lag tests and
of the Granger test when both series are AR(1), the family's false discovery rate, and the power for the demo's
planted sleep -> performance relation.

Why: two autocorrelated daily series correlate by chance far more often than 1/sqrt(n) allows, and series that
share a weekly rhythm correlate through the calendar; a relation reported per user is only worth reading if
neither happens more often than the stated 5%. Only a simulation with known truth shows it.

What is simulated: one user of ``days`` days (90: a quarter, 270: the demo's span) with four context and four
outcome columns, analysed by ``stats.context_relations.context_relations`` with the defaults the
``context_analysis/context_relations`` asset uses (``RelationSettings``: lags 0..7, AR orders up to 7, 2 Granger
context lags, weekday terms and a trend; the night/morning columns in ``same_day``). Every noise is stationary
AR(1) with phi in {0, 0.3, 0.6} and marginal SD 1:

- ``x1`` (same-day, lag 0 admissible) and ``x2`` (lags from 1): pure AR(1) contexts, related to nothing;
- ``x3``: a same-day context lower by 1 SD on Fridays and Saturdays (as the demo's sleep), related to nothing;
- ``sleep``: a same-day context with the same Friday/Saturday dip;
- ``y1``: a pure AR(1) outcome; ``y2``: an outcome lower by 1 SD at weekends (as the demo's engagement);
- ``perf``: 0.675 x sleep + AR(1) noise (the demo's 3 points per hour of sleep, sleep SD 0.9 and noise SD 4, in
  SD units); ``perf_small``: 0.3 x sleep + AR(1) noise.

Columns, per days x phi: ``CCF size`` the share of cross-correlation lags 0..7 of x1 -> y1 with p < 0.05 (the
lags of one pair pooled: under the null the prewhitened lags are nearly independent); ``Granger size`` the share
of x1 -> y1 Granger tests with p < 0.05; ``wkday G size`` / ``wkday CCF size`` the same for x3 -> y2, both
driven by the weekday and by nothing else; ``FDR Granger`` / ``FDR CCF`` the mean false discovery proportion
V / max(R, 1) of the Benjamini-Hochberg families at q < 0.05 (Granger: 16 pairs of which the two sleep -> perf
pairs are true; cross-correlations: 16 pairs x 8 lags of which the two lag-0 correlations are true);
``power G`` / ``power G small`` the share where sleep -> perf / perf_small is significant (Granger q < 0.05);
``power CCF0`` the share where the lag-0 cross-correlation of sleep -> perf has q < 0.05; ``n`` users per cell.

Targets: ``TARGETS``. A size is missed when the one-sided exact binomial p-value of the observed count at the
bound is below 0.05 (``bench/calibration.py``'s rule, '?' within Monte Carlo error); an FDR is missed when its
mean exceeds the bound by more than 1.96 standard errors.

Sizes: ``--quick`` 300 users per days x phi (about 45 s on 2 idle cores), the default 1500 (about 3.5 min); every
user has its own seed derived from ``--seed``, so results do not depend on the number of workers.

Run: ``.venv/bin/python bench/calibration_context.py --quick``
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pandas as pd
from simulation import ALPHA, PHIS, SIZE_BOUND, ar1_noise, binomial_verdict, print_section, run_replicates, section_main

SPANS = {"90 days": 90, "270 days": 270}
START = "2025-01-06"  # a Monday
EFFECT, SMALL_EFFECT = 0.675, 0.3
FDR_BOUND = 0.05
QUICK_SERIES, FULL_SERIES = 300, 1500
SIZES = ("CCF size", "Granger size", "wkday G size", "wkday CCF size")
TARGETS = (f"{', '.join(SIZES)} <= {SIZE_BOUND} (missed: one-sided exact binomial p < {ALPHA}; '?': above within "
           f"Monte Carlo error); FDR Granger, FDR CCF <= {FDR_BOUND} (missed: mean - 1.96 se above it)")


def simulated_user(days: int, phi: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The context and outcome columns of one simulated user (module doc)."""
    index = pd.date_range(START, periods=days, freq="D")
    dip = np.isin(index.dayofweek, (4, 5)).astype(float)
    weekend = (index.dayofweek >= 5).astype(float)
    sleep = ar1_noise(days, phi, rng) - dip
    context = pd.DataFrame({"x1": ar1_noise(days, phi, rng), "x2": ar1_noise(days, phi, rng),
                            "x3": ar1_noise(days, phi, rng) - dip, "sleep": sleep}, index=index)
    outcomes = pd.DataFrame({"y1": ar1_noise(days, phi, rng), "y2": ar1_noise(days, phi, rng) - weekend,
                             "perf": EFFECT * sleep + ar1_noise(days, phi, rng),
                             "perf_small": SMALL_EFFECT * sleep + ar1_noise(days, phi, rng)}, index=index)
    return context, outcomes


def false_discovery(flags: list[tuple[bool, bool]]) -> float:
    """V / max(R, 1) of (significant, true) flags."""
    found = [true for significant, true in flags if significant]
    return sum(not true for true in found) / max(len(found), 1)


def run(task: tuple) -> dict:
    """One simulated user analysed as the asset analyses one (module doc)."""
    from americano_pipeline.stats.context_relations import context_relations

    span, phi, entropy, settings = task
    context, outcomes = simulated_user(SPANS[span], phi, np.random.default_rng(entropy))
    result = context_relations(context, outcomes, same_day=("x1", "x3", "sleep"), **settings)
    planted = {("sleep", "perf"), ("sleep", "perf_small")}
    null, weekday = result.pair("x1", "y1"), result.pair("x3", "y2")
    return {
        "span": span, "phi": phi,
        "ccf": sum(c.p_value < ALPHA for c in null.ccf), "granger": null.granger.p_value < ALPHA,
        "wkday_granger": weekday.granger.p_value < ALPHA, "wkday_ccf": sum(c.p_value < ALPHA for c in weekday.ccf),
        "fdr_granger": false_discovery([(p.significant, (p.context, p.outcome) in planted) for p in result.analysed]),
        "fdr_ccf": false_discovery([(c.q_value < result.alpha, (p.context, p.outcome) in planted and c.lag == 0)
                                    for p in result.analysed for c in p.ccf]),
        "power": result.pair("sleep", "perf").significant,
        "power_small": result.pair("sleep", "perf_small").significant,
        "power_ccf0": result.pair("sleep", "perf").ccf[0].q_value < result.alpha, "lags": len(null.ccf),
    }


def rows_of(records: list[dict]) -> list[dict]:
    rows = []
    for span, phi in itertools.product(SPANS, PHIS):
        cell = [r for r in records if r["span"] == span and r["phi"] == phi]
        lags = cell[0]["lags"]
        mean = lambda key: float(np.mean([r[key] for r in cell]))  # noqa: E731
        rows.append({"days": span, "phi": phi, "CCF size": mean("ccf") / lags, "Granger size": mean("granger"),
                     "wkday G size": mean("wkday_granger"), "wkday CCF size": mean("wkday_ccf") / lags,
                     "FDR Granger": mean("fdr_granger"), "FDR CCF": mean("fdr_ccf"), "power G": mean("power"),
                     "power G small": mean("power_small"), "power CCF0": mean("power_ccf0"), "n": len(cell),
                     "_fdr_se": {key: float(np.std([r[key] for r in cell], ddof=1) / math.sqrt(len(cell)))
                                 for key in ("fdr_granger", "fdr_ccf")},
                     "_lags": lags})
    return rows


def check(quick: bool, seed: int, workers: int, series: int | None = None) -> list[dict]:
    """The table's rows (module doc): ``series`` users per days x phi (default by ``quick``), ``workers``
    processes."""
    from americano_pipeline.analysis.context_relations import RelationSettings

    settings = RelationSettings().params()
    records = run_replicates(run, settings, count=series or (QUICK_SERIES if quick else FULL_SERIES), seed=seed,
                             workers=workers, designs=tuple(SPANS))
    return rows_of(records)


def verdict(row: dict) -> str:
    """The worst verdict of the row's targets: "ok", "?" or "missed"."""
    n = row["n"]
    trials = {"CCF size": n * row["_lags"], "Granger size": n, "wkday G size": n, "wkday CCF size": n * row["_lags"]}
    found = [binomial_verdict(round(row[column] * trials[column]), trials[column], SIZE_BOUND, at_least=False)
             for column in SIZES]
    for column, key in (("FDR Granger", "fdr_granger"), ("FDR CCF", "fdr_ccf")):
        excess = row[column] - FDR_BOUND
        found.append("ok" if excess <= 0 else "missed" if excess > 1.96 * row["_fdr_se"][key] else "?")
    return max(found, key=("ok", "?", "missed").index)


def print_rows(rows: list[dict], seconds: float, seed: int, workers: int) -> bool:
    """The section's table with its target verdicts; True when no target is missed."""
    judged = {(row["days"], row["phi"]): verdict(row) for row in rows}
    shown = [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows]
    notes = (f"power G / G small: sleep -> perf at {EFFECT} / {SMALL_EFFECT} SD per SD of sleep (the demo's "
             "3 points per hour is 0.675), Granger q < 0.05; power CCF0: its lag-0 cross-correlation q < 0.05",)
    return print_section(f"Context-outcome relations calibration: {rows[0]['n']} simulated users per days x phi, "
                         f"seed {seed}, {workers} workers, {seconds:.0f} s", shown, ("days", "phi"),
                         lambda row: judged[(row["days"], row["phi"])], TARGETS, notes)


def main(argv: list[str] | None = None) -> int:
    return section_main(__doc__.splitlines()[0], QUICK_SERIES, FULL_SERIES, check, print_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
